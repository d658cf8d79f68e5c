#include "app/tallyd/json_codec.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <ctime>
#include <initializer_list>
#include <iterator>
#include <set>
#include <vector>

#include "app/tallyd/limits.hpp"
#include "tally/assert.hpp"

namespace tally::daemon {

namespace {

using json = nlohmann::json;

/// Thrown from the parser callback to stop parsing at the first violation.
struct strict_violation {
  std::string error;
  std::string message;
};

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t'))
    text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t'))
    text.remove_suffix(1);
  return text;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size())
    return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

/// application/json, optionally with parameters ("; charset=utf-8").
bool is_json_content_type(std::string_view content_type) {
  auto semicolon = content_type.find(';');
  auto media = trim(content_type.substr(0, semicolon));
  if (!iequals(media, "application/json"))
    return false;
  if (semicolon == std::string_view::npos)
    return true;
  auto parameter = trim(content_type.substr(semicolon + 1));
  return parameter.empty() || iequals(parameter, "charset=utf-8")
         || iequals(parameter, "charset=\"utf-8\"");
}

bool is_printable_ascii(std::string_view text) {
  for (unsigned char c : text)
    if (c < 0x21 || c > 0x7e)
      return false;
  return true;
}

api_error bad_request(std::string error, std::string message) {
  return make_api_error(400, error_code::invalid_argument, std::move(error), std::move(message));
}

/// nlohmann's reason for refusing a body (line, column, what was wrong), without the
/// "; last read: '...'" part: that quotes the client's bytes verbatim, of any length and
/// not necessarily UTF-8 (found by tests/fuzz, json_command target). What is left is
/// nlohmann's own text; anything outside printable ASCII is replaced all the same.
std::string json_failure_reason(const json::exception& failure) {
  std::string_view reason{failure.what()};
  reason = reason.substr(0, reason.find("; last read: "));
  std::string out{reason.substr(0, 200)};
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e)
      c = '?';
  return out;
}

}  // namespace

api_error make_api_error(unsigned http_status, error_code code, std::string error,
                         std::string message) {
  api_error out;
  out.http_status = http_status;
  out.code = code;
  out.error = std::move(error);
  out.message = std::move(message);
  out.retry_after = http_status == 503;
  return out;
}

json error_body(const api_error& failure) {
  return json{{"error", failure.error},
              {"code", std::string{to_string(failure.code)}},
              {"message", failure.message}};
}

namespace {

/// The rules account and transfer ids share; `what` names the kind of id.
std::string safe_id_problem(std::string_view id, std::string_view what, std::size_t bytes_max) {
  std::string name{what};
  if (id.empty())
    return name + " is empty";
  if (id.size() > bytes_max)
    return name + " is longer than " + std::to_string(bytes_max) + " bytes";
  if (id == "." || id == "..")
    return name + " must not be '.' or '..'";
  for (unsigned char c : id) {
    bool safe = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
                || c == '.' || c == '_' || c == '-';
    if (!safe)
      return name + " may only contain A-Z a-z 0-9 . _ -";
  }
  return {};
}

}  // namespace

std::string account_id_problem(std::string_view id) {
  if (auto problem = safe_id_problem(id, "account id", account_id_bytes_max); !problem.empty())
    return problem;
  if (!is_valid_stream_id(id))
    return "account id is not a valid stream id";
  return {};
}

std::string transfer_id_problem(std::string_view id) {
  if (auto problem = safe_id_problem(id, "transfer id", bank::transfer_id_bytes_max);
      !problem.empty())
    return problem;
  if (!bank::is_valid_transfer_id(id))
    return "transfer id is not a valid stream id";
  return {};
}

decoded<json> parse_json_strict(std::string_view body) {
  decoded<json> out;
  // One entry per open container: the keys seen so far (arrays have no keys).
  std::vector<std::set<std::string>> open_objects;
  std::vector<bool> is_object;
  auto callback = [&](int, json::parse_event_t event, json& parsed) -> bool {
    switch (event) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start:
        if (is_object.size() >= json_depth_max)
          throw strict_violation{"nesting_too_deep", "JSON nesting is deeper than "
                                                       + std::to_string(json_depth_max)};
        is_object.push_back(event == json::parse_event_t::object_start);
        open_objects.emplace_back();
        break;
      case json::parse_event_t::object_end:
      case json::parse_event_t::array_end:
        is_object.pop_back();
        open_objects.pop_back();
        break;
      case json::parse_event_t::key:
        if (!open_objects.back().insert(parsed.get<std::string>()).second)
          throw strict_violation{"duplicate_key", "an object has the same key twice"};
        break;
      case json::parse_event_t::value:
        break;
    }
    return true;
  };
  try {
    out.value = json::parse(body.begin(), body.end(), callback, /*allow_exceptions=*/true,
                            /*ignore_comments=*/false);
  } catch (const strict_violation& violation) {
    out.failure = bad_request(violation.error, violation.message);
  } catch (const json::exception& failure) {
    out.failure = bad_request("malformed_json", "body is not valid JSON: " + json_failure_reason(failure));
  }
  return out;
}

