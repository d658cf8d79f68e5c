#!/usr/bin/env bash
# Installs every Debian bookworm package Tally needs to build, test and run.
# Idempotent: packages already present are left alone. Run as root (or via sudo).
set -euo pipefail

# Pinned by name; each one is explained in docs/architecture.md ("Dependencies").
packages=(
  build-essential    # g++ 12, make
  cmake              # build system (3.25 on bookworm)
  ninja-build        # fast parallel builds used by CMakePresets.json
  libcaf-dev         # CAF 0.17.6, the actor framework
  libspdlog-dev      # structured logging
  libgtest-dev       # GoogleTest
  libboost-dev       # Boost.Beast/Asio for the HTTP daemon (header-only parts)
  nlohmann-json3-dev # JSON bodies, reports and config
  curl               # README examples and integration smoke checks
  libcli11-dev       # CLI11 (header-only): flag parsing of tallyd and the tally CLI
  libjemalloc-dev    # jemalloc: the allocator our executables link (not the library)
  util-linux         # prlimit: tallyd_failure runs tallyd under a file-size limit (Essential
                     # on Debian, so normally present; named so the dependency is explicit)
  # Sanitizer builds (scripts/test.sh stages asan and tsan). g++ 12 already pulls these
  # in; named so that the dependency is explicit.
  libasan8           # AddressSanitizer + LeakSanitizer runtime (asan preset)
  libubsan1          # UndefinedBehaviorSanitizer runtime (asan preset)
  libtsan2           # ThreadSanitizer runtime (tsan preset)
  # scripts/build-caf-tsan.sh downloads Debian's CAF source with curl (above) and
  # builds it with cmake, ninja-build and g++ (above); nothing else.
  # libFuzzer (scripts/fuzz.sh, tests/fuzz/). clang-14 only recommends its runtimes,
  # and this script installs without recommends, so they are named.
  clang-14           # the fuzz build's compiler: libFuzzer comes with clang only
  libclang-rt-14-dev # libFuzzer, ASan, UBSan and LSan runtimes for clang
  llvm-14            # llvm-symbolizer: file and line in fuzz crash reports
)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "setup: all ${#packages[@]} packages already installed"
  exit 0
fi

echo "setup: installing ${missing[*]}"
sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
