// The bank domain: commands, events and state of an account, and its pure decider.
// Nothing here depends on CAF: decide() and evolve() are plain functions, tested
// without actors (tests/unit/domain/account_decider_test.cpp).
#pragma once

#include <cstdint>
#include <map>
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
/// Closes an account; only allowed at balance 0 with no outgoing transfer unsettled.
struct close_account {
  std::string account_id;
};

// The steps of a transfer on its accounts (include/tally/transfer.hpp). Only the
// transfer process manager issues them, each with an id derived from the transfer id
// and the step, so a resumed transfer never debits or credits twice.

/// Takes `amount` out of the source account; it is "in flight" until credited to
/// the target or refunded.
struct debit_for_transfer {
  std::string account_id;
  std::string transfer_id;
  money amount = 0;
};
/// Puts a debited amount into the target account.
struct credit_for_transfer {
  std::string account_id;
  std::string transfer_id;
  money amount = 0;
};
/// Gives a debited amount back to the source account (the credit was refused).
struct refund_for_transfer {
  std::string account_id;
  std::string transfer_id;
  money amount = 0;
};
/// Tells the source account that its debited amount reached the target.
struct settle_transfer {
  std::string account_id;
  std::string transfer_id;
};

using account_command = std::variant<open_account, deposit_money, withdraw_money, close_account,
                                     debit_for_transfer, credit_for_transfer,
                                     refund_for_transfer, settle_transfer>;

/// The account a command is addressed to.
const std::string& target_account(const account_command& command) noexcept;

/// True for the commands clients may send (open, deposit, withdraw, close); false for
/// transfer steps, which only the transfer process manager issues.
bool is_client_command(const account_command& command) noexcept;

/// Account ids are stream ids without ':' (streams with ':' belong to other
/// aggregates, e.g. "transfer:<id>").
bool is_valid_account_id(std::string_view account_id) noexcept;

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
struct money_debited_for_transfer {
  std::string transfer_id;
  money amount = 0;
};
struct money_credited_for_transfer {
  std::string transfer_id;
  money amount = 0;
};
struct money_refunded_for_transfer {
  std::string transfer_id;
  money amount = 0;
};
struct transfer_settled {
  std::string transfer_id;
};

using account_event =
  std::variant<account_opened, money_deposited, money_withdrawn, account_closed,
               money_debited_for_transfer, money_credited_for_transfer,
               money_refunded_for_transfer, transfer_settled>;

inline bool operator==(const account_opened&, const account_opened&) { return true; }
inline bool operator==(const money_deposited& a, const money_deposited& b) { return a.amount == b.amount; }
inline bool operator==(const money_withdrawn& a, const money_withdrawn& b) { return a.amount == b.amount; }
inline bool operator==(const account_closed&, const account_closed&) { return true; }
inline bool operator==(const money_debited_for_transfer& a, const money_debited_for_transfer& b) {
  return a.transfer_id == b.transfer_id && a.amount == b.amount;
}
inline bool operator==(const money_credited_for_transfer& a, const money_credited_for_transfer& b) {
  return a.transfer_id == b.transfer_id && a.amount == b.amount;
}
inline bool operator==(const money_refunded_for_transfer& a, const money_refunded_for_transfer& b) {
  return a.transfer_id == b.transfer_id && a.amount == b.amount;
}
inline bool operator==(const transfer_settled& a, const transfer_settled& b) {
  return a.transfer_id == b.transfer_id;
}

/// True for the four account events of a transfer's steps.
bool is_transfer_step_event(std::string_view type) noexcept;

/// The balance change an event makes (deposits and credits positive, withdrawals and
/// debits negative, 0 for the others).
money balance_change(const account_event& event) noexcept;

/// The change of money in flight an event makes (+amount for a debit, -amount for a
/// credit or refund, 0 otherwise).
money in_flight_change(const account_event& event) noexcept;

/// Event type names as stored in the journal ("account_opened", "money_deposited", ...).
std::string_view event_name(const account_event& event) noexcept;

/// Schema version of the payload encoding of every account event.
inline constexpr std::uint16_t account_event_schema_version = 1;

/// Encodes the event payload: empty, or an 8-byte little-endian amount, or (transfer
/// steps) the amount followed by the transfer id bytes, or the transfer id alone.
std::string encode_payload(const account_event& event);

/// Decodes a payload stored under `type` and `schema_version`. Errors: invalid_argument
/// (unknown type, unsupported schema version, wrong payload size).
result<account_event> decode_event(std::string_view type, std::uint16_t schema_version,
                                   std::string_view payload);

// -- State -------------------------------------------------------------------------

enum class account_status : std::uint8_t { not_opened = 0, open = 1, closed = 2 };

std::string_view to_string(account_status status) noexcept;

/// Outgoing transfers one account may have debited and not yet settled or refunded
/// (each costs a little memory in the account's state and snapshots).
inline constexpr std::size_t outgoing_transfers_max = 1024;

struct account_state {
  account_status status = account_status::not_opened;
  money balance = 0;
  /// Debited, not yet settled or refunded: transfer id -> amount. A refund or
  /// settlement must match one of these, and the account cannot close while any is
  /// left (a refund may still come back).
  std::map<std::string, money> outgoing_transfers;
  /// Sum of outgoing_transfers: deposits keep balance + this within int64 so that a
  /// refund can never overflow.
  money outgoing_total = 0;

  friend bool operator==(const account_state& a, const account_state& b) {
    return a.status == b.status && a.balance == b.balance
           && a.outgoing_transfers == b.outgoing_transfers && a.outgoing_total == b.outgoing_total;
  }
  friend bool operator!=(const account_state& a, const account_state& b) { return !(a == b); }
};

/// Snapshot encoding version of account_state (see encode_state()). Version 1 had no
/// outgoing transfers; its snapshots are ignored (full replay).
inline constexpr std::uint16_t account_state_format_version = 2;

/// Encodes a state for a snapshot: 1 byte status, 8 bytes balance, 4 bytes count of
/// outgoing transfers, then per transfer 1 byte id length, the id, 8 bytes amount
/// (integers little-endian).
std::string encode_state(const account_state& state);

/// Decodes encode_state() output; nullopt when malformed.
std::optional<account_state> decode_state(std::string_view bytes);

// -- Decider -----------------------------------------------------------------------

/// Decides `command` against `state`. Returns the events to append (never empty), or
/// the rule the command breaks, checked in this order: invalid_argument (open with an
/// id that is not a valid account id; transfer step with an empty transfer id),
/// amount_must_be_positive, account_already_exists (open) / account_not_found,
/// account_closed, then per command: balance_would_overflow (deposit, credit) /
/// insufficient_funds (withdraw, debit) / account_not_empty, transfers_in_progress
/// (close) / limit_exceeded (debit beyond outgoing_transfers_max) / transfer_not_found
/// (refund or settle of a transfer this account has not debited, or a refund of
/// another amount). Pure: no I/O, no clock, no allocation besides the result.
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
  static bool owns_stream(std::string_view stream_id) { return is_valid_account_id(stream_id); }
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
