// Invariant checks for tally-load that stay on in release builds. The harness core
// does not link the runtime library, so it carries its own copy of the idea behind
// TALLY_ASSERT: a broken invariant stops with file, line and condition.
#pragma once

namespace tally::load::detail {
[[noreturn]] void check_failed(const char* condition, const char* file, int line) noexcept;
}  // namespace tally::load::detail

#define TALLY_LOAD_CHECK(condition)                                                 \
  ((condition) ? static_cast<void>(0)                                               \
               : ::tally::load::detail::check_failed(#condition, __FILE__, __LINE__))
