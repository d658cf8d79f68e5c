#include "tests/crash/bank_operations.hpp"

#include <nlohmann/json.hpp>

namespace tally::crash {

using json = nlohmann::json;

std::string_view operation_name(operation_kind kind) noexcept {
  switch (kind) {
    case operation_kind::open_account: return "open_account";
    case operation_kind::deposit_money: return "deposit_money";
    case operation_kind::withdraw_money: return "withdraw_money";
    case operation_kind::transfer_money: return "transfer_money";
    case operation_kind::close_account: return "close_account";
  }
  return "unknown";
}

namespace {
constexpr std::string_view closable_prefix = "closable-";
}  // namespace

bool is_closable_account(const std::string& account_id) noexcept {
  return account_id.compare(0, closable_prefix.size(), closable_prefix) == 0;
}

std::string closable_account_name(std::uint32_t round, std::uint32_t client, std::uint64_t number) {
  return std::string{closable_prefix} + "r" + std::to_string(round) + "-c" + std::to_string(client) + "-"
         + std::to_string(number);
}

std::string request_target(const operation& op) {
  switch (op.kind) {
    case operation_kind::open_account: return "/accounts";
    case operation_kind::deposit_money: return "/accounts/" + op.account_id + "/deposits";
    case operation_kind::withdraw_money: return "/accounts/" + op.account_id + "/withdrawals";
    case operation_kind::transfer_money: return "/transfers";
    case operation_kind::close_account: return "/accounts/" + op.account_id + "/close";
  }
  return {};
}

std::string request_body(const operation& op, const std::string& command_key) {
  switch (op.kind) {
    case operation_kind::open_account:
      return json{{"command_id", command_key}, {"account_id", op.account_id}}.dump();
    case operation_kind::close_account:
      return json{{"command_id", command_key}}.dump();
    case operation_kind::deposit_money:
    case operation_kind::withdraw_money:
      return json{{"command_id", command_key}, {"amount", op.amount}}.dump();
    case operation_kind::transfer_money:
      return json{{"transfer_id", command_key},
                  {"source", op.account_id},
                  {"target", op.target_account_id},
                  {"amount", op.amount}}
        .dump();
  }
  return {};
}

std::vector<expected_event> expected_events(const operation& op) {
  switch (op.kind) {
    case operation_kind::open_account: return {{op.account_id, "account_opened", 0}};
    case operation_kind::deposit_money: return {{op.account_id, "money_deposited", op.amount}};
    case operation_kind::withdraw_money: return {{op.account_id, "money_withdrawn", op.amount}};
    case operation_kind::transfer_money:
      return {{op.account_id, "money_debited_for_transfer", op.amount},
              {op.target_account_id, "money_credited_for_transfer", op.amount},
              {op.account_id, "transfer_settled", 0}};
    case operation_kind::close_account: return {{op.account_id, "account_closed", 0}};
  }
  return {};
}

std::vector<std::pair<std::string, std::int64_t>> balance_changes(const operation& op) {
  switch (op.kind) {
    case operation_kind::open_account: return {{op.account_id, 0}};
    case operation_kind::deposit_money: return {{op.account_id, op.amount}};
    case operation_kind::withdraw_money: return {{op.account_id, -op.amount}};
    case operation_kind::transfer_money: return {{op.account_id, -op.amount}, {op.target_account_id, op.amount}};
    case operation_kind::close_account: return {{op.account_id, 0}};
  }
  return {};
}

namespace {

/// The rules that may refuse `op` in this driver. Clients only address accounts whose
/// open was acknowledged, send positive amounts far from int64 limits, close only the
/// closable accounts they opened themselves (never funded, never addressed by anything
/// else), never reuse a command or transfer id and never send an expected version, so
/// every other refusal is a bug (an applied open refused as account_already_exists on
/// its retry, a close refused as account_not_empty, for instance). For a transfer this
/// is the rule its debit may break: the request itself is never refused, and its credit
/// never is (no target is closed, no balance comes near int64), so it never compensates
/// either.
bool may_be_refused_by(const operation& op, const std::string& error) {
  switch (op.kind) {
    case operation_kind::open_account: return false;
    case operation_kind::deposit_money: return false;
    case operation_kind::withdraw_money: return error == "insufficient_funds";
    case operation_kind::transfer_money: return error == "insufficient_funds";
    case operation_kind::close_account: return false;
  }
  return false;
}

/// The reply to POST /transfers: 200 once the transfer ended, completed or failed.
reply_reading read_transfer_reply(const operation& op, const std::string& transfer_id, json& body,
                                  const http_common::http_response& response, command_outcome& out,
                                  std::string& problem) {
  const auto outcome = body.value("outcome", "");
  if (response.status != 200 || (outcome != "completed" && outcome != "failed")) {
    problem = outcome == "rejected" ? "a transfer refused by a rule that cannot apply to it: " + response.body
                                    : "unexpected reply HTTP " + std::to_string(response.status) + " " + response.body;
    return reply_reading::violation;
  }
  if (body.value("transfer_id", "") != transfer_id || body.value("source", "") != op.account_id
      || body.value("target", "") != op.target_account_id || !body["amount"].is_number_integer()
      || body["amount"].get<std::int64_t>() != op.amount || body.value("status", "") != outcome
      || !body["position"].is_number_unsigned() || !body["duplicate"].is_boolean()) {
    problem = "reply does not match the transfer: " + response.body;
    return reply_reading::violation;
  }
  out.transfer_status = outcome;
  out.accepted = outcome == "completed";
  out.error = out.accepted ? std::string{} : body.value("reason", "");
  out.version = 0;
  out.position = body["position"].get<std::uint64_t>();
  out.replayed = response.header("idempotent-replayed") == "true";
  if (out.position == 0) {
    problem = "a transfer ended without a position: " + response.body;
    return reply_reading::violation;
  }
  if (out.replayed != body["duplicate"].get<bool>()) {
    problem = "the body's duplicate and the header Idempotent-Replayed disagree: " + response.body;
    return reply_reading::violation;
  }
  if (!out.accepted && !may_be_refused_by(op, out.error)) {
    problem = "a transfer failed for a rule that cannot apply to it: " + response.body;
    return reply_reading::violation;
  }
  return reply_reading::decided;
}

}  // namespace

reply_reading read_command_reply(const operation& op, const std::string& command_key,
                                 const http_common::http_response& response, command_outcome& out,
                                 std::string& problem) {
  if (!response.ok()) {
    problem = "no reply: " + response.error;
    return reply_reading::in_doubt;
  }
  out.http_status = response.status;
  if (response.status == 503) {
    problem = "HTTP 503 " + response.body;
    return reply_reading::in_doubt;
  }
  auto body = json::parse(response.body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) {
    problem = "HTTP " + std::to_string(response.status) + " with a body that is not a JSON object: "
              + response.body;
    return reply_reading::violation;
  }
  if (op.kind == operation_kind::transfer_money)
    return read_transfer_reply(op, command_key, body, response, out, problem);
  const unsigned accepted_status = op.kind == operation_kind::open_account ? 201 : 200;
  const bool accepted = response.status == accepted_status && body.value("outcome", "") == "accepted";
  const bool rejected = (response.status == 409 || response.status == 422)
                        && body.value("outcome", "") == "rejected";
  if (!accepted && !rejected) {
    problem = "unexpected reply HTTP " + std::to_string(response.status) + " " + response.body;
    return reply_reading::violation;
  }
  if (body.value("command_id", "") != command_key || body.value("account_id", "") != op.account_id
      || body.value("command", "") != operation_name(op.kind) || !body["version"].is_number_unsigned()
      || !body["position"].is_number_unsigned()) {
    problem = "reply does not match the command: " + response.body;
    return reply_reading::violation;
  }
  out.accepted = accepted;
  out.error = accepted ? std::string{} : body.value("error", "");
  out.version = body["version"].get<std::uint64_t>();
  out.position = body["position"].get<std::uint64_t>();
  out.replayed = response.header("idempotent-replayed") == "true";
  if (accepted && (out.position == 0 || out.version == 0)) {
    problem = "accepted without a position and version: " + response.body;
    return reply_reading::violation;
  }
  if (rejected && !may_be_refused_by(op, out.error)) {
    problem = "refused by a rule that cannot apply to this command: " + response.body;
    return reply_reading::violation;
  }
  return reply_reading::decided;
}

}  // namespace tally::crash
