#include "tests/crash/daemon_reader.hpp"

#include <charconv>
#include <iterator>
#include <sstream>

#include <nlohmann/json.hpp>

namespace tally::crash {

using json = nlohmann::json;

namespace {

/// History pages as large as the API allows: fewer round trips per audit.
constexpr std::uint64_t history_page_events_max = 1000;

std::string answer_problem(const std::string& what, const http_common::http_response& response) {
  if (!response.ok())
    return what + ": no answer: " + response.error;
  return what + ": HTTP " + std::to_string(response.status) + " " + response.body;
}

/// Parses a JSON object body; discarded (is_discarded()) when it is not one.
json object_body(const http_common::http_response& response) {
  auto body = json::parse(response.body, nullptr, false);
  if (!body.is_object())
    return json(json::value_t::discarded);
  return body;
}

}  // namespace

std::string read_head(http_common::http_client& client, std::uint64_t& head) {
  auto response = client.request("GET", "/health");
  auto body = object_body(response);
  if (!response.ok() || response.status != 200 || body.is_discarded()
      || !body["store"]["head"].is_number_unsigned())
    return answer_problem("GET /health", response);
  head = body["store"]["head"].get<std::uint64_t>();
  return {};
}

std::string read_journal(const http_common::endpoint& where, std::uint64_t from, std::uint64_t head,
                         std::vector<logged_event>& out) {
  if (from > head)
    return {};
  http_common::http_client client{where, daemon_request_timeout};
  std::string problem;
  std::uint64_t next = from;
  auto response = client.stream_events(
    "/events?from=" + std::to_string(from), {},
    [&](const http_common::sse_event& sse) {
      auto data = json::parse(sse.data, nullptr, false);
      if (!data.is_object() || !data["position"].is_number_unsigned() || !data["version"].is_number_unsigned()
          || !data["stream_id"].is_string() || !data["type"].is_string() || !data["command_id"].is_string()) {
        problem = "GET /events: an event that does not parse: " + sse.data;
        return false;
      }
      logged_event event;
      event.position = data["position"].get<std::uint64_t>();
      event.stream_id = data["stream_id"].get<std::string>();
      event.version = data["version"].get<std::uint64_t>();
      event.type = data["type"].get<std::string>();
      event.amount = data.value("amount", std::int64_t{0});
      event.command_id = data["command_id"].get<std::string>();
      if (event.position != next) {
        problem = "GET /events: expected position " + std::to_string(next) + ", got " + sse.data;
        return false;
      }
      out.push_back(std::move(event));
      ++next;
      return next <= head;
    },
    daemon_request_timeout);
  if (!problem.empty())
    return problem;
  if (next <= head)
    return "GET /events?from=" + std::to_string(from) + " stopped before position " + std::to_string(next)
           + " (head " + std::to_string(head) + "): HTTP " + std::to_string(response.status) + " "
           + response.error + response.body;
  return {};
}

std::string read_models_at(http_common::http_client& client, const std::vector<std::string>& account_ids,
                           const std::vector<std::string>& transfer_ids, std::uint64_t head, read_models& out) {
  const std::string at = "min_position=" + std::to_string(head);
  for (const auto& account_id : account_ids) {
    auto& history = out.histories[account_id];
    std::uint64_t from_version = 1;
    while (from_version != 0) {
      auto target = "/accounts/" + account_id + "/events?from_version=" + std::to_string(from_version)
                    + "&limit=" + std::to_string(history_page_events_max) + "&" + at;
      auto response = client.request("GET", target);
      auto body = object_body(response);
      if (response.status == 404 && !body.is_discarded() && body.value("error", "") == "account_not_found")
        break;  // no events: the audit compares with the journal
      if (!response.ok() || response.status != 200 || body.is_discarded() || !body["events"].is_array())
        return answer_problem("GET " + target, response);
      for (const auto& item : body["events"]) {
        history_entry entry;
        entry.position = item.value("position", std::uint64_t{0});
        entry.version = item.value("version", std::uint64_t{0});
        entry.type = item.value("type", "");
        entry.amount = item.value("amount", std::int64_t{0});
        entry.balance_after = item.value("balance_after", std::int64_t{0});
        entry.command_id = item.value("command_id", "");
        history.push_back(std::move(entry));
      }
      const auto& next = body["next_version"];
      std::uint64_t next_version = next.is_number_unsigned() ? next.get<std::uint64_t>() : 0;
      if (next_version != 0 && next_version <= from_version)
        return "GET " + target + ": next_version " + std::to_string(next_version) + " does not advance";
      from_version = next_version;
    }
    auto target = "/accounts/" + account_id + "?" + at;
    auto response = client.request("GET", target);
    auto body = object_body(response);
    auto& balance = out.balances[account_id];
    if (response.status == 404 && !body.is_discarded() && body.value("error", "") == "account_not_found") {
      balance.found = false;
      continue;
    }
    if (!response.ok() || response.status != 200 || body.is_discarded())
      return answer_problem("GET " + target, response);
    balance.found = true;
    balance.balance = body.value("balance", std::int64_t{0});
    balance.version = body.value("version", std::uint64_t{0});
    balance.status = body.value("status", "");
    balance.as_of_position = body.value("as_of_position", std::uint64_t{0});
  }
  for (const auto& transfer_id : transfer_ids) {
    auto target = "/transfers/" + transfer_id + "?" + at;
    auto response = client.request("GET", target);
    auto body = object_body(response);
    auto& view = out.transfers[transfer_id];
    if (response.status == 404 && !body.is_discarded() && body.value("error", "") == "transfer_not_found") {
      view.found = false;
      continue;
    }
    if (!response.ok() || response.status != 200 || body.is_discarded())
      return answer_problem("GET " + target, response);
    view.found = true;
    view.status = body.value("status", "");
    view.source = body.value("source", "");
    view.target = body.value("target", "");
    view.amount = body.value("amount", std::int64_t{0});
    view.debited = body.value("debited", false);
    view.credited = body.value("credited", false);
    view.refunded = body.value("refunded", false);
    view.settled = body.value("settled", false);
    view.in_flight = body.value("in_flight", std::int64_t{0});
    view.reason = body.value("reason", "");
  }
  auto response = client.request("GET", "/totals?" + at);
  auto body = object_body(response);
  if (!response.ok() || response.status != 200 || body.is_discarded())
    return answer_problem("GET /totals?" + at, response);
  auto& totals = out.totals;
  totals.total_balance = body.value("total_balance", std::int64_t{0});
  totals.total_deposited = body.value("total_deposited", std::int64_t{0});
  totals.total_withdrawn = body.value("total_withdrawn", std::int64_t{0});
  totals.accounts_open = body.value("accounts_open", std::uint64_t{0});
  totals.accounts_closed = body.value("accounts_closed", std::uint64_t{0});
  totals.events = body.value("events", std::uint64_t{0});
  totals.as_of_position = body.value("as_of_position", std::uint64_t{0});
  totals.money_in_flight = body.value("money_in_flight", std::int64_t{0});
  return {};
}

std::string read_daemon_activity(http_common::http_client& client, daemon_activity& out) {
  auto response = client.request("GET", "/metrics");
  if (!response.ok() || response.status != 200)
    return answer_problem("GET /metrics", response);
  // Prometheus text: "name value" or "name{labels} value" per line, comments with '#'.
  const std::pair<const char*, std::uint64_t*> wanted[] = {
    {"tally_store_head_position", &out.head},
    {"tally_projection_position{projection=\"transfers\"}", &out.transfers_position},
    {"tally_transfers_in_progress", &out.transfers_in_progress},
    {"tally_commands_in_flight", &out.commands_in_flight}};
  std::size_t found = 0;
  std::istringstream lines{response.body};
  std::string line;
  while (std::getline(lines, line)) {
    const auto space = line.rfind(' ');
    if (line.empty() || line[0] == '#' || space == std::string::npos)
      continue;
    const auto name = line.substr(0, space);
    for (const auto& [metric, into] : wanted)
      if (name == metric) {
        const char* first = line.data() + space + 1;
        const char* last = line.data() + line.size();
        auto [end, failure] = std::from_chars(first, last, *into);
        if (failure != std::errc{} || end != last)
          return "GET /metrics: " + name + " is not a count: " + line;
        ++found;
      }
  }
  if (found != std::size(wanted))
    return "GET /metrics: " + std::to_string(std::size(wanted) - found) + " of the store head, the transfers "
           "projection position, tally_transfers_in_progress and tally_commands_in_flight missing";
  return {};
}

}  // namespace tally::crash
