# Compile options every Tally target gets: strict warnings as errors on our code and
# the sanitizer selected by TALLY_SANITIZE.
set(TALLY_WARNINGS -Wall -Wextra -Wpedantic -Werror)

if(TALLY_SANITIZE STREQUAL "asan")
  # Every UBSan finding is fatal, except that the `null` check is recoverable so that
  # tests/sanitizers/ubsan.supp can silence one report from CAF's own headers (a
  # suppression cannot apply to a non-recoverable check); ctest runs with
  # halt_on_error=1, so an unsuppressed `null` report still fails the test.
  set(TALLY_SANITIZER_FLAGS -fsanitize=address,undefined -fno-sanitize-recover=all
                            -fsanitize-recover=null -fno-omit-frame-pointer)
elseif(TALLY_SANITIZE STREQUAL "tsan")
  set(TALLY_SANITIZER_FLAGS -fsanitize=thread -fno-omit-frame-pointer)
elseif(NOT TALLY_SANITIZE STREQUAL "")
  message(FATAL_ERROR "TALLY_SANITIZE must be empty, asan or tsan (got '${TALLY_SANITIZE}')")
endif()

function(tally_target_defaults target)
  target_compile_options(${target} PRIVATE ${TALLY_WARNINGS} ${TALLY_SANITIZER_FLAGS})
  if(TALLY_SANITIZER_FLAGS)
    target_link_options(${target} PRIVATE ${TALLY_SANITIZER_FLAGS})
  endif()
endfunction()
