# Finds the Debian packages Tally builds against (see scripts/setup.sh).
find_package(Threads REQUIRED)

# Debian's libcaf-dev ships no CMake config, FindCAF or .pc file: locate it by hand
# and expose the target names CAF >= 0.18 exports, so later upgrades keep working.
#
# TALLY_CAF_ROOT (set by the tsan preset) names a prefix with a CAF built from the same
# Debian source but instrumented for ThreadSanitizer (scripts/build-caf-tsan.sh). It is
# used alone, never with the system CAF as a fallback: a TSan build against the
# uninstrumented library reports CAF's own synchronisation as races.
set(TALLY_CAF_ROOT "" CACHE PATH "Prefix of a CAF to use instead of the system one")
if(TALLY_CAF_ROOT)
  set(CAF_INCLUDE_DIR "${TALLY_CAF_ROOT}/include")
  set(CAF_CORE_LIBRARY "${TALLY_CAF_ROOT}/lib/libcaf_core.so")
  set(CAF_IO_LIBRARY "${TALLY_CAF_ROOT}/lib/libcaf_io.so")
  if(NOT EXISTS "${CAF_INCLUDE_DIR}/caf/all.hpp" OR NOT EXISTS "${CAF_CORE_LIBRARY}"
     OR NOT EXISTS "${CAF_IO_LIBRARY}")
    message(FATAL_ERROR "No CAF in TALLY_CAF_ROOT=${TALLY_CAF_ROOT}: "
                        "run scripts/build-caf-tsan.sh first")
  endif()
else()
  find_path(CAF_INCLUDE_DIR NAMES caf/all.hpp caf/detail/build_config.hpp)
  find_library(CAF_CORE_LIBRARY NAMES caf_core)
  find_library(CAF_IO_LIBRARY NAMES caf_io)
endif()
if(NOT CAF_INCLUDE_DIR OR NOT CAF_CORE_LIBRARY OR NOT CAF_IO_LIBRARY)
  message(FATAL_ERROR "CAF not found: run scripts/setup.sh (apt-get install libcaf-dev)")
endif()
if(NOT TARGET CAF::core)
  add_library(CAF::core SHARED IMPORTED)
  set_target_properties(CAF::core PROPERTIES
    IMPORTED_LOCATION "${CAF_CORE_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${CAF_INCLUDE_DIR}"
    INTERFACE_LINK_LIBRARIES Threads::Threads)
  add_library(CAF::io SHARED IMPORTED)
  set_target_properties(CAF::io PROPERTIES
    IMPORTED_LOCATION "${CAF_IO_LIBRARY}"
    INTERFACE_LINK_LIBRARIES CAF::core)
endif()

# jemalloc (Debian: libjemalloc-dev) is the allocator of our executables, not of the
# library: a host program that embeds Tally keeps whichever allocator it chose. glibc's
# malloc made every message that one thread allocates and another frees contend for an
# arena lock, and trimmed and regrew its heaps under load (docs/benchmarks.md,
# "Allocator"). Sanitizer builds keep glibc's: ASan and TSan replace malloc themselves.
option(TALLY_JEMALLOC "Link Tally's executables with jemalloc (ignored in sanitizer builds)" ON)
add_library(tally_allocator INTERFACE)
if(TALLY_JEMALLOC AND TALLY_SANITIZE STREQUAL "")
  find_library(JEMALLOC_LIBRARY NAMES jemalloc)
  if(NOT JEMALLOC_LIBRARY)
    message(FATAL_ERROR "jemalloc not found: run scripts/setup.sh (apt-get install "
                        "libjemalloc-dev), or configure with -DTALLY_JEMALLOC=OFF")
  endif()
  target_link_libraries(tally_allocator INTERFACE "${JEMALLOC_LIBRARY}")
endif()

find_package(spdlog REQUIRED)
find_package(nlohmann_json 3.10 REQUIRED)
find_package(Boost 1.74 REQUIRED)
if(TALLY_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
