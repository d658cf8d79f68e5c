# Sourced by the HTTP benchmark scripts (bench/run_http_bench.sh,
# bench/http_cpu_per_request.sh): starts tallyd (durable journal in a fresh temporary
# directory; $TALLYD overrides the binary, the arguments are extra tallyd flags) and
# the HTTP ceiling server on loopback, and stops both on exit. Sets bin, work,
# tallyd_pid, ceiling_pid, tallyd_port and ceiling_port. Run from the repository root.
bin=build/release
work=$(mktemp -d)
trap 'kill "${tallyd_pid:-}" "${ceiling_pid:-}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT

start_http_servers() {
  local extra=()
  if [[ $(id -u) -eq 0 ]]; then extra+=(--allow-root); fi
  "${TALLYD:-$bin/app/tallyd/tallyd}" --listen 127.0.0.1:0 --data-dir "$work/data" "${extra[@]}" "$@" \
    >"$work/tallyd.out" 2>"$work/tallyd.err" &
  tallyd_pid=$!
  "$bin/bench/http_ceiling_server" --listen 127.0.0.1:0 >"$work/ceiling.out" &
  ceiling_pid=$!
  tallyd_port=$(port_of "$work/tallyd.out")
  ceiling_port=$(port_of "$work/ceiling.out")
}

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
