#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz with clang and runs each one for
# SECONDS_PER_TARGET seconds (default 60) under ASan + UBSan + LeakSanitizer, on a
# temporary copy of its seed corpus (so the repository's corpus never grows) plus its
# saved crash inputs. Up to one target per core runs at a time (each target is one
# process on one core). Exits non-zero when any target crashed, leaked or timed out,
# naming the target, the input that failed and the command that reproduces it.
#
#   bash scripts/fuzz.sh [SECONDS_PER_TARGET]
#       configures build/fuzz (clang, -DTALLY_FUZZ=ON, no tests) and builds the targets
#   bash scripts/fuzz.sh --build-dir build/asan [SECONDS_PER_TARGET]
#       uses a build that is already configured with -DTALLY_FUZZ=ON (scripts/test.sh's
#       asan stage: its whole test suite and the fuzzers come from one clang build)
#
# Needs clang-14, libclang-rt-14-dev and llvm-14 (scripts/setup.sh installs them).
# tests/fuzz/README.md explains the targets and what to do with a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

usage="usage: scripts/fuzz.sh [--build-dir DIR] [SECONDS_PER_TARGET] (a positive integer, default 60)"
build=build/fuzz
configure=yes
if [[ ${1:-} == --build-dir ]]; then
  if [[ -z ${2:-} ]]; then
    echo "$usage" >&2
    exit 2
  fi
  build=$2
  configure=no
  shift 2
fi
seconds=${1:-60}
if [[ ! $seconds =~ ^[1-9][0-9]*$ ]] || (($# > 1)); then
  echo "$usage" >&2
  exit 2
fi

targets=(json_command record_codec segment_scanner http_request)
jobs=${TALLY_BUILD_JOBS:-$(nproc 2>/dev/null || echo 2)}
compiler=${TALLY_FUZZ_CXX:-clang++-14}
per_input_timeout_s=5

# -- build: only the fuzz targets ------------------------------------------------------
if [[ $configure == yes ]]; then
  if ! command -v "$compiler" >/dev/null; then
    echo "fuzz.sh: $compiler not found; run scripts/setup.sh (clang-14, libclang-rt-14-dev)" >&2
    exit 1
  fi
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_COMPILER="$compiler" -DTALLY_FUZZ=ON -DTALLY_BUILD_TESTS=OFF \
    -DTALLY_BUILD_BENCH=OFF >/dev/null
elif ! grep -qx 'TALLY_FUZZ:BOOL=ON' "$build/CMakeCache.txt" 2>/dev/null; then
  echo "fuzz.sh: $build is not a build configured with -DTALLY_FUZZ=ON" >&2
  exit 2
fi
cmake --build "$build" -j "$jobs" --target "${targets[@]/#/fuzz_}"

# -- run ------------------------------------------------------------------------------
# Symbolized stacks need llvm-symbolizer (llvm-14); UBSan findings are fatal, with the
# suppressions every sanitizer run of the project uses (each one has its reason).
symbolizer=/usr/lib/llvm-14/bin/llvm-symbolizer
sanitizer_environment=(
  "ASAN_OPTIONS=detect_leaks=1"
  "UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:suppressions=$root/tests/sanitizers/ubsan.supp"
)
if [[ -x $symbolizer ]]; then
  sanitizer_environment+=("ASAN_SYMBOLIZER_PATH=$symbolizer")
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/tally-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT

count_files() { find "$1" -maxdepth 1 -type f | wc -l; }

# fuzz_one TARGET: runs one target for $seconds into its log; its exit status goes to
# $work/status/TARGET. Runs in the background, up to $jobs at a time.
fuzz_one() {
  local target=$1
  local binary="$root/$build/tests/fuzz/fuzz_$target"
  local corpus="$work/corpus/$target"
  local regressions="$root/tests/fuzz/regressions/$target"
  # Artifacts outlive the temporary directory, so the reproduce command keeps working.
  local artifacts="$root/$build/artifacts/$target"
  local log="$root/$build/artifacts/$target.log"
  # libFuzzer adds new inputs to the first directory only; the others are read.
  local inputs=("$corpus")
  [[ -d $regressions ]] && inputs+=("$regressions")
  local status=0
  env "${sanitizer_environment[@]}" "$binary" \
    -max_total_time="$seconds" -timeout="$per_input_timeout_s" -detect_leaks=1 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$artifacts/" \
    "${inputs[@]}" >"$log" 2>&1 || status=$?
  echo "$status" >"$work/status/$target"
}

mkdir -p "$work/status"
running=0
for target in "${targets[@]}"; do
  corpus="$work/corpus/$target"
  regressions="$root/tests/fuzz/regressions/$target"
  mkdir -p "$corpus" "$root/$build/artifacts/$target"
  cp "$root/tests/fuzz/corpus/$target/"* "$corpus/"
  saved=0
  [[ -d $regressions ]] && saved=$(count_files "$regressions")
  if ((running >= jobs)); then
    wait -n || true
    running=$((running - 1))
  fi
  echo "=== fuzz.sh: $target for ${seconds}s (seeds: $(count_files "$corpus"), saved crash inputs: $saved)"
  fuzz_one "$target" &
  running=$((running + 1))
done
wait

failed=()
for target in "${targets[@]}"; do
  log="$root/$build/artifacts/$target.log"
  status=$(cat "$work/status/$target" 2>/dev/null || echo "no status")
  # libFuzzer's last status line: "#RUNS DONE cov: C ft: F corp: N/SIZE ... exec/s: E".
  final=$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)
  runs=$(grep -oE '^stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' || echo '?')
  rate=$(grep -oE '^stat::average_exec_per_sec: *[0-9]+' "$log" | grep -oE '[0-9]+$' || echo '?')
  echo "--- fuzz.sh: $target: runs: $runs, exec/s: $rate, corpus now $(count_files "$work/corpus/$target") inputs"
  echo "    last status: ${final:-none}"

  if [[ $status != 0 ]]; then
    artifact=$(grep -oE 'Test unit written to .*' "$log" | tail -n 1 | sed 's/^Test unit written to //' || true)
    echo "--- fuzz.sh: $target FAILED (exit $status); the end of its log ($log):" >&2
    tail -n 60 "$log" >&2
    echo "--- fuzz.sh: $target failed" >&2
    echo "    input:     ${artifact:-none written (see the log)}" >&2
    if [[ -n $artifact ]]; then
      echo "    reproduce: $(printf '%q ' env "${sanitizer_environment[@]}") $build/tests/fuzz/fuzz_$target $artifact" >&2
      echo "    then keep it: cp $artifact tests/fuzz/regressions/$target/<what-it-breaks>, add it to" >&2
      echo "    regression_cases in tests/fuzz/fuzz_regression_test.cpp, fix the bug (README.md)" >&2
    fi
    failed+=("$target")
  fi
done

if ((${#failed[@]} > 0)); then
  echo "fuzz.sh: ${#failed[@]} target(s) failed: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz.sh: all ${#targets[@]} targets ran ${seconds}s each without a crash, leak or timeout"
