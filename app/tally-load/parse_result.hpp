// A value or a human readable error: what every parser and fallible helper of
// tally-load returns, so that errors are values that name what was wrong
// (the flag, the value, the file) instead of exceptions.
#pragma once

#include <optional>
#include <string>
#include <utility>

namespace tally::load {

/// Either a `Value` or an error message. The message names the offending input.
template <class Value>
class parse_result {
public:
  /// Returns a successful result holding `value`.
  static parse_result success(Value value) {
    parse_result result;
    result.value_ = std::move(value);
    return result;
  }

  /// Returns a failed result; `error` must be non-empty and say what was wrong.
  static parse_result failure(std::string error) {
    parse_result result;
    result.error_ = error.empty() ? std::string{"unspecified error"} : std::move(error);
    return result;
  }

  bool ok() const noexcept { return value_.has_value(); }
  explicit operator bool() const noexcept { return ok(); }

  /// The value; only valid when ok().
  const Value& value() const& { return *value_; }
  Value& value() & { return *value_; }
  Value&& value() && { return std::move(*value_); }

  /// The error message; empty when ok().
  const std::string& error() const noexcept { return error_; }

private:
  parse_result() = default;

  std::optional<Value> value_;
  std::string error_;
};

}  // namespace tally::load
