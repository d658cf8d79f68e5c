#!/usr/bin/env bash
# tallyd's CPU time and context switches per HTTP request, over one http_bench pair:
# steadier than the throughput ratio on a shared 2-core VM, where the ceiling itself
# moves by ±20 % from one minute to the next. Starts tallyd (durable journal in a fresh
# temporary directory) and the ceiling server, reads /proc/PID/stat (utime + stime) and
# every thread's context switches before and after, prints both per request, and
# tallyd's peak resident memory (VmHWM).
#
# usage: bench/http_cpu_per_request.sh [--commands T] [-- TALLYD_FLAGS...]
#   TALLYD=path/to/tallyd to measure another binary (default: build/release's).
set -euo pipefail
cd "$(dirname "$0")/.."
commands=60000
if [[ ${1:-} == --commands ]]; then commands=$2; shift 2; fi
if [[ ${1:-} == -- ]]; then shift; fi
source bench/http_servers.sh
start_http_servers "$@"
cpu_ticks() { awk '{print $14 + $15}' "/proc/$tallyd_pid/stat"; }
switches() { cat /proc/"$tallyd_pid"/task/*/status | awk '/ctxt_switches/ {s += $2} END {print s}'; }
ticks_before=$(cpu_ticks); switches_before=$(switches)
result=$("$bin/bench/http_bench" --tallyd "http://127.0.0.1:$tallyd_port" \
  --ceiling "http://127.0.0.1:$ceiling_port" --commands "$commands" --pairs 1 | grep '^median')
ticks_after=$(cpu_ticks); switches_after=$(switches)
peak_kib=$(awk '/^VmHWM:/ {print $2}' "/proc/$tallyd_pid/status")
# http_bench opens its 10,000 accounts over HTTP first: every one is a request too.
requests=$((commands + 10000))
awk -v t=$((ticks_after - ticks_before)) -v hz="$(getconf CLK_TCK)" -v s=$((switches_after - switches_before)) \
    -v n="$requests" -v r="$result" -v peak="$peak_kib" \
  'BEGIN { printf "tallyd: %.1f us CPU and %.2f context switches per request (%d requests), peak RSS %.1f MiB; %s\n", t * 1e6 / hz / n, s / n, n, peak / 1024, r }'
