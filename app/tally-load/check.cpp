#include "app/tally-load/check.hpp"

#include <cstdio>
#include <cstdlib>

namespace tally::load::detail {

void check_failed(const char* condition, const char* file, int line) noexcept {
  // stderr directly and unbuffered: we abort next and must not lose the message.
  std::fprintf(stderr, "tally-load: check failed: %s at %s:%d\n", condition, file, line);
  std::fflush(stderr);
  std::abort();
}

}  // namespace tally::load::detail
