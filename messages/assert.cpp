#include "tally/assert.hpp"

#include <cstdio>
#include <cstdlib>

namespace tally::detail {

void assertion_failed(const char* condition, const char* file, int line,
                      const char* message) noexcept {
  // stderr directly: the logger may be the thing that is broken, and we abort next.
  std::fprintf(stderr, "tally: assertion failed: %s at %s:%d%s%s\n", condition, file, line,
               message != nullptr ? ": " : "", message != nullptr ? message : "");
  std::fflush(stderr);
  std::abort();
}

}  // namespace tally::detail
