// Deliberate defects, one per command-line mode, that the sanitizer builds must report:
// a sanitizer build whose checks are off, or whose runtime options let a report pass,
// fails these tests (tests/sanitizers/CMakeLists.txt says what each one expects).
//
//   heap-overflow      ASan: a read one past a heap block
//   leak               LeakSanitizer: a block nobody frees
//   signed-overflow    UBSan: int overflow
//   null-reference     UBSan: a reference bound to null in our own code (the check CAF's
//                      argument-less spawn trips, see include/tally/detail/spawn.hpp)
//   data-race          TSan: two threads write one int without synchronisation
//   caf-handover       no defect. A plain (non-atomic) value written by one actor and
//                      read by another after a message between them, on a scheduler with
//                      two workers. TSan: only a CAF built with -fsanitize=thread makes
//                      the mailbox's happens-before visible; against Debian's CAF, TSan
//                      reports this hand-over as a race. ASan+UBSan: both actors are
//                      spawned through tally::detail::spawn_without_arguments(), which
//                      must keep CAF's header from binding a reference to null.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>

#include "caf/all.hpp"
#include "tally/detail/spawn.hpp"

namespace {

// Values the compiler cannot see through, so that no defect is folded away or warned
// about at compile time.
volatile int opaque_zero = 0;
volatile int opaque_int_max = 2147483647;

int heap_overflow() {
  auto* block = static_cast<char*>(std::malloc(16));
  std::memset(block, 1, 16);
  int value = block[16 + opaque_zero];
  std::free(block);
  return value;
}

// Written through a volatile pointer, so that an optimising build (clang -O1 drops a
// malloc whose result is never used) really allocates the block and then forgets it.
char* volatile leaked_block = nullptr;

int leak() {
  leaked_block = static_cast<char*>(std::malloc(64));
  std::memset(leaked_block, 1, 64);
  leaked_block = nullptr;
  return 0;
}

int signed_overflow() {
  int big = opaque_int_max;
  int sum = big + 1 + opaque_zero;
  return sum == 0 ? 1 : 0;
}

int read_through(const int& value) { return value; }

int null_reference() {
  int* pointer = opaque_zero == 0 ? nullptr : new int{0};
  int value = read_through(*pointer);  // UBSan: reference binding to null pointer
  // Only reached when the report did not stop the program.
  std::puts("null-reference: survived the report");
  return value;
}

int shared_counter = 0;

int data_race() {
  std::thread writer{[] { shared_counter = 1; }};
  shared_counter = 2;
  writer.join();
  // Read, so that the compiler keeps both writes.
  std::printf("data-race: %d\n", shared_counter);
  return 0;
}

int caf_handover() {
  caf::actor_system_config config;
  config.set("scheduler.max-threads", 2);
  caf::actor_system system{config};
  // A plain heap value (not atomic, no lock), written before each send and read after
  // each receive: CAF's mailbox is the only synchronisation between the two actors.
  auto value = std::make_shared<int>(0);
  constexpr int rounds = 2000;
  auto reader_actor = [value](caf::event_based_actor* self) {
    return caf::behavior{[self, value](int expected) {
      if (*value != expected)
        std::abort();
      *value = expected + 1;
      self->send(caf::actor_cast<caf::actor>(self->current_sender()), expected + 1);
    }};
  };
  auto reader = tally::detail::spawn_without_arguments(system, reader_actor);
  tally::detail::spawn_without_arguments(system, [value, reader](caf::event_based_actor* self) {
    *value = 1;
    self->send(reader, 1);
    return caf::behavior{[self, value, reader](int next) {
      if (*value != next)
        std::abort();
      if (next >= rounds) {
        self->send_exit(reader, caf::exit_reason::user_shutdown);
        self->quit();
        return;
      }
      *value = next + 1;
      self->send(reader, next + 1);
    }};
  });
  system.await_all_actors_done();
  std::printf("caf-handover: %d rounds\n", *value);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "heap-overflow")
    return heap_overflow();
  if (mode == "leak")
    return leak();
  if (mode == "signed-overflow")
    return signed_overflow();
  if (mode == "null-reference")
    return null_reference();
  if (mode == "data-race")
    return data_race();
  if (mode == "caf-handover")
    return caf_handover();
  std::fprintf(stderr, "usage: sanitizer_probe MODE (see the source)\n");
  return 2;
}
