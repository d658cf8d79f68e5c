// HTTP body <-> bank command. Every check a request body goes through lives here, in
// the order docs/http_api.md lists them; every refusal is an api_error: an HTTP status,
// the rule that was broken (`error`, e.g. "amount_not_an_integer"), the tally
// error_code it falls under, and a message. Pure functions: no I/O, no CAF, no sockets.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "tally/bank.hpp"
#include "tally/error.hpp"
#include "tally/ids.hpp"
#include "tally/protocol.hpp"
#include "tally/read_models.hpp"

namespace tally::daemon {

/// A refusal, rendered as {"error": rule, "code": tally code, "message": text}.
struct api_error {
  unsigned http_status = 400;
  error_code code = error_code::invalid_argument;
  std::string error;    ///< the rule that was broken, stable snake_case
  std::string message;  ///< one sentence for humans; never echoes raw user input
  bool retry_after = false;  ///< add Retry-After (503)
};

/// Builds an api_error.
api_error make_api_error(unsigned http_status, error_code code, std::string error,
                         std::string message);

/// The JSON body of `failure`.
nlohmann::json error_body(const api_error& failure);

enum class command_kind : std::uint8_t { open, deposit, withdraw, close };

/// A command decoded from a request, ready for runtime::execute_async.
struct decoded_command {
  bank::account_command command;
  command_id id;
  std::string id_text;  ///< the client's text (echoed in replies)
};

/// Either a value or an api_error.
template <class T>
struct decoded {
  std::optional<T> value;
  api_error failure;
  explicit operator bool() const noexcept { return value.has_value(); }
};

/// Returns an empty string when `id` is an acceptable account id: 1..64 bytes of
/// [A-Za-z0-9._-], not "." or "..", and tally::is_valid_stream_id. Otherwise the reason.
std::string account_id_problem(std::string_view id);

/// The same for a transfer id: the account id rules within bank::transfer_id_bytes_max
/// (55) bytes, so that "transfer:<id>" is a valid stream id.
std::string transfer_id_problem(std::string_view id);

/// Parses `body` as one JSON value under the strict rules: valid UTF-8 JSON with
/// nothing after it, no duplicate keys in any object, nesting at most json_depth_max.
/// Errors (400): malformed_json, duplicate_key, nesting_too_deep.
decoded<nlohmann::json> parse_json_strict(std::string_view body);

/// Decodes a command request. `path_account` is the {id} of the URL (empty for open),
/// `content_type` the Content-Type header (empty when absent), `idempotency_key` the
/// Idempotency-Key header (nullptr when absent). Checks, in order:
///   content type (415 unsupported_media_type), JSON syntax (400: malformed_json,
///   duplicate_key, nesting_too_deep), body is an object (400 body_not_an_object),
///   unknown fields (400 unknown_field), account_id for open (400 account_id_required,
///   account_id_invalid), amount for deposit/withdraw (400 amount_required,
///   amount_not_an_integer; 422 amount_out_of_range, amount_must_be_positive),
///   command id (400 command_id_required, command_id_invalid, command_id_conflict).
decoded<decoded_command> decode_command(command_kind kind, std::string_view path_account,
                                        std::string_view content_type, std::string_view body,
                                        const std::string* idempotency_key);

/// Decodes a POST /transfers request: `content_type` and `idempotency_key` as for
/// decode_command(). Body: {"transfer_id", "source", "target", "amount"}; the transfer
/// id is the idempotency key and may come from the Idempotency-Key header instead.
/// Checks, in order: content type (415), JSON syntax (400: malformed_json,
/// duplicate_key, nesting_too_deep), body is an object (400 body_not_an_object),
/// unknown fields (400 unknown_field), source then target (400 source_required,
/// source_invalid, target_required, target_invalid), amount (as for a deposit), the
/// same account on both sides (422 accounts_must_be_different), transfer id (400
/// transfer_id_required, transfer_id_invalid, transfer_id_conflict).
decoded<bank::transfer_money> decode_transfer(std::string_view content_type, std::string_view body,
                                              const std::string* idempotency_key);

/// HTTP status for a runtime outcome: 200 accepted (201 for open), 422 for invalid
/// commands (amount_must_be_positive, account_not_found, invalid_argument,
/// accounts_must_be_different, transfer_not_found), 409 for state conflicts (including
/// transfers_in_progress and transfer_already_exists), 503 for unavailability
/// (store_unavailable, shutting_down, limit_exceeded, timeout, position_not_reached),
/// 500 otherwise.
unsigned http_status_for(error_code code, command_kind kind = command_kind::deposit);

/// The api_error for a failed runtime call (not a rejection).
api_error failure_error(const status& failure);

/// The reply body of a command, as the JSON text sent (ending in a newline): outcome,
/// version, position, account id, command name and command id (and error, code and
/// message when rejected), keys sorted. Precondition: `command` passed decode_command()
/// (its ids are ASCII).
std::string encode_command_reply(const command_reply& reply, const decoded_command& command);

/// The reply body of a transfer request. The transfer reached an end: `outcome` and
/// `status` are "completed" or "failed" (with `reason`); rejected (nothing recorded):
/// `outcome` "rejected" with error/code/message. Always: the request's fields,
/// `position` (of the transfer's last event; 0 when rejected) and `duplicate`.
nlohmann::json encode_transfer_reply(const transfer_reply& reply,
                                     const bank::transfer_money& request);

/// HTTP status of a transfer reply: 200 when the transfer reached an end (completed or
/// failed), else http_status_for(reply.outcome).
unsigned http_status_for(const transfer_reply& reply);

/// One transfer from the transfers read model, as of `as_of_position`.
nlohmann::json encode_transfer(const transfer_view& view, std::uint64_t as_of_position);

nlohmann::json encode_balance(const std::string& account_id, const balance_view& view);
nlohmann::json encode_history(const std::string& account_id, const history_page& page);
nlohmann::json encode_totals(const totals_view& view);
/// A committed event for the /events feed: its metadata and its payload's fields
/// (amount; transfer_id on transfer steps; source, target, reason on transfer streams).
nlohmann::json encode_event(const recorded_event& event);

/// Parses a decimal unsigned integer strictly (no sign, no spaces, fits uint64).
std::optional<std::uint64_t> parse_decimal(std::string_view text);

/// Parses a time for ?at=: nanoseconds since the epoch (digits) or RFC 3339 UTC
/// ("2024-05-01T12:00:00Z", optional fraction up to 9 digits). nullopt when invalid.
std::optional<std::int64_t> parse_timestamp(std::string_view text);

/// Formats nanoseconds since the epoch as RFC 3339 UTC with 9 fraction digits.
std::string format_timestamp(std::int64_t timestamp_ns);

}  // namespace tally::daemon
