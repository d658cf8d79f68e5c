// Target json_command: the HTTP body -> command decoder (app/tallyd/json_codec.hpp).
//
// Input: KIND|CONTENT-TYPE|PATH-ACCOUNT|IDEMPOTENCY-KEY|BODY, split at the first four '|'
// (the body may hold more). KIND is open, deposit, withdraw or close (anything else is
// a deposit); an empty CONTENT-TYPE or IDEMPOTENCY-KEY means the header is absent. An
// input with fewer than four '|' is all body, for a deposit to "alice" sent as
// application/json, so any JSON file is an input too.
#include <array>
#include <set>
#include <string>
#include <string_view>
#include <variant>

#include "app/tallyd/json_codec.hpp"
#include "app/tallyd/limits.hpp"
#include "fuzz_input.hpp"
#include "fuzz_targets.hpp"
#include "tally/assert.hpp"

namespace tally::fuzz {

namespace {

using daemon::command_kind;

struct command_request {
  command_kind kind = command_kind::deposit;
  std::string_view content_type = "application/json";
  std::string_view path_account = "alice";
  std::string_view idempotency_key;  // empty: no header
  std::string_view body;
};

command_kind kind_named(std::string_view name) {
  if (name == "open")
    return command_kind::open;
  if (name == "withdraw")
    return command_kind::withdraw;
  if (name == "close")
    return command_kind::close;
  return command_kind::deposit;
}

command_request split_request(std::string_view text) {
  std::array<std::string_view, 4> fields;
  std::string_view rest = text;
  for (auto& field : fields) {
    auto bar = rest.find('|');
    if (bar == std::string_view::npos)
      return command_request{command_kind::deposit, "application/json", "alice", {}, text};
    field = rest.substr(0, bar);
    rest.remove_prefix(bar + 1);
  }
  command_request out;
  out.kind = kind_named(fields[0]);
  out.content_type = fields[1];
  out.path_account = out.kind == command_kind::open ? std::string_view{} : fields[2];
  out.idempotency_key = fields[3];
  out.body = rest;
  return out;
}

// The rules checks 11-24 of docs/http_api.md may name, with their status.
unsigned documented_status(std::string_view error) {
  static const std::set<std::string_view> bad_request{
    "malformed_json",       "duplicate_key",       "nesting_too_deep",    "body_not_an_object",
    "unknown_field",        "account_id_required", "account_id_invalid",  "amount_required",
    "amount_not_an_integer", "command_id_required", "command_id_invalid", "command_id_conflict"};
  if (error == "unsupported_media_type")
    return 415;
  if (error == "amount_out_of_range" || error == "amount_must_be_positive")
    return 422;
  return bad_request.count(error) != 0 ? 400 : 0;
}

// A refusal is one of the documented rules, and its message is short printable text
// that does not carry the client's bytes (docs/http_api.md: "never echoes raw input").
void check_refusal(const daemon::api_error& failure) {
  TALLY_ASSERT_MSG(documented_status(failure.error) != 0, "refusal names an undocumented rule");
  TALLY_ASSERT_MSG(failure.http_status == documented_status(failure.error),
                   "refusal has the wrong HTTP status for its rule");
  TALLY_ASSERT(!failure.message.empty());
  TALLY_ASSERT_MSG(failure.message.size() <= 512, "refusal message is not short");
  TALLY_ASSERT_MSG(is_printable_ascii_text(failure.message),
                   "refusal message holds bytes that are not printable ASCII");
  // The body the server sends must serialize with nlohmann's strict UTF-8 check.
  auto body = daemon::error_body(failure).dump();
  TALLY_ASSERT(!body.empty());
}

void check_command(const command_request& request, const daemon::decoded_command& decoded) {
  const auto& command = decoded.command;
  const std::string& account = bank::target_account(command);
  TALLY_ASSERT_MSG(daemon::account_id_problem(account).empty(), "accepted a bad account id");
  if (request.kind != command_kind::open)
    TALLY_ASSERT_MSG(account == request.path_account, "account is not the URL's");
  switch (request.kind) {
    case command_kind::open:
      TALLY_ASSERT(std::holds_alternative<bank::open_account>(command));
      break;
    case command_kind::deposit:
      TALLY_ASSERT(std::holds_alternative<bank::deposit_money>(command));
      TALLY_ASSERT_MSG(std::get<bank::deposit_money>(command).amount > 0, "amount not positive");
      break;
    case command_kind::withdraw:
      TALLY_ASSERT(std::holds_alternative<bank::withdraw_money>(command));
      TALLY_ASSERT_MSG(std::get<bank::withdraw_money>(command).amount > 0, "amount not positive");
      break;
    case command_kind::close:
      TALLY_ASSERT(std::holds_alternative<bank::close_account>(command));
      break;
  }
  const std::string& id_text = decoded.id_text;
  TALLY_ASSERT(!id_text.empty() && id_text.size() <= command_id::text_bytes_max);
  TALLY_ASSERT_MSG(is_printable_ascii_text(id_text) && id_text.find(' ') == std::string::npos,
                   "accepted a command id that is not printable ASCII");
  if (!request.idempotency_key.empty())
    TALLY_ASSERT_MSG(id_text == request.idempotency_key, "command id is not the header's");
  auto id = command_id::from_text(id_text);
  TALLY_ASSERT(id && *id == decoded.id);
}

// parse_json_strict: what it accepts has no duplicate keys and no deep nesting, so its
// own serialization is accepted again and parses to the same value.
void check_strict_json(std::string_view body) {
  auto parsed = daemon::parse_json_strict(body);
  if (!parsed) {
    TALLY_ASSERT(parsed.failure.error == "malformed_json" || parsed.failure.error == "duplicate_key"
                 || parsed.failure.error == "nesting_too_deep");
    check_refusal(parsed.failure);
    return;
  }
  std::string text = parsed.value->dump();  // strict: throws on invalid UTF-8
  auto again = daemon::parse_json_strict(text);
  TALLY_ASSERT_MSG(again && *again.value == *parsed.value, "strict JSON does not round trip");
}

}  // namespace

int fuzz_json_command(const std::uint8_t* data, std::size_t size) {
  fuzz_input input{data, size};
  std::string_view text = input.take_rest();
  command_request request = split_request(text);
  std::string key{request.idempotency_key};
  auto decoded = daemon::decode_command(request.kind, request.path_account, request.content_type,
                                        request.body, key.empty() ? nullptr : &key);
  if (decoded) {
    TALLY_ASSERT(decoded.value.has_value());
    check_command(request, *decoded.value);
  } else {
    check_refusal(decoded.failure);
  }
  if (request.body.size() <= daemon::request_body_bytes_max_default)
    check_strict_json(request.body);
  return 0;
}

}  // namespace tally::fuzz