namespace {

/// The body of a command or transfer as a JSON object: an empty body is an empty
/// object (close with Idempotency-Key needs nothing else); a non-empty one must say it
/// is JSON, parse under the strict rules and be an object.
decoded<json> parse_body_object(std::string_view content_type, std::string_view body) {
  decoded<json> out;
  if (body.empty()) {
    out.value = json::object();
    return out;
  }
  if (!is_json_content_type(content_type)) {
    out.failure = make_api_error(415, error_code::invalid_argument, "unsupported_media_type",
                                 "the body must be sent as Content-Type: application/json");
    return out;
  }
  out = parse_json_strict(body);
  if (out && !out.value->is_object()) {
    out.value.reset();
    out.failure = bad_request("body_not_an_object", "the body must be a JSON object");
  }
  return out;
}

/// Unknown fields are refused so a typo ("ammount") is not silently ignored.
std::optional<api_error> unknown_field(const json& object,
                                       std::initializer_list<std::string_view> allowed) {
  for (auto& item : object.items())
    if (std::find(allowed.begin(), allowed.end(), item.key()) == allowed.end())
      return bad_request("unknown_field", "the body has a field this command does not take");
  return std::nullopt;
}

/// The field "amount": a JSON integer of minor units, 1..INT64_MAX.
decoded<money> amount_field(const json& object) {
  decoded<money> out;
  auto fail = [&](api_error failure) {
    out.failure = std::move(failure);
    return out;
  };
  auto out_of_range = [] {
    return make_api_error(422, error_code::invalid_argument, "amount_out_of_range",
                          "amount must be at most 9223372036854775807");
  };
  auto field = object.find("amount");
  if (field == object.end())
    return fail(bad_request("amount_required", "the body must have an amount (integer minor units)"));
  money amount = 0;
  if (field->is_number_unsigned()) {
    auto value = field->get<std::uint64_t>();
    if (value > static_cast<std::uint64_t>(INT64_MAX))
      return fail(out_of_range());
    amount = static_cast<money>(value);
  } else if (field->is_number_integer()) {
    amount = field->get<std::int64_t>();
  } else if (field->is_number_float()) {
    auto value = field->get<double>();
    // A number too large for 64 bits arrives as a float; say it is out of range
    // rather than "not an integer" when it has no fraction.
    if (std::isfinite(value) && std::trunc(value) == value && std::fabs(value) >= 9.2e18)
      return fail(out_of_range());
    return fail(bad_request("amount_not_an_integer",
                            "amount must be a JSON integer of minor units (no fraction, no "
                            "exponent)"));
  } else {
    return fail(bad_request("amount_not_an_integer",
                            "amount must be a JSON integer of minor units, not a string, "
                            "boolean or null"));
  }
  if (amount <= 0)
    return fail(make_api_error(422, error_code::amount_must_be_positive, "amount_must_be_positive",
                               std::string{describe(error_code::amount_must_be_positive)}));
  out.value = amount;
  return out;
}

/// The idempotency key of a request: the body field `field` ("command_id",
/// "transfer_id") or the Idempotency-Key header, not two different ones. Errors:
/// <field>_invalid (not a string), <field>_conflict, <field>_required. The caller
/// checks the text itself. `what` names the key for people ("command id").
decoded<std::string> idempotency_key_text(const json& object, const std::string& field,
                                          std::string_view what, const std::string* header) {
  decoded<std::string> out;
  auto fail = [&](std::string rule, std::string message) {
    out.value.reset();
    out.failure = bad_request(field + "_" + rule, std::move(message));
    return out;
  };
  if (auto found = object.find(field); found != object.end()) {
    if (!found->is_string())
      return fail("invalid", field + " must be a string");
    out.value = found->get<std::string>();
  }
  if (header) {
    if (out.value && *out.value != *header)
      return fail("conflict", "Idempotency-Key and " + field + " are both given and differ");
    out.value = *header;
  }
  if (!out.value)
    return fail("required", "a " + std::string{what} + " is required (header Idempotency-Key or field "
                              + field + ") so retries are safe");
  return out;
}

/// A field that names an account (source, target): <field>_required, <field>_invalid.
decoded<std::string> account_field(const json& object, const std::string& field) {
  decoded<std::string> out;
  auto found = object.find(field);
  if (found == object.end()) {
    out.failure = bad_request(field + "_required", "the body must have a " + field + " (an account id)");
    return out;
  }
  if (!found->is_string()) {
    out.failure = bad_request(field + "_invalid", field + " must be a string (an account id)");
    return out;
  }
  auto id = found->get<std::string>();
  if (auto problem = account_id_problem(id); !problem.empty()) {
    out.failure = bad_request(field + "_invalid", field + ": " + problem);
    return out;
  }
  out.value = std::move(id);
  return out;
}

}  // namespace

