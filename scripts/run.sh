#!/usr/bin/env bash
# Installs what is missing, builds Tally (release preset) and starts tallyd on the
# embedded durable journal in ./data, listening on 127.0.0.1:8080 (override with
# TALLY_LISTEN / TALLY_DATA_DIR or any tallyd flag after the script's name).
# Stop it with Ctrl-C (SIGINT): it drains, syncs and writes checkpoints first.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc 2>/dev/null || echo 2)" --target tallyd tally-cli

extra=()
if [[ $(id -u) -eq 0 ]]; then
  # tallyd refuses root by default; this script is how a developer starts it on a
  # throwaway machine, so it opts in explicitly and says so.
  echo "run.sh: running as root, starting tallyd with --allow-root" >&2
  extra+=(--allow-root)
fi
exec ./build/release/app/tallyd/tallyd \
  --listen "${TALLY_LISTEN:-127.0.0.1:8080}" \
  --data-dir "${TALLY_DATA_DIR:-$PWD/data}" "${extra[@]}" "$@"
