// Invariant assertions that stay on in release builds (TigerBeetle style): a broken
// invariant stops the process with file, line and condition instead of corrupting data.
#pragma once

namespace tally::detail {
[[noreturn]] void assertion_failed(const char* condition, const char* file, int line,
                                   const char* message) noexcept;
}  // namespace tally::detail

#define TALLY_ASSERT(condition)                                                     \
  ((condition) ? static_cast<void>(0)                                               \
               : ::tally::detail::assertion_failed(#condition, __FILE__, __LINE__, nullptr))

#define TALLY_ASSERT_MSG(condition, message)                                        \
  ((condition) ? static_cast<void>(0)                                               \
               : ::tally::detail::assertion_failed(#condition, __FILE__, __LINE__, message))