decoded<decoded_command> decode_command(command_kind kind, std::string_view path_account,
                                        std::string_view content_type, std::string_view body,
                                        const std::string* idempotency_key) {
  decoded<decoded_command> out;
  auto fail = [&](api_error failure) {
    out.failure = std::move(failure);
    return out;
  };
  auto parsed = parse_body_object(content_type, body);
  if (!parsed)
    return fail(parsed.failure);
  const json& object = *parsed.value;
  auto refused = kind == command_kind::open ? unknown_field(object, {"command_id", "account_id"})
                 : kind == command_kind::close ? unknown_field(object, {"command_id"})
                                               : unknown_field(object, {"command_id", "amount"});
  if (refused)
    return fail(*refused);
  // The account.
  std::string account_id{path_account};
  if (kind == command_kind::open) {
    auto field = object.find("account_id");
    if (field == object.end())
      return fail(bad_request("account_id_required", "the body must have an account_id"));
    if (!field->is_string())
      return fail(bad_request("account_id_invalid", "account_id must be a string"));
    account_id = field->get<std::string>();
  }
  if (auto problem = account_id_problem(account_id); !problem.empty())
    return fail(bad_request("account_id_invalid", problem));
  // The amount.
  money amount = 0;
  if (kind == command_kind::deposit || kind == command_kind::withdraw) {
    auto field = amount_field(object);
    if (!field)
      return fail(field.failure);
    amount = *field.value;
  }
  // The command id: header or field, not two different ones.
  auto key = idempotency_key_text(object, "command_id", "command id", idempotency_key);
  if (!key)
    return fail(key.failure);
  const std::string& id_text = *key.value;
  if (id_text.empty() || id_text.size() > command_id::text_bytes_max
      || !is_printable_ascii(id_text))
    return fail(bad_request("command_id_invalid",
                            "a command id is 1.." + std::to_string(command_id::text_bytes_max)
                              + " printable ASCII characters"));
  auto id = command_id::from_text(id_text);
  if (!id)
    return fail(bad_request("command_id_invalid", "the command id is not acceptable"));
  decoded_command command;
  command.id = *id;
  command.id_text = id_text;
  switch (kind) {
    case command_kind::open: command.command = bank::open_account{account_id}; break;
    case command_kind::deposit: command.command = bank::deposit_money{account_id, amount}; break;
    case command_kind::withdraw: command.command = bank::withdraw_money{account_id, amount}; break;
    case command_kind::close: command.command = bank::close_account{account_id}; break;
  }
  out.value = std::move(command);
  return out;
}

decoded<bank::transfer_money> decode_transfer(std::string_view content_type, std::string_view body,
                                              const std::string* idempotency_key) {
  decoded<bank::transfer_money> out;
  auto fail = [&](api_error failure) {
    out.failure = std::move(failure);
    return out;
  };
  auto parsed = parse_body_object(content_type, body);
  if (!parsed)
    return fail(parsed.failure);
  const json& object = *parsed.value;
  if (auto refused = unknown_field(object, {"transfer_id", "source", "target", "amount"}))
    return fail(*refused);
  auto source = account_field(object, "source");
  if (!source)
    return fail(source.failure);
  auto target = account_field(object, "target");
  if (!target)
    return fail(target.failure);
  auto amount = amount_field(object);
  if (!amount)
    return fail(amount.failure);
  // The runtime refuses it too; answering here saves it the round trip.
  if (*source.value == *target.value)
    return fail(make_api_error(422, error_code::accounts_must_be_different,
                               "accounts_must_be_different",
                               std::string{describe(error_code::accounts_must_be_different)}));
  auto transfer_id = idempotency_key_text(object, "transfer_id", "transfer id", idempotency_key);
  if (!transfer_id)
    return fail(transfer_id.failure);
  if (auto problem = transfer_id_problem(*transfer_id.value); !problem.empty())
    return fail(bad_request("transfer_id_invalid", problem));
  out.value = bank::transfer_money{std::move(*transfer_id.value), std::move(*source.value),
                                   std::move(*target.value), *amount.value};
  return out;
}

