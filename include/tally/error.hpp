// Error codes of Tally. Every rejection and failure is one of these values, named
// after the rule that was broken. This header has no CAF dependency; the CAF
// integration (caf::error with category "tally") is in tally/caf_error.hpp.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tally {

/// Error codes in the order the runtime checks them (see docs/architecture.md).
/// Values are stable: they travel in messages and appear in logs and APIs.
enum class error_code : std::uint8_t {
  none = 0,
  // Command validation and domain rules (decider).
  invalid_argument = 1,          ///< malformed input: empty id, id too long, ...
  amount_must_be_positive = 2,   ///< amount <= 0
  account_not_found = 3,         ///< command for an account that was never opened
  account_already_exists = 4,    ///< open for an account that exists (open or closed)
  account_closed = 5,            ///< command for a closed account
  insufficient_funds = 6,        ///< withdrawal larger than the balance
  balance_would_overflow = 7,    ///< deposit that would overflow int64
  account_not_empty = 8,         ///< close with a balance other than 0
  // Event store.
  wrong_expected_version = 9,    ///< stream is not at the version the append expected
  command_id_reused_with_different_payload = 10,  ///< command id seen with other content
  store_unavailable = 11,        ///< journal failed (fail-stop) or is shutting down
  journal_corrupt = 12,          ///< on-disk data failed verification
  // Queries and runtime.
  position_not_reached = 13,     ///< read model did not reach min_position in time
  limit_exceeded = 14,           ///< a configured limit (queue, batch, page) was hit
  timeout = 15,                  ///< an operation did not finish in time
  shutting_down = 16,            ///< the runtime is stopping and takes no new work
  unknown_aggregate = 17,        ///< no aggregate type with that name is registered
  internal_error = 18,           ///< a bug: an invariant did not hold
  // Transfers (added after the codes above; values stay stable).
  accounts_must_be_different = 19,  ///< a transfer from an account to itself
  transfers_in_progress = 20,    ///< close of an account with outgoing transfers not settled
  transfer_not_found = 21,       ///< query or step for a transfer that was never requested
  transfer_already_exists = 22,  ///< request for a transfer id that is already taken
};

/// Number of error codes including `none`; used to size per-code counters.
inline constexpr std::size_t error_code_count = 23;

/// Returns the stable snake_case name of `code`, e.g. "insufficient_funds".
std::string_view to_string(error_code code) noexcept;

/// Parses a name produced by to_string(); nullopt for unknown names.
std::optional<error_code> error_code_from_string(std::string_view name) noexcept;

/// Returns a one-sentence, human readable description of `code`.
std::string_view describe(error_code code) noexcept;

/// True for outcomes that are a decision about the command (the command was
/// understood and refused), false for failures of the system (store unavailable,
/// timeout, ...) after which the command may or may not have been applied.
bool is_rejection(error_code code) noexcept;

/// A CAF-free error value: a code plus a human readable context message.
class status {
public:
  status() = default;
  status(error_code code, std::string message = {}) : code_(code), message_(std::move(message)) {}

  static status ok() { return {}; }

  bool is_ok() const noexcept { return code_ == error_code::none; }
  explicit operator bool() const noexcept { return !is_ok(); }  ///< true when it is an error
  error_code code() const noexcept { return code_; }
  const std::string& message() const noexcept { return message_; }
  /// "code: message" or just "code".
  std::string to_string() const;
  /// This status as the detail of an outer one with code `outer`: the message alone when
  /// the codes are the same (so "store_unavailable: store_unavailable: ..." never
  /// happens), else to_string().
  std::string detail_under(error_code outer) const;

private:
  error_code code_ = error_code::none;
  std::string message_;
};

/// Either a value or a non-ok status. A small CAF-free stand-in for std::expected.
template <class T>
class result {
public:
  result(T value) : value_(std::move(value)) {}
  result(status error) : error_(std::move(error)) {}
  result(error_code code) : error_(code) {}

  bool has_value() const noexcept { return value_.has_value(); }
  explicit operator bool() const noexcept { return has_value(); }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T& operator*() & { return *value_; }
  const T& operator*() const& { return *value_; }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  const status& error() const noexcept { return error_; }

private:
  std::optional<T> value_;
  status error_;
};

}  // namespace tally
