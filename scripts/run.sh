#!/usr/bin/env bash
# Installs what is missing, builds Tally (release preset) and runs the embedded demo:
# it opens accounts, runs commands and prints balances from the read model.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc 2>/dev/null || echo 2)" --target tally-demo
exec ./build/release/app/tally-demo/tally-demo