unsigned http_status_for(error_code code, command_kind kind) {
  switch (code) {
    case error_code::none:
      return kind == command_kind::open ? 201 : 200;
    case error_code::invalid_argument:
    case error_code::amount_must_be_positive:
    case error_code::account_not_found:
    case error_code::accounts_must_be_different:
    case error_code::transfer_not_found:
      return 422;
    case error_code::account_already_exists:
    case error_code::account_closed:
    case error_code::insufficient_funds:
    case error_code::balance_would_overflow:
    case error_code::account_not_empty:
    case error_code::wrong_expected_version:
    case error_code::command_id_reused_with_different_payload:
    case error_code::transfers_in_progress:
    case error_code::transfer_already_exists:
      return 409;
    case error_code::store_unavailable:
    case error_code::shutting_down:
    case error_code::limit_exceeded:
    case error_code::timeout:
    case error_code::position_not_reached:
      return 503;
    case error_code::journal_corrupt:
    case error_code::unknown_aggregate:
    case error_code::internal_error:
      return 500;
  }
  return 500;
}

api_error failure_error(const status& failure) {
  auto code = failure.code();
  auto http_status = http_status_for(code);
  std::string message{describe(code)};
  if (!failure.message().empty())
    message += " (" + failure.message() + ")";
  return make_api_error(http_status, code, std::string{to_string(code)}, std::move(message));
}

