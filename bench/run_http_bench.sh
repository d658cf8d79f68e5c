#!/usr/bin/env bash
# Starts tallyd (durable journal in a fresh temporary directory) and the HTTP ceiling
# server on loopback, runs http_bench against both, stops both. Extra arguments go to
# http_bench (e.g. --commands 200000 --pairs 5). TALLYD=path measures another tallyd.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/http_servers.sh
start_http_servers
"$bin/bench/http_bench" --tallyd "http://127.0.0.1:$tallyd_port" \
  --ceiling "http://127.0.0.1:$ceiling_port" "$@"
