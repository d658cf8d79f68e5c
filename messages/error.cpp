#include "tally/error.hpp"

#include <array>

namespace tally {

namespace {

struct error_code_info {
  error_code code;
  std::string_view name;
  std::string_view description;
  bool rejection;
};

// Indexed by the enum value; the static_assert below keeps it complete.
constexpr std::array<error_code_info, error_code_count> error_code_table{{
  {error_code::none, "none", "no error", false},
  {error_code::invalid_argument, "invalid_argument", "the request is malformed", true},
  {error_code::amount_must_be_positive, "amount_must_be_positive",
   "the amount must be a positive integer number of minor units", true},
  {error_code::account_not_found, "account_not_found", "the account does not exist", true},
  {error_code::account_already_exists, "account_already_exists",
   "an account with this id already exists", true},
  {error_code::account_closed, "account_closed", "the account is closed", true},
  {error_code::insufficient_funds, "insufficient_funds",
   "the balance is smaller than the amount to withdraw", true},
  {error_code::balance_would_overflow, "balance_would_overflow",
   "the balance would exceed the largest representable amount", true},
  {error_code::account_not_empty, "account_not_empty",
   "only an account with balance 0 can be closed", true},
  {error_code::wrong_expected_version, "wrong_expected_version",
   "the stream is not at the expected version", true},
  {error_code::command_id_reused_with_different_payload,
   "command_id_reused_with_different_payload",
   "this command id was already used for a different command", true},
  {error_code::store_unavailable, "store_unavailable",
   "the event store is unavailable; the command may be retried with the same id", false},
  {error_code::journal_corrupt, "journal_corrupt", "the journal failed verification", false},
  {error_code::position_not_reached, "position_not_reached",
   "the read model did not reach the requested position in time", false},
  {error_code::limit_exceeded, "limit_exceeded", "a configured limit was exceeded", false},
  {error_code::timeout, "timeout", "the operation timed out", false},
  {error_code::shutting_down, "shutting_down", "the runtime is shutting down", false},
  {error_code::unknown_aggregate, "unknown_aggregate", "no such aggregate type", true},
  {error_code::internal_error, "internal_error", "internal error", false},
  {error_code::accounts_must_be_different, "accounts_must_be_different",
   "a transfer needs two different accounts", true},
  {error_code::transfers_in_progress, "transfers_in_progress",
   "the account has outgoing transfers that are not settled yet", true},
  {error_code::transfer_not_found, "transfer_not_found", "no transfer with this id exists", true},
  {error_code::transfer_already_exists, "transfer_already_exists",
   "a different transfer with this id already exists", true},
}};

constexpr bool table_is_in_enum_order() {
  for (std::size_t i = 0; i < error_code_table.size(); ++i)
    if (static_cast<std::size_t>(error_code_table[i].code) != i)
      return false;
  return true;
}
static_assert(table_is_in_enum_order(), "error_code_table must follow the enum order");

const error_code_info* find(error_code code) noexcept {
  auto index = static_cast<std::size_t>(code);
  return index < error_code_table.size() ? &error_code_table[index] : nullptr;
}

}  // namespace

std::string_view to_string(error_code code) noexcept {
  auto* info = find(code);
  return info != nullptr ? info->name : std::string_view{"unknown_error_code"};
}

std::optional<error_code> error_code_from_string(std::string_view name) noexcept {
  for (const auto& info : error_code_table)
    if (info.name == name)
      return info.code;
  return std::nullopt;
}

std::string_view describe(error_code code) noexcept {
  auto* info = find(code);
  return info != nullptr ? info->description : std::string_view{"unknown error code"};
}

bool is_rejection(error_code code) noexcept {
  auto* info = find(code);
  return info != nullptr && info->rejection;
}

std::string status::detail_under(error_code outer) const {
  return code_ == outer && !message_.empty() ? message_ : to_string();
}

std::string status::to_string() const {
  std::string text{tally::to_string(code_)};
  if (!message_.empty()) {
    text += ": ";
    text += message_;
  }
  return text;
}

}  // namespace tally
