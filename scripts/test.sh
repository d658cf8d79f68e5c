#!/usr/bin/env bash
# Installs what is missing, builds Tally (release preset) and runs the whole test
# suite with CTest. Exits non-zero when anything fails. CI runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
jobs=$(nproc 2>/dev/null || echo 2)
cmake --preset release
cmake --build --preset release -j "$jobs"
ctest --preset release -j "$jobs" --timeout 900
