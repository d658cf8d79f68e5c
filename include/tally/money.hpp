// Money is int64 minor units (cents) with checked arithmetic; never floating point.
#pragma once

#include <cstdint>
#include <optional>

namespace tally {

using money = std::int64_t;

/// Returns a + b, or nullopt when the sum does not fit in int64.
inline std::optional<money> checked_add(money a, money b) noexcept {
  money sum = 0;
  if (__builtin_add_overflow(a, b, &sum))
    return std::nullopt;
  return sum;
}

/// Returns a - b, or nullopt when the difference does not fit in int64.
inline std::optional<money> checked_subtract(money a, money b) noexcept {
  money difference = 0;
  if (__builtin_sub_overflow(a, b, &difference))
    return std::nullopt;
  return difference;
}

}  // namespace tally