namespace {

// Appends `text` as a JSON string, escaped the way nlohmann::json::dump() escapes
// ASCII (json_codec_test compares the two byte for byte). ASCII only: what a command
// reply echoes (account id, command id) is checked to be ASCII before the command runs.
void append_json_string(std::string& out, std::string_view text) {
  static constexpr char hex_digits[] = "0123456789abcdef";
  out.push_back('"');
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    TALLY_ASSERT_MSG(byte < 0x80, "append_json_string takes ASCII text only");
    switch (byte) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (byte < 0x20) {
          out += "\\u00";
          out.push_back(hex_digits[byte >> 4]);
          out.push_back(hex_digits[byte & 0x0F]);
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
}

void append_json_number(std::string& out, std::uint64_t value) {
  char digits[20];
  auto written = std::to_chars(std::begin(digits), std::end(digits), value);
  TALLY_ASSERT(written.ec == std::errc{});
  out.append(digits, written.ptr);
}

}  // namespace

std::string encode_command_reply(const command_reply& reply, const decoded_command& command) {
  // Written directly rather than through a json object: every command's reply is built
  // here, and the DOM (a std::map node per key) and its dump cost about 4 % of tallyd's
  // CPU per request (docs/benchmarks.md). Keys in the order nlohmann's objects keep
  // them (sorted), so the text is what dump() of the same object gives.
  const bool accepted = reply.accepted();
  std::string out;
  out.reserve(accepted ? 160 : 320);
  out += "{\"account_id\":";
  append_json_string(out, bank::target_account(command.command));
  if (!accepted) {
    out += ",\"code\":";
    append_json_string(out, to_string(reply.outcome));
  }
  out += ",\"command\":";
  append_json_string(out, bank::command_name(command.command));
  out += ",\"command_id\":";
  append_json_string(out, command.id_text);
  if (!accepted) {
    out += ",\"error\":";
    append_json_string(out, to_string(reply.outcome));
    out += ",\"message\":";
    append_json_string(out, describe(reply.outcome));
  }
  out += accepted ? ",\"outcome\":\"accepted\"" : ",\"outcome\":\"rejected\"";
  out += ",\"position\":";
  append_json_number(out, reply.position);
  out += ",\"version\":";
  append_json_number(out, reply.stream_version);
  out += "}\n";
  return out;
}

json encode_transfer_reply(const transfer_reply& reply, const bank::transfer_money& request) {
  json body{{"transfer_id", request.transfer_id},
            {"source", request.source},
            {"target", request.target},
            {"amount", request.amount},
            {"position", reply.position},
            {"duplicate", reply.duplicate}};
  if (reply.accepted()) {
    auto status = std::string{bank::to_string(reply.status)};
    body["outcome"] = status;
    body["status"] = status;
    if (reply.status == bank::transfer_status::failed)
      body["reason"] = std::string{to_string(reply.reason)};
  } else {
    body["outcome"] = "rejected";
    body["error"] = std::string{to_string(reply.outcome)};
    body["code"] = std::string{to_string(reply.outcome)};
    body["message"] = std::string{describe(reply.outcome)};
  }
  return body;
}

unsigned http_status_for(const transfer_reply& reply) {
  return reply.accepted() ? 200 : http_status_for(reply.outcome);
}

json encode_transfer(const transfer_view& view, std::uint64_t as_of_position) {
  json body{{"transfer_id", view.transfer_id},
            {"status", std::string{bank::to_string(view.status)}},
            {"source", view.source},
            {"target", view.target},
            {"amount", view.amount},
            {"debited", view.debited},
            {"credited", view.credited},
            {"refunded", view.refunded},
            {"settled", view.settled},
            {"in_flight", view.in_flight},
            {"as_of_position", as_of_position}};
  // Set while compensating (why the credit was refused) and once failed.
  if (view.reason != error_code::none)
    body["reason"] = std::string{to_string(view.reason)};
  return body;
}

json encode_balance(const std::string& account_id, const balance_view& view) {
  return json{{"account_id", account_id},
              {"status", std::string{bank::to_string(view.status)}},
              {"balance", view.balance},
              {"balance_text", format_money(view.balance)},
              {"version", view.version},
              {"as_of_position", view.as_of_position}};
}

json encode_history(const std::string& account_id, const history_page& page) {
  json events = json::array();
  for (const auto& entry : page.entries)
    events.push_back(json{{"position", entry.position},
                          {"version", entry.version},
                          {"type", entry.type},
                          {"amount", entry.amount},
                          {"balance_after", entry.balance_after},
                          {"timestamp_ns", entry.timestamp_ns},
                          {"timestamp", format_timestamp(entry.timestamp_ns)},
                          {"command_id", to_string(entry.command)}});
  json body{{"account_id", account_id},
            {"events", std::move(events)},
            {"total_events", page.total_events},
            {"as_of_position", page.as_of_position}};
  body["next_version"] = page.next_version == 0 ? json(nullptr) : json(page.next_version);
  return body;
}

json encode_totals(const totals_view& view) {
  return json{{"total_balance", view.total_balance},
              {"total_balance_overflow", view.total_balance_overflow},
              {"accounts_open", view.accounts_open},
              {"accounts_closed", view.accounts_closed},
              {"events", view.events},
              {"total_deposited", view.total_deposited},
              {"total_withdrawn", view.total_withdrawn},
              {"money_in_flight", view.money_in_flight},
              {"as_of_position", view.as_of_position}};
}

json encode_event(const recorded_event& event) {
  json body{{"position", event.position},
            {"stream_id", event.stream_id},
            {"version", event.stream_version},
            {"type", event.type},
            {"schema_version", event.schema_version},
            {"event_id", to_string(event.event_id)},
            {"command_id", to_string(event.command)},
            {"timestamp_ns", event.timestamp_ns},
            {"timestamp", format_timestamp(event.timestamp_ns)}};
  // The payload's fields, for the event types that have any.
  if (bank::is_transfer_stream(event.stream_id)) {
    auto decoded = bank::decode_transfer_event(event.type, event.schema_version, event.payload);
    if (!decoded)
      return body;
    if (auto* requested = std::get_if<bank::transfer_requested>(&*decoded)) {
      body["source"] = requested->source;
      body["target"] = requested->target;
      body["amount"] = requested->amount;
    } else if (auto* compensating = std::get_if<bank::transfer_compensating>(&*decoded)) {
      body["reason"] = std::string{to_string(compensating->reason)};
    } else if (auto* failed = std::get_if<bank::transfer_failed>(&*decoded)) {
      body["reason"] = std::string{to_string(failed->reason)};
    }
    return body;
  }
  auto decoded = bank::decode_event(event.type, event.schema_version, event.payload);
  if (!decoded)
    return body;
  if (auto* deposit = std::get_if<bank::money_deposited>(&*decoded)) {
    body["amount"] = deposit->amount;
  } else if (auto* withdrawal = std::get_if<bank::money_withdrawn>(&*decoded)) {
    body["amount"] = withdrawal->amount;
  } else if (auto* debit = std::get_if<bank::money_debited_for_transfer>(&*decoded)) {
    body["amount"] = debit->amount;
    body["transfer_id"] = debit->transfer_id;
  } else if (auto* credit = std::get_if<bank::money_credited_for_transfer>(&*decoded)) {
    body["amount"] = credit->amount;
    body["transfer_id"] = credit->transfer_id;
  } else if (auto* refund = std::get_if<bank::money_refunded_for_transfer>(&*decoded)) {
    body["amount"] = refund->amount;
    body["transfer_id"] = refund->transfer_id;
  } else if (auto* settled = std::get_if<bank::transfer_settled>(&*decoded)) {
    body["transfer_id"] = settled->transfer_id;
  }
  return body;
}

std::optional<std::uint64_t> parse_decimal(std::string_view text) {
  if (text.empty() || text.size() > 20)
    return std::nullopt;
  std::uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9')
      return std::nullopt;
    if (__builtin_mul_overflow(value, 10u, &value)
        || __builtin_add_overflow(value, static_cast<std::uint64_t>(c - '0'), &value))
      return std::nullopt;
  }
  return value;
}

