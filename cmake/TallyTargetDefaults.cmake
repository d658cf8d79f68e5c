# Compile options every Tally target gets: strict warnings as errors on our code and
# the sanitizer selected by TALLY_SANITIZE.
set(TALLY_WARNINGS -Wall -Wextra -Wpedantic -Werror)

if(TALLY_SANITIZE STREQUAL "asan")
  set(TALLY_SANITIZER_FLAGS -fsanitize=address,undefined -fno-sanitize-recover=all
                            -fno-omit-frame-pointer)
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
