#!/usr/bin/env bash
# Starts tallyd (durable journal in a fresh temporary directory) and the HTTP ceiling
# server on loopback, runs http_bench against both, stops both. Extra arguments go to
# http_bench (e.g. --commands 200000 --pairs 5).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=build/release
work=$(mktemp -d)
trap 'kill "${tallyd_pid:-}" "${ceiling_pid:-}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT

extra=()
if [[ $(id -u) -eq 0 ]]; then extra+=(--allow-root); fi
"$bin/app/tallyd/tallyd" --listen 127.0.0.1:0 --data-dir "$work/data" "${extra[@]}" \
  >"$work/tallyd.out" 2>"$work/tallyd.err" &
tallyd_pid=$!
"$bin/bench/http_ceiling_server" --listen 127.0.0.1:0 >"$work/ceiling.out" &
ceiling_pid=$!

port_of() {
  for _ in $(seq 1 100); do
    if grep -q "listening on" "$1" 2>/dev/null; then
      grep -m1 -o "listening on [0-9.]*:[0-9]*" "$1" | sed 's/.*://'
      return 0
    fi
    sleep 0.1
  done
  echo "no 'listening on' line in $1" >&2
  return 1
}
tallyd_port=$(port_of "$work/tallyd.out")
ceiling_port=$(port_of "$work/ceiling.out")
"$bin/bench/http_bench" --tallyd "http://127.0.0.1:$tallyd_port" \
  --ceiling "http://127.0.0.1:$ceiling_port" "$@"
