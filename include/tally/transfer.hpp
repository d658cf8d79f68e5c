// Transfers between accounts: the transfer process manager's own aggregate (one
// stream per transfer, "transfer:<id>"), its commands, events, state and pure decider.
//
// A transfer runs as a saga over three streams:
//   transfer_requested (transfer stream)
//   -> money_debited_for_transfer (source)       refused: transfer_failed{reason}
//   -> money_credited_for_transfer (target)      refused: transfer_compensating{reason}
//   -> transfer_settled (source)                          -> money_refunded_for_transfer (source)
//   -> transfer_completed (transfer stream)               -> transfer_failed{reason}
// Every step is a command whose id is derived from the transfer id and the step
// (transfer_step_id), so a retried or resumed transfer never debits or credits twice:
// the event store applies a command id at most once. Recording transfer_compensating
// before the refund makes the choice between credit and refund durable: a resumed
// transfer never tries the credit again once it decided to refund.
//
// Nothing here depends on CAF (tests/unit/domain/transfer_decider_test.cpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "tally/error.hpp"
#include "tally/ids.hpp"
#include "tally/money.hpp"

namespace tally::bank {

/// Prefix of every transfer stream id; account ids cannot contain ':'.
inline constexpr std::string_view transfer_stream_prefix = "transfer:";

/// Limit on transfer ids, so that "transfer:<id>" is a valid stream id.
inline constexpr std::size_t transfer_id_bytes_max =
  stream_id_bytes_max - transfer_stream_prefix.size();

/// Transfer ids follow the account id rules (no ':') within transfer_id_bytes_max.
bool is_valid_transfer_id(std::string_view transfer_id) noexcept;

/// "transfer:<transfer_id>".
std::string transfer_stream_id(std::string_view transfer_id);

/// True for stream ids of transfers.
bool is_transfer_stream(std::string_view stream_id) noexcept;

/// The steps of a transfer, each a command with its own derived id.
enum class transfer_step : std::uint8_t {
  request = 0,
  debit = 1,
  credit = 2,
  settle = 3,
  complete = 4,
  compensate = 5,
  refund = 6,
  fail = 7,
};

/// The command id of `step` of transfer `transfer_id`: the same for every attempt.
command_id transfer_step_id(std::string_view transfer_id, transfer_step step) noexcept;

/// The correlation id every step of a transfer carries (links its events).
command_id transfer_correlation_id(std::string_view transfer_id) noexcept;

// -- The client's request ----------------------------------------------------------

/// Moves `amount` from `source` to `target`. `transfer_id` is the idempotency key.
struct transfer_money {
  std::string transfer_id;
  std::string source;
  std::string target;
  money amount = 0;
};

/// Checks what can be checked without any state, in this order: invalid_argument
/// (transfer or account ids), amount_must_be_positive, accounts_must_be_different.
error_code validate(const transfer_money& request) noexcept;

// -- Commands of the transfer aggregate ----------------------------------------------

struct request_transfer {
  std::string transfer_stream;  ///< transfer_stream_id(transfer id)
  std::string source;
  std::string target;
  money amount = 0;
};
/// The credit was refused with `reason`: the debited amount goes back to the source.
struct begin_compensation {
  std::string transfer_stream;
  error_code reason = error_code::none;
};
struct complete_transfer {
  std::string transfer_stream;
};
struct fail_transfer {
  std::string transfer_stream;
  error_code reason = error_code::none;
};

using transfer_command =
  std::variant<request_transfer, begin_compensation, complete_transfer, fail_transfer>;

// -- Events ----------------------------------------------------------------------------

struct transfer_requested {
  std::string source;
  std::string target;
  money amount = 0;
};
struct transfer_compensating {
  error_code reason = error_code::none;
};
struct transfer_completed {};
struct transfer_failed {
  error_code reason = error_code::none;
};

using transfer_event =
  std::variant<transfer_requested, transfer_compensating, transfer_completed, transfer_failed>;

inline constexpr std::uint16_t transfer_event_schema_version = 1;

/// True for the event types of transfer streams.
bool is_transfer_event(std::string_view type) noexcept;

std::string_view event_name(const transfer_event& event) noexcept;

/// Payloads: transfer_requested = 8-byte amount, 1-byte source length, source,
/// 1-byte target length, target; transfer_compensating and transfer_failed = 1-byte
/// reason code; transfer_completed = empty.
std::string encode_payload(const transfer_event& event);

result<transfer_event> decode_transfer_event(std::string_view type, std::uint16_t schema_version,
                                             std::string_view payload);

// -- State -------------------------------------------------------------------------

enum class transfer_status : std::uint8_t {
  not_requested = 0,
  requested = 1,     ///< debit, credit and settlement may be in progress
  compensating = 2,  ///< the credit was refused; refunding the source
  completed = 3,
  failed = 4,
};

std::string_view to_string(transfer_status status) noexcept;

/// True once the transfer reached an end (completed or failed).
inline bool is_finished(transfer_status status) noexcept {
  return status == transfer_status::completed || status == transfer_status::failed;
}

struct transfer_state {
  transfer_status status = transfer_status::not_requested;
  std::string source;
  std::string target;
  money amount = 0;
  error_code reason = error_code::none;  ///< why it failed (or is compensating)

