include(GoogleTest)

# Sanitizer runtime options for every test: fatal on the first report, leaks checked,
# suppressions only for code that is not ours (each with its reason in the file).
set(TALLY_TEST_ENVIRONMENT
  "UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:suppressions=${PROJECT_SOURCE_DIR}/tests/sanitizers/ubsan.supp"
  "ASAN_OPTIONS=detect_leaks=1:abort_on_error=1"
  "TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1")

# tally_add_test(NAME SOURCES a.cpp b.cpp [LIBRARIES ...] [LABELS ...])
# One GoogleTest binary; every TEST becomes a CTest entry.
function(tally_add_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBRARIES;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE tally GTest::gtest GTest::gtest_main ${ARG_LIBRARIES})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR} ${PROJECT_SOURCE_DIR}/tests)
  tally_target_defaults(${name})
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 120
                       PROPERTIES LABELS "${ARG_LABELS}" ENVIRONMENT "${TALLY_TEST_ENVIRONMENT}")
endfunction()