std::optional<std::int64_t> parse_timestamp(std::string_view text) {
  if (auto digits = parse_decimal(text)) {
    if (*digits > static_cast<std::uint64_t>(INT64_MAX))
      return std::nullopt;
    return static_cast<std::int64_t>(*digits);
  }
  // YYYY-MM-DDTHH:MM:SS[.fffffffff]Z
  if (text.size() < 20 || text.back() != 'Z')
    return std::nullopt;
  auto number = [&](std::size_t at, std::size_t width) -> std::optional<int> {
    auto value = parse_decimal(text.substr(at, width));
    if (!value || text.substr(at, width).size() != width)
      return std::nullopt;
    return static_cast<int>(*value);
  };
  if (text[4] != '-' || text[7] != '-' || text[10] != 'T' || text[13] != ':' || text[16] != ':')
    return std::nullopt;
  auto year = number(0, 4), month = number(5, 2), day = number(8, 2);
  auto hour = number(11, 2), minute = number(14, 2), second = number(17, 2);
  if (!year || !month || !day || !hour || !minute || !second)
    return std::nullopt;
  if (*year < 1970 || *month < 1 || *month > 12 || *day < 1 || *day > 31 || *hour > 23
      || *minute > 59 || *second > 60)
    return std::nullopt;
  std::int64_t fraction_ns = 0;
  auto rest = text.substr(19, text.size() - 20);
  if (!rest.empty()) {
    if (rest.front() != '.' || rest.size() < 2 || rest.size() > 10)
      return std::nullopt;
    auto digits = parse_decimal(rest.substr(1));
    if (!digits)
      return std::nullopt;
    fraction_ns = static_cast<std::int64_t>(*digits);
    for (auto width = rest.size() - 1; width < 9; ++width)
      fraction_ns *= 10;
  }
  std::tm parts{};
  parts.tm_year = *year - 1900;
  parts.tm_mon = *month - 1;
  parts.tm_mday = *day;
  parts.tm_hour = *hour;
  parts.tm_min = *minute;
  parts.tm_sec = *second;
  auto seconds = timegm(&parts);
  if (seconds < 0)
    return std::nullopt;
  // timegm normalizes 2024-02-31 to March: refuse dates that do not exist.
  std::tm check{};
  gmtime_r(&seconds, &check);
  if (check.tm_mday != *day || check.tm_mon != *month - 1)
    return std::nullopt;
  std::int64_t out = 0;
  if (__builtin_mul_overflow(static_cast<std::int64_t>(seconds), std::int64_t{1'000'000'000}, &out)
      || __builtin_add_overflow(out, fraction_ns, &out))
    return std::nullopt;
  return out;
}

std::string format_timestamp(std::int64_t timestamp_ns) {
  auto seconds = static_cast<std::time_t>(timestamp_ns / 1'000'000'000);
  auto fraction = timestamp_ns % 1'000'000'000;
  if (fraction < 0) {
    fraction += 1'000'000'000;
    --seconds;
  }
  std::tm parts{};
  gmtime_r(&seconds, &parts);
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02dT%02d:%02d:%02d.%09lldZ", parts.tm_year + 1900,
                parts.tm_mon + 1, parts.tm_mday, parts.tm_hour, parts.tm_min, parts.tm_sec,
                static_cast<long long>(fraction));
  return buffer;
}

}  // namespace tally::daemon
