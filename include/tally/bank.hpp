// The bank domain: commands, events and state of an account, and its pure decider.
// Nothing here depends on CAF: decide() and evolve() are plain functions, tested
// without actors (tests/unit/domain/account_decider_test.cpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "tally/error.hpp"
#include "tally/money.hpp"

namespace tally::bank {

// -- Commands (imperative) ---------------------------------------------------------

struct open_account {
  std::string account_id;
};
struct deposit_money {
  std::string account_id;
  money amount = 0;
};
struct withdraw_money {
  std::string account_id;
  money amount = 0;
};
/// Closes an account; only allowed at balance 0.
struct close_account {
  std::string account_id;
};

using account_command = std::variant<open_account, deposit_money, withdraw_money, close_account>;

/// The account a command is addressed to.
const std::string& target_account(const account_command& command) noexcept;

/// Stable fingerprint of a command's content (type, account, amount), persisted with
/// its events so a reused command id with other content is detected.
std::uint64_t fingerprint(const account_command& command) noexcept;

/// Name of the command type, e.g. "deposit_money".
std::string_view command_name(const account_command& command) noexcept;

// -- Events (past tense) -----------------------------------------------------------

struct account_opened {};
struct money_deposited {
  money amount = 0;
};
struct money_withdrawn {
  money amount = 0;
};
struct account_closed {};

using account_event = std::variant<account_opened, money_deposited, money_withdrawn, account_closed>;

inline bool operator==(const account_opened&, const account_opened&) { return true; }
inline bool operator==(const money_deposited& a, const money_deposited& b) { return a.amount == b.amount; }
inline bool operator==(const money_withdrawn& a, const money_withdrawn& b) { return a.amount == b.amount; }
inline bool operator==(const account_closed&, const account_closed&) { return true; }

/// Event type names as stored in the journal ("account_opened", "money_deposited", ...).
std::string_view event_name(const account_event& event) noexcept;

/// Schema version of the payload encoding of every account event.
inline constexpr std::uint16_t account_event_schema_version = 1;

/// Encodes the event payload (8-byte little-endian amount, or empty).
std::string encode_payload(const account_event& event);

/// Decodes a payload stored under `type` and `schema_version`. Errors: invalid_argument
/// (unknown type, unsupported schema version, wrong payload size).
result<account_event> decode_event(std::string_view type, std::uint16_t schema_version,
                                   std::string_view payload);

// -- State -------------------------------------------------------------------------

enum class account_status : std::uint8_t { not_opened = 0, open = 1, closed = 2 };

std::string_view to_string(account_status status) noexcept;

struct account_state {
  account_status status = account_status::not_opened;
  money balance = 0;

  friend bool operator==(const account_state& a, const account_state& b) {
    return a.status == b.status && a.balance == b.balance;
  }
  friend bool operator!=(const account_state& a, const account_state& b) { return !(a == b); }
};

/// Snapshot encoding version of account_state (see encode_state()).
inline constexpr std::uint16_t account_state_format_version = 1;

/// Encodes a state for a snapshot: 1 byte status + 8 bytes little-endian balance.
std::string encode_state(const account_state& state);

/// Decodes encode_state() output; nullopt when malformed.
std::optional<account_state> decode_state(std::string_view bytes);

// -- Decider -----------------------------------------------------------------------

/// Decides `command` against `state`. Returns the events to append (never empty), or
/// the rule the command breaks, checked in this order: amount_must_be_positive,
/// account_already_exists (open) / account_not_found, account_closed,
/// balance_would_overflow (deposit) / insufficient_funds (withdraw) /
/// account_not_empty (close). Pure: no I/O, no clock, no allocation besides the result.
result<std::vector<account_event>> decide(const account_state& state,
                                          const account_command& command);

/// Applies one event to `state`. Precondition (asserted): the event is one decide()
/// could have produced from `state`; an impossible event means a corrupt stream.
account_state evolve(account_state state, const account_event& event);

/// The account aggregate, as the generic runtime sees it (include/tally/aggregate.hpp).
struct account_aggregate {
  using state_type = account_state;
  using command_type = account_command;
  using event_type = account_event;
  static constexpr std::string_view name = "account";
  static constexpr std::uint16_t state_format_version = account_state_format_version;

  static state_type initial_state() { return {}; }
  static result<std::vector<event_type>> decide(const state_type& state, const command_type& command) {
    return bank::decide(state, command);
  }
  static state_type evolve(state_type state, const event_type& event) {
    return bank::evolve(state, event);
  }
  static const std::string& stream_of(const command_type& command) { return target_account(command); }
  static std::uint64_t command_hash(const command_type& command) { return fingerprint(command); }
  static std::string_view event_type_name(const event_type& event) { return event_name(event); }
  static std::uint16_t event_schema_version(const event_type&) { return account_event_schema_version; }
  static std::string encode_event(const event_type& event) { return encode_payload(event); }
  static result<event_type> decode_event(std::string_view type, std::uint16_t schema_version,
                                         std::string_view payload) {
    return bank::decode_event(type, schema_version, payload);
  }
  static std::string encode_state(const state_type& state) { return bank::encode_state(state); }
  static std::optional<state_type> decode_state(std::string_view bytes) {
    return bank::decode_state(bytes);
  }
};

}  // namespace tally::bank
