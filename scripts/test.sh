#!/usr/bin/env bash
# Installs what is missing, builds Tally and runs the test suite in every configuration
# CI checks. Exits non-zero when anything fails. CI runs exactly this (.ci/run).
#
# Stages (docs/architecture.md, "Sanitizers and CI"); the default is every CI stage:
#   setup    scripts/setup.sh: the Debian packages (always runs first)
#   asan     asan preset (clang: ASan + UBSan + LeakSanitizer, every finding fatal):
#            build, run the whole test suite, then every libFuzzer target 60 s from the
#            same build (scripts/fuzz.sh --build-dir build/asan 60)
#   tsan     CAF instrumented for TSan (scripts/build-caf-tsan.sh), tsan preset: build
#            and run the tests that run actors, daemons and clients across threads
#   release  not in CI (2 cores, 30 minutes: the sanitizer builds are the ones that
#            find bugs): the release preset, the whole suite; run it by name
#
#   bash scripts/test.sh                # setup asan tsan
#   bash scripts/test.sh release        # only these (setup always runs first)
set -euo pipefail
cd "$(dirname "$0")/.."

all_stages=(asan tsan release)
ci_stages=(asan tsan)
if (($# == 0)); then
  selected=("${ci_stages[@]}")
else
  selected=("$@")
  for stage in "${selected[@]}"; do
    if [[ " ${all_stages[*]} setup " != *" $stage "* ]]; then
      echo "test.sh: unknown stage '$stage' (stages: setup ${all_stages[*]})" >&2
      exit 2
    fi
  done
fi

jobs=$(nproc 2>/dev/null || echo 2)

script_start=$SECONDS
elapsed() { # elapsed SINCE: "Mm SSs" since SECONDS was SINCE
  local seconds=$((SECONDS - $1))
  printf '%dm %02ds' $((seconds / 60)) $((seconds % 60))
}
stage() { # stage NAME COMMAND...: runs COMMAND as stage NAME when NAME was selected
  local name=$1 start=$SECONDS
  shift
  if [[ " ${selected[*]} " != *" $name "* && $name != setup ]]; then
    return 0
  fi
  echo "=== test.sh: stage $name"
  "$@"
  echo "=== test.sh: stage $name passed in $(elapsed "$start") (total $(elapsed "$script_start"))"
}

setup() { bash scripts/setup.sh; }

# Per-test timeouts are generous multiples of the slowest test in each configuration
# (tests that need longer say so with their own TIMEOUT property).
release() {
  cmake --preset release
  cmake --build --preset release -j "$jobs"
  ctest --preset release -j "$jobs" --timeout 300
}

# ctest in a sanitizer build: every test process gets the sanitizer options (the
# generated sanitizer-environment.sh), and any report a process wrote, even one whose
# exit status no test looks at, fails the stage after it is printed.
sanitized_ctest() { # sanitized_ctest PRESET CTEST_ARGS...
  local preset=$1 status=0
  shift
  # shellcheck source=/dev/null
  source "build/$preset/sanitizer-environment.sh"
  rm -rf "$TALLY_SANITIZER_REPORT_DIR"
  mkdir -p "$TALLY_SANITIZER_REPORT_DIR"
  ctest --preset "$preset" -j "$jobs" "$@" || status=$?
  local reports
  reports=$(find "$TALLY_SANITIZER_REPORT_DIR" -type f | sort)
  if [[ -n "$reports" ]]; then
    for report in $reports; do
      echo "--- sanitizer report $report"
      cat "$report"
    done
    echo "test.sh: $(wc -l <<<"$reports") sanitizer report(s) in $TALLY_SANITIZER_REPORT_DIR" >&2
    return 1
  fi
  return "$status"
}

asan() {
  cmake --preset asan
  cmake --build --preset asan -j "$jobs"
  sanitized_ctest asan --timeout 600
  bash scripts/fuzz.sh --build-dir build/asan 60
}

# The tsan presets build and run only the tests labelled `threads` (CMakePresets.json,
# cmake/TallyTesting.cmake).
tsan() {
  bash scripts/build-caf-tsan.sh
  cmake --preset tsan
  cmake --build --preset tsan -j "$jobs"
  sanitized_ctest tsan --timeout 600
}

stage setup setup
stage asan asan
stage tsan tsan
stage release release
echo "=== test.sh: all stages passed in $(elapsed "$script_start")"
