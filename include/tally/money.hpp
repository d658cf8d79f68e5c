// Money is int64 minor units (cents) with checked arithmetic; never floating point.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

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

/// Formats minor units as a decimal with two fraction digits ("-12.05"), exactly:
/// integer arithmetic only.
inline std::string format_money(money amount) {
  // Work on the unsigned magnitude: -INT64_MIN does not fit in int64.
  bool negative = amount < 0;
  auto magnitude = negative ? ~static_cast<std::uint64_t>(amount) + 1 : static_cast<std::uint64_t>(amount);
  auto fraction = magnitude % 100;
  std::string text = (negative ? "-" : "") + std::to_string(magnitude / 100) + ".";
  text += static_cast<char>('0' + fraction / 10);
  text += static_cast<char>('0' + fraction % 10);
  return text;
}

}  // namespace tally
