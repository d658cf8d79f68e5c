# Compile options every Tally target gets: strict warnings as errors on our code and
# the sanitizer selected by TALLY_SANITIZE.
set(TALLY_WARNINGS -Wall -Wextra -Wpedantic -Werror)

if(TALLY_SANITIZE STREQUAL "asan")
  # Every UBSan finding is fatal at once (no suppression can apply to it). CAF's one
  # report from its own headers is avoided at the source: include/tally/detail/spawn.hpp.
  set(TALLY_SANITIZER_FLAGS -fsanitize=address,undefined -fno-sanitize-recover=all
                            -fno-omit-frame-pointer)
elseif(TALLY_SANITIZE STREQUAL "tsan")
  # -Wno-tsan: g++ warns wherever std::atomic_thread_fence is inlined, because TSan does
  # not model standalone fences. Only Boost.Asio's headers use them (std_fenced_block,
  # atomic_count; its scheduler also synchronises with mutexes, which TSan sees); our
  # code has none, so the warning would only ever fail tallyd's build on Boost's code.
  set(TALLY_SANITIZER_FLAGS -fsanitize=thread -fno-omit-frame-pointer -Wno-tsan)
elseif(NOT TALLY_SANITIZE STREQUAL "")
  message(FATAL_ERROR "TALLY_SANITIZE must be empty, asan or tsan (got '${TALLY_SANITIZE}')")
endif()

function(tally_target_defaults target)
  get_target_property(target_type ${target} TYPE)
  if(target_type STREQUAL "EXECUTABLE")
    target_link_libraries(${target} PRIVATE tally_allocator)
  endif()
  target_compile_options(${target} PRIVATE ${TALLY_WARNINGS} ${TALLY_SANITIZER_FLAGS})
  if(TALLY_SANITIZER_FLAGS)
    target_link_options(${target} PRIVATE ${TALLY_SANITIZER_FLAGS})
    # Instrumented objects in a static library need the sanitizer runtime in whatever
    # links them, including a host that uses the installed package (tests/examples).
    if(target_type STREQUAL "STATIC_LIBRARY")
      target_link_options(${target} INTERFACE ${TALLY_SANITIZER_FLAGS})
    endif()
  endif()
endfunction()
