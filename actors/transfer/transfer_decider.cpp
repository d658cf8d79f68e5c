// The pure transfer decider (tally/transfer.hpp). No CAF, no I/O.
#include "tally/transfer.hpp"

#include "messages/byte_codec.hpp"
#include "tally/assert.hpp"
#include "tally/bank.hpp"

namespace tally::bank {

namespace {

template <class... Ts>
struct overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
overloaded(Ts...) -> overloaded<Ts...>;

constexpr std::size_t amount_bytes = sizeof(money);

// source, target, amount as in transfer_requested's payload.
void put_request(std::string& out, const std::string& source, const std::string& target,
                 money amount) {
  append_i64_le(out, amount);
  append_short_text(out, source);
  append_short_text(out, target);
}

bool get_request(std::string_view& in, std::string& source, std::string& target, money& amount) {
  if (in.size() < amount_bytes)
    return false;
  amount = load_i64_le(in);
  in.remove_prefix(amount_bytes);
  return take_short_text(in, source) && take_short_text(in, target);
}

// A reason stored in an event is the code that refused a step (a rule such as
// insufficient_funds, or a limit such as limit_exceeded).
bool is_valid_reason(error_code reason) noexcept {
  return reason != error_code::none && static_cast<std::size_t>(reason) < error_code_count;
}

bool get_reason(std::string_view bytes, error_code& reason) {
  auto value = static_cast<std::uint8_t>(bytes[0]);
  if (value >= error_code_count)
    return false;
  reason = static_cast<error_code>(value);
  return is_valid_reason(reason);
}

}  // namespace

bool is_valid_transfer_id(std::string_view transfer_id) noexcept {
  return transfer_id.size() <= transfer_id_bytes_max && is_valid_account_id(transfer_id);
}

std::string transfer_stream_id(std::string_view transfer_id) {
  std::string out{transfer_stream_prefix};
  out += transfer_id;
  return out;
}

bool is_transfer_stream(std::string_view stream_id) noexcept {
  return stream_id.size() > transfer_stream_prefix.size()
         && stream_id.substr(0, transfer_stream_prefix.size()) == transfer_stream_prefix
         && is_valid_transfer_id(stream_id.substr(transfer_stream_prefix.size()));
}

command_id transfer_correlation_id(std::string_view transfer_id) noexcept {
  // Hash the stream id, not the bare transfer id: a client that uses the same text as
  // a command id elsewhere must not collide with the transfer's steps.
  auto stream = transfer_stream_id(transfer_id);
  return command_id{stable_hash(stream, 0x5a6a), stable_hash(stream, 0x7a9a)};
}

command_id transfer_step_id(std::string_view transfer_id, transfer_step step) noexcept {
  return transfer_correlation_id(transfer_id).derive("transfer-step", static_cast<std::uint64_t>(step));
}

error_code validate(const transfer_money& request) noexcept {
  if (!is_valid_transfer_id(request.transfer_id) || !is_valid_account_id(request.source)
      || !is_valid_account_id(request.target))
    return error_code::invalid_argument;
  if (request.amount <= 0)
    return error_code::amount_must_be_positive;
  if (request.source == request.target)
    return error_code::accounts_must_be_different;
  return error_code::none;
}

bool is_transfer_event(std::string_view type) noexcept {
  return type == "transfer_requested" || type == "transfer_compensating"
         || type == "transfer_completed" || type == "transfer_failed";
}

std::string_view event_name(const transfer_event& event) noexcept {
  return std::visit(overloaded{
                      [](const transfer_requested&) { return std::string_view{"transfer_requested"}; },
                      [](const transfer_compensating&) { return std::string_view{"transfer_compensating"}; },
                      [](const transfer_completed&) { return std::string_view{"transfer_completed"}; },
                      [](const transfer_failed&) { return std::string_view{"transfer_failed"}; },
                    },
                    event);
}

std::string encode_payload(const transfer_event& event) {
  std::string out;
  std::visit(overloaded{
               [&](const transfer_requested& x) { put_request(out, x.source, x.target, x.amount); },
               [&](const transfer_compensating& x) { out.push_back(static_cast<char>(x.reason)); },
               [&](const transfer_failed& x) { out.push_back(static_cast<char>(x.reason)); },
               [](const transfer_completed&) {},
             },
             event);
  return out;
}

result<transfer_event> decode_transfer_event(std::string_view type, std::uint16_t schema_version,
                                             std::string_view payload) {
  if (schema_version != transfer_event_schema_version)
    return status{error_code::invalid_argument,
                  "unsupported schema version " + std::to_string(schema_version) + " for "
                    + std::string{type}};
  if (type == "transfer_requested") {
    transfer_requested event;
    auto rest = payload;
    if (get_request(rest, event.source, event.target, event.amount) && rest.empty()
        && event.amount > 0 && is_valid_account_id(event.source)
        && is_valid_account_id(event.target) && event.source != event.target)
      return transfer_event{std::move(event)};
  } else if (type == "transfer_completed" && payload.empty()) {
    return transfer_event{transfer_completed{}};
  } else if ((type == "transfer_compensating" || type == "transfer_failed") && payload.size() == 1) {
    error_code reason = error_code::none;
    if (get_reason(payload, reason)) {
      if (type == "transfer_failed")
        return transfer_event{transfer_failed{reason}};
      return transfer_event{transfer_compensating{reason}};
    }
  }
  return status{error_code::invalid_argument,
                "unknown transfer event type or malformed payload: " + std::string{type} + " ("
                  + std::to_string(payload.size()) + " bytes)"};
}

std::string_view to_string(transfer_status status) noexcept {
  switch (status) {
    case transfer_status::not_requested:
      return "not_requested";
    case transfer_status::requested:
      return "requested";
    case transfer_status::compensating:
      return "compensating";
    case transfer_status::completed:
      return "completed";
    case transfer_status::failed:
      return "failed";
  }
  return "unknown";
}

std::string encode_state(const transfer_state& state) {
  std::string out;
  out.push_back(static_cast<char>(state.status));
  out.push_back(static_cast<char>(state.reason));
  put_request(out, state.source, state.target, state.amount);
  return out;
}

std::optional<transfer_state> decode_transfer_state(std::string_view bytes) {
  if (bytes.size() < 2)
    return std::nullopt;
  auto status_byte = static_cast<std::uint8_t>(bytes[0]);
  auto reason_byte = static_cast<std::uint8_t>(bytes[1]);
  if (status_byte > static_cast<std::uint8_t>(transfer_status::failed) || reason_byte >= error_code_count)
    return std::nullopt;
  transfer_state state;
  state.status = static_cast<transfer_status>(status_byte);
  state.reason = static_cast<error_code>(reason_byte);
  auto rest = bytes.substr(2);
  if (!get_request(rest, state.source, state.target, state.amount) || !rest.empty())
    return std::nullopt;
  bool has_reason = state.status == transfer_status::compensating || state.status == transfer_status::failed;
  if (has_reason != (state.reason != error_code::none))
    return std::nullopt;
  if (state.status == transfer_status::not_requested
        ? !(state.source.empty() && state.target.empty() && state.amount == 0)
        : !(state.amount > 0 && is_valid_account_id(state.source) && is_valid_account_id(state.target)))
    return std::nullopt;
  return state;
}

const std::string& transfer_stream_of(const transfer_command& command) noexcept {
  return std::visit([](const auto& x) -> const std::string& { return x.transfer_stream; }, command);
}

std::uint64_t fingerprint(const transfer_command& command) noexcept {
  std::string bytes;
  std::visit(overloaded{
               [&](const request_transfer& x) {
                 bytes = "request_transfer";
                 put_request(bytes, x.source, x.target, x.amount);
               },
               [&](const begin_compensation& x) {
                 bytes = "begin_compensation";
                 bytes.push_back(static_cast<char>(x.reason));
               },
               [&](const complete_transfer&) { bytes = "complete_transfer"; },
               [&](const fail_transfer& x) {
                 bytes = "fail_transfer";
                 bytes.push_back(static_cast<char>(x.reason));
               },
             },
             command);
  bytes.push_back('\0');
  bytes += transfer_stream_of(command);
  return stable_hash(bytes, 0x7a11e7);
}

result<std::vector<transfer_event>> decide(const transfer_state& state,
                                           const transfer_command& command) {
  using events = std::vector<transfer_event>;
  if (!is_transfer_stream(transfer_stream_of(command)))
    return error_code::invalid_argument;
  return std::visit(
    overloaded{
      [&](const request_transfer& x) -> result<events> {
        if (!is_valid_account_id(x.source) || !is_valid_account_id(x.target))
          return error_code::invalid_argument;
        if (x.amount <= 0)
          return error_code::amount_must_be_positive;
        if (x.source == x.target)
          return error_code::accounts_must_be_different;
        if (state.status != transfer_status::not_requested)
          return error_code::transfer_already_exists;
        return events{transfer_requested{x.source, x.target, x.amount}};
      },
      [&](const begin_compensation& x) -> result<events> {
        if (!is_valid_reason(x.reason))
          return error_code::invalid_argument;
        if (state.status == transfer_status::not_requested)
          return error_code::transfer_not_found;
        if (state.status != transfer_status::requested)
          return error_code::transfer_already_exists;
        return events{transfer_compensating{x.reason}};
      },
      [&](const complete_transfer&) -> result<events> {
        if (state.status == transfer_status::not_requested)
          return error_code::transfer_not_found;
        if (state.status != transfer_status::requested)
          return error_code::transfer_already_exists;
        return events{transfer_completed{}};
      },
      [&](const fail_transfer& x) -> result<events> {
        if (!is_valid_reason(x.reason))
          return error_code::invalid_argument;
        if (state.status == transfer_status::not_requested)
          return error_code::transfer_not_found;
        if (state.status != transfer_status::requested && state.status != transfer_status::compensating)
          return error_code::transfer_already_exists;
        return events{transfer_failed{x.reason}};
      },
    },
    command);
}

transfer_state evolve(transfer_state state, const transfer_event& event) {
  std::visit(overloaded{
               [&](const transfer_requested& x) {
                 TALLY_ASSERT(state.status == transfer_status::not_requested && x.amount > 0);
                 state.status = transfer_status::requested;
                 state.source = x.source;
                 state.target = x.target;
                 state.amount = x.amount;
               },
               [&](const transfer_compensating& x) {
                 TALLY_ASSERT(state.status == transfer_status::requested);
                 state.status = transfer_status::compensating;
                 state.reason = x.reason;
               },
               [&](const transfer_completed&) {
                 TALLY_ASSERT(state.status == transfer_status::requested);
                 state.status = transfer_status::completed;
               },
               [&](const transfer_failed& x) {
                 TALLY_ASSERT(state.status == transfer_status::requested
                              || state.status == transfer_status::compensating);
                 state.status = transfer_status::failed;
                 state.reason = x.reason;
               },
             },
             event);
  return state;
}

}  // namespace tally::bank
