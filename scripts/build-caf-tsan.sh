#!/usr/bin/env bash
# Builds libcaf_core and libcaf_io 0.17.6 with -fsanitize=thread into build/caf-tsan/prefix
# for the `tsan` preset (cmake/TallyDependencies.cmake, TALLY_CAF_ROOT).
#
# Why: Debian's libcaf_core is not instrumented, so ThreadSanitizer cannot see the
# synchronisation inside CAF (lock-free mailboxes, the scheduler's queues) and reports
# every message hand-over between actors as a race. With CAF itself instrumented, TSan
# sees the real happens-before edges and a report means something.
#
# What: the upstream tarball of the Debian source package `actor-framework`
# 0.17.6-2.1 (the one bookworm's libcaf-dev is built from), downloaded from the Debian
# archive and checked: the .dsc against the SHA-256 pinned here, the tarball against the
# .dsc. The package's debian/ tarball (its patches) is not used: the mirror this runs
# against answers 404 for it. Its only patch that reaches the headers adds
# `#include <limits>` to receive_buffer.hpp (g++ >= 11 needs it); we apply that one line
# and then require every CAF header we build with to be byte-identical to the installed
# libcaf-dev headers, so our code compiles against exactly Debian's CAF. The build
# configuration matches Debian's (its installed build_config.hpp: log level QUIET, no
# runtime checks, exceptions and memory management on) and Debian's -std=c++14.
#
# Nothing is cached outside build/caf-tsan; a complete build is reused only when its
# stamp (version + flags) matches. Takes about 4-8 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."

debian_source_version=0.17.6-2.1
upstream_version=0.17.6
dsc_name="actor-framework_${debian_source_version}.dsc"
dsc_sha256=7ccc9d9c7585dde8695132dcb48ee4935aa9c56cab382ecb9b925fe9c2de1da8
orig_name="actor-framework_${upstream_version}.orig.tar.gz"
pool_url=http://deb.debian.org/debian/pool/main/a/actor-framework

root=${TALLY_CAF_TSAN_DIR:-$PWD/build/caf-tsan}
prefix="$root/prefix"
# -O1 -g1: TSan's recommended optimisation; line tables are enough for its reports.
cxx_flags="-std=c++14 -fsanitize=thread -fno-omit-frame-pointer -O1 -g1"
stamp_text="actor-framework ${debian_source_version} | ${cxx_flags}"
jobs=$(nproc 2>/dev/null || echo 2)

if [[ -f "$prefix/.complete" && "$(cat "$prefix/.complete")" == "$stamp_text" ]]; then
  echo "build-caf-tsan: $prefix is up to date ($stamp_text)"
  exit 0
fi

# The instrumented CAF must be the CAF the rest of the build uses.
installed=$(dpkg-query -W -f='${source:Version}' libcaf-dev 2>/dev/null || true)
if [[ "$installed" != "$debian_source_version" ]]; then
  echo "build-caf-tsan: libcaf-dev is built from source version '${installed:-none}'," \
       "this script pins $debian_source_version; update the pins" >&2
  exit 1
fi

download="$root/download"
mkdir -p "$download"
fetch() { # fetch NAME: download NAME from the pool unless it is already there
  if [[ ! -s "$download/$1" ]]; then
    curl -fsSL --retry 3 --max-time 300 -o "$download/$1.part" "$pool_url/$1"
    mv "$download/$1.part" "$download/$1"
  fi
}
fetch "$dsc_name"
echo "$dsc_sha256  $download/$dsc_name" | sha256sum --check --quiet
fetch "$orig_name"
orig_sha256=$(awk -v name="$orig_name" '
  /^Checksums-Sha256:/ { in_list = 1; next }
  /^[^ ]/ { in_list = 0 }
  in_list && $3 == name { print $1 }' "$download/$dsc_name")
[[ -n "$orig_sha256" ]] || { echo "build-caf-tsan: $orig_name not listed in $dsc_name" >&2; exit 1; }
echo "$orig_sha256  $download/$orig_name" | sha256sum --check --quiet

source_dir="$root/src"
rm -rf "$source_dir" "$root/build" "$prefix"
mkdir -p "$source_dir"
tar -xzf "$download/$orig_name" -C "$source_dir" --strip-components=1
# Debian's patch for g++ >= 11 (#983959), the one that touches a header.
sed -i 's|^#include <cstring>$|&\n#include <limits>|' \
  "$source_dir/libcaf_io/caf/io/network/receive_buffer.hpp"

cmake -S "$source_dir" -B "$root/build" -G Ninja \
  -DCMAKE_BUILD_TYPE=None \
  -DCMAKE_CXX_FLAGS="$cxx_flags" \
  -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=thread" \
  -DCMAKE_INSTALL_PREFIX="$prefix" \
  -DCMAKE_INSTALL_LIBDIR=lib \
  -DCAF_LOG_LEVEL=QUIET \
  -DCAF_NO_EXAMPLES=yes -DCAF_NO_UNIT_TESTS=yes -DCAF_NO_TOOLS=yes \
  -DCAF_NO_OPENSSL=yes -DCAF_NO_PYTHON=yes -DCAF_NO_OPENCL=yes -DCAF_NO_SUMMARY=yes \
  >"$root/configure.log" || { cat "$root/configure.log" >&2; exit 1; }
cmake --build "$root/build" -j "$jobs" --target libcaf_core_shared libcaf_io_shared
cmake --install "$root/build" >"$root/install.log"

# Same headers as the installed libcaf-dev (it also ships caf/openssl, which we do not
# build), so template code compiled into our binaries is Debian's.
if ! diff -r --exclude=openssl "$prefix/include/caf" /usr/include/caf; then
  echo "build-caf-tsan: headers differ from the installed libcaf-dev" >&2
  exit 1
fi
for library in libcaf_core libcaf_io; do
  # Not `nm | grep -q`: grep's early exit would fail nm with SIGPIPE under pipefail.
  symbols=$(nm -D "$prefix/lib/$library.so")
  if [[ "$symbols" != *" U __tsan_init"* ]]; then
    echo "build-caf-tsan: $library.so is not instrumented" >&2
    exit 1
  fi
done
echo "$stamp_text" >"$prefix/.complete"
echo "build-caf-tsan: instrumented CAF in $prefix"