  friend bool operator==(const transfer_state& a, const transfer_state& b) {
    return a.status == b.status && a.source == b.source && a.target == b.target
           && a.amount == b.amount && a.reason == b.reason;
  }
};

inline constexpr std::uint16_t transfer_state_format_version = 1;

/// 1-byte status, 1-byte reason, then the transfer_requested payload layout.
std::string encode_state(const transfer_state& state);
std::optional<transfer_state> decode_transfer_state(std::string_view bytes);

/// Decides a transfer command. Rules in order: invalid_argument (malformed stream or
/// account ids, a reason of none), amount_must_be_positive,
/// accounts_must_be_different, transfer_already_exists (request of a taken id),
/// transfer_not_found (any other command before the request), and then the
/// lifecycle: compensation and completion only from `requested`, failure only from
/// `requested` or `compensating`; a finished transfer refuses everything with
/// transfer_already_exists.
result<std::vector<transfer_event>> decide(const transfer_state& state,
                                           const transfer_command& command);

/// Applies one event; asserts it is one decide() could have produced.
transfer_state evolve(transfer_state state, const transfer_event& event);

const std::string& transfer_stream_of(const transfer_command& command) noexcept;
std::uint64_t fingerprint(const transfer_command& command) noexcept;

/// The transfer aggregate as the generic runtime sees it (tally/aggregate.hpp).
struct transfer_aggregate {
  using state_type = transfer_state;
  using command_type = transfer_command;
  using event_type = transfer_event;
  static constexpr std::string_view name = "transfer";
  static constexpr std::uint16_t state_format_version = transfer_state_format_version;

  static state_type initial_state() { return {}; }
  static result<std::vector<event_type>> decide(const state_type& state, const command_type& command) {
    return bank::decide(state, command);
  }
  static state_type evolve(state_type state, const event_type& event) {
    return bank::evolve(std::move(state), event);
  }
  static const std::string& stream_of(const command_type& command) {
    return transfer_stream_of(command);
  }
  static bool owns_stream(std::string_view stream_id) { return is_transfer_stream(stream_id); }
  static std::uint64_t command_hash(const command_type& command) { return fingerprint(command); }
  static std::string_view event_type_name(const event_type& event) { return event_name(event); }
  static std::uint16_t event_schema_version(const event_type&) { return transfer_event_schema_version; }
  static std::string encode_event(const event_type& event) { return encode_payload(event); }
  static result<event_type> decode_event(std::string_view type, std::uint16_t schema_version,
                                         std::string_view payload) {
    return decode_transfer_event(type, schema_version, payload);
  }
  static std::string encode_state(const state_type& state) { return bank::encode_state(state); }
  static std::optional<state_type> decode_state(std::string_view bytes) {
    return decode_transfer_state(bytes);
  }
};

}  // namespace tally::bank
