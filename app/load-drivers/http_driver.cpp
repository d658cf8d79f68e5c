#include "app/load-drivers/http_driver.hpp"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "app/http_common/http_client.hpp"
#include "app/tally-load/open_loop.hpp"
#include "tally/bank.hpp"
#include "tally/ids.hpp"

namespace tally::load {

namespace {

using nlohmann::json;
using http_common::header_list;
using http_common::http_client;
using http_common::http_response;

// A request that the daemon refused for load (503) is retried this often by the audit,
// which must not fail because the read model took a moment longer than one wait.
constexpr int audit_attempts_max = 6;

// Stands in for the transfer id that account histories over HTTP do not show.
const std::string history_transfer_id_placeholder = "unknown";

// How long the audit waits for the transfers read model (seen through GET /metrics,
// which takes no min_position) to reach a position.
constexpr std::chrono::seconds metrics_catch_up_wait{30};

std::uint64_t steady_ns() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                      std::chrono::steady_clock::now().time_since_epoch())
                                      .count());
}

std::unique_ptr<http_client> connect(const http_target& target) {
  return std::make_unique<http_client>(http_common::endpoint{target.host, target.port},
                                       target.request_timeout);
}

header_list auth_headers(const http_target& target) {
  if (target.token.empty())
    return {};
  return {{"Authorization", "Bearer " + target.token}};
}

json parse_body(const http_response& response) {
  return json::parse(response.body, nullptr, /*allow_exceptions=*/false);
}

// "HTTP 503 (store_unavailable)" or "transport: <error>".
std::string describe_failure(const http_response& response) {
  if (!response.ok())
    return "transport: " + response.error;
  std::string text = "HTTP " + std::to_string(response.status);
  const json body = parse_body(response);
  if (body.is_object() && body.contains("error") && body["error"].is_string())
    text += " (" + body["error"].get<std::string>() + ")";
  return text;
}

status as_status(const http_response& response) {
  return status{response.ok() ? error_code::internal_error : error_code::store_unavailable,
                describe_failure(response)};
}

struct command_result {
  command_outcome outcome = command_outcome::failed;
  std::string reason;
  /// Transfers: the transfer completed (money moved). False for everything else.
  bool transfer_completed = false;
  /// Transfers: the transfer failed (recorded, no money moved).
  bool transfer_failed = false;
  /// Transfers: no answer says whether it happened (a failure other than a refusal).
  bool transfer_in_doubt = false;
};

// The "error" field of a JSON error body, or "".
std::string error_field(const http_response& response) {
  const json body = parse_body(response);
  if (body.is_object() && body.contains("error") && body["error"].is_string())
    return body["error"].get<std::string>();
  return {};
}

// POST /transfers. 200 says completed or failed; 409/422 are refusals before anything
// was recorded; a 503 for load (too_many_commands_in_flight at the daemon,
// limit_exceeded at the transfer manager) refuses before anything too. Every other
// failure leaves the transfer in doubt.
command_result execute_transfer(http_client& client, const header_list& headers,
                                const workload_command& command,
                                const std::vector<std::string>& names,
                                const std::string& transfer_id) {
  const json body{{"transfer_id", transfer_id},
                  {"source", names[command.account]},
                  {"target", names[command.target_account]},
                  {"amount", command.amount}};
  const http_response response = client.request("POST", "/transfers", body.dump(), headers);
  command_result out;
  if (!response.ok()) {
    out.reason = "transport";
    out.transfer_in_doubt = true;
    return out;
  }
  const std::string error = error_field(response);
  if (response.status == 200) {
    const json reply = parse_body(response);
    const std::string outcome = reply.is_object() ? reply.value("outcome", std::string{}) : "";
    if (outcome == "completed") {
      out.outcome = command_outcome::accepted;
      out.transfer_completed = true;
      return out;
    }
    if (outcome == "failed") {
      out.outcome = command_outcome::rejected;
      out.transfer_failed = true;
      out.reason = reply.value("reason", std::string{"failed"});
      return out;
    }
    out.reason = "unexpected_outcome";
    out.transfer_in_doubt = true;
    return out;
  }
  if (response.status == 409 || response.status == 422
      || (response.status == 503
          && (error == "too_many_commands_in_flight" || error == "limit_exceeded"))) {
    out.outcome = command_outcome::rejected;
    out.reason = error.empty() ? "http_" + std::to_string(response.status) : error;
    return out;
  }
  out.reason = "http_" + std::to_string(response.status);
  out.transfer_in_doubt = true;
  return out;
}

command_result execute(http_client& client, const header_list& headers,
                       const workload_command& command, const std::string& account,
                       const std::string& command_id) {
  http_response response;
  if (command.op == operation::balance) {
    response = client.request("GET", "/accounts/" + account, {}, headers);
  } else {
    const json body{{"amount", command.amount}, {"command_id", command_id}};
    const char* path = command.op == operation::deposit ? "/deposits" : "/withdrawals";
    response = client.request("POST", "/accounts/" + account + path, body.dump(), headers);
  }
  if (!response.ok())
    return {command_outcome::failed, "transport"};
  if (response.status == 200)
    return {command_outcome::accepted, {}};
  if (response.status == 409) {
    const json body = parse_body(response);
    if (body.is_object() && body.contains("error") && body["error"].is_string())
      return {command_outcome::rejected, body["error"].get<std::string>()};
    return {command_outcome::rejected, "conflict"};
  }
  return {command_outcome::failed, "http_" + std::to_string(response.status)};
}

// Releases the clients together once each has connected.
class start_barrier {
public:
  explicit start_barrier(std::size_t parties) : waiting_(parties) {}

  /// Called by a client: waits for release(); returns the start time.
  std::uint64_t arrive_and_wait() {
    std::unique_lock guard{mutex_};
    if (--waiting_ == 0)
      all_arrived_.notify_all();
    released_.wait(guard, [&] { return started_ns_ != 0; });
    return started_ns_;
  }

  /// Called by the coordinator: waits for every client, then releases them.
  std::uint64_t release() {
    std::unique_lock guard{mutex_};
    all_arrived_.wait(guard, [&] { return waiting_ == 0; });
    started_ns_ = steady_ns();
    released_.notify_all();
    return started_ns_;
  }

private:
  std::mutex mutex_;
  std::condition_variable all_arrived_;
  std::condition_variable released_;
  std::size_t waiting_;
  std::uint64_t started_ns_ = 0;
};

// A pacing clock on an absolute steady-clock start shared by all clients.
class shared_start_clock final : public pacing_clock {
public:
  explicit shared_start_clock(std::uint64_t started_ns) : started_ns_(started_ns) {}
  std::uint64_t now_ns() override { return steady_ns() - started_ns_; }
  void sleep_until_ns(std::uint64_t deadline_ns) override {
    std::this_thread::sleep_until(std::chrono::steady_clock::time_point{
      std::chrono::nanoseconds{started_ns_ + deadline_ns}});
  }

private:
  std::uint64_t started_ns_;
};

struct client_outcome {
  run_stats stats;
  std::vector<std::pair<std::uint64_t, std::int64_t>> tally_changes;
  std::uint64_t accepted_writes = 0;
  transfer_tally transfers;
  std::uint64_t last_reply_ns = 0;  ///< since the start
};

void run_client(const http_target& target, const std::vector<workload_command>& commands,
                const std::vector<std::string>& names, const std::string& id_prefix,
                std::uint64_t run_tag, std::uint64_t client, std::uint64_t client_count,
                std::optional<double> rate_per_s, const run_controls& controls,
                start_barrier& barrier, client_outcome& out) {
  auto connection = connect(target);
  const header_list headers = auth_headers(target);
  // Connect before the barrier, so that timing starts on an open connection.
  connection->request("GET", "/health", {}, headers);
  const std::uint64_t started_ns = barrier.arrive_and_wait();
  auto send = [&](std::uint64_t index, std::uint64_t measured_from_ns) {
    const auto& command = commands[index];
    const auto result =
      command.op == operation::transfer
        ? execute_transfer(*connection, headers, command, names,
                           transfer_id_for(run_tag, client, index))
        : execute(*connection, headers, command, names[command.account],
                  id_prefix + std::to_string(client) + "-" + std::to_string(index));
    const auto completed_ns = steady_ns() - started_ns;
    const auto latency_ns = completed_ns - std::min(completed_ns, measured_from_ns);
    out.stats.record_reply(command.op, latency_ns, completed_ns, result.outcome, result.reason);
    out.last_reply_ns = completed_ns;
    if (command.op == operation::transfer) {
      if (result.transfer_completed) {
        out.tally_changes.emplace_back(command.account, -command.amount);
        out.tally_changes.emplace_back(command.target_account, command.amount);
        ++out.transfers.completed;
      } else if (result.transfer_failed) {
        ++out.transfers.failed;
      } else if (result.transfer_in_doubt) {
        ++out.transfers.in_doubt;
      }
    } else if (result.outcome == command_outcome::accepted && command.op != operation::balance) {
      out.tally_changes.emplace_back(command.account, command.op == operation::deposit
                                                        ? command.amount
                                                        : -command.amount);
      ++out.accepted_writes;
    }
    if (controls.progress != nullptr)
      controls.progress->record_reply(latency_ns);
  };
  if (!rate_per_s) {
    for (std::uint64_t index = 0; index < commands.size(); ++index) {
      if (steady_ns() - started_ns >= controls.stop_after_ns) {
        for (; index < commands.size(); ++index)
          out.stats.record_dropped_send();
        break;
      }
      send(index, steady_ns() - started_ns);
    }
    return;
  }
  open_loop_schedule schedule{*rate_per_s, client, client_count, commands.size()};
  shared_start_clock clock{started_ns};
  const auto never_sent = run_open_loop(
    schedule, clock,
    [&](const open_loop_send& planned) {
      out.stats.record_send_lateness(planned.lateness_ns, schedule.late_threshold_ns());
      send(planned.index, planned.intended_send_ns);
    },
    controls.stop_after_ns);
  for (std::uint64_t i = 0; i < never_sent; ++i)
    out.stats.record_dropped_send();
}

}  // namespace

parse_result<std::string> read_token_file(const std::string& path) {
  std::ifstream file{path};
  if (!file)
    return parse_result<std::string>::failure("cannot read token file " + path);
  std::stringstream content;
  content << file.rdbuf();
  std::string token = content.str();
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back())))
    token.pop_back();
  if (token.empty())
    return parse_result<std::string>::failure("token file " + path + " is empty");
  return parse_result<std::string>::success(std::move(token));
}

parse_result<std::uint64_t> probe_http_target(const http_target& target) {
  auto connection = connect(target);
  const auto response = connection->request("GET", "/health", {}, auth_headers(target));
  if (!response.ok())
    return parse_result<std::uint64_t>::failure("unreachable: " + response.error);
  const json body = parse_body(response);
  if (response.status != 200 || !body.is_object() || !body.contains("store"))
    return parse_result<std::uint64_t>::failure("GET /health answered "
                                                + describe_failure(response));
  return parse_result<std::uint64_t>::success(body["store"].value("head", std::uint64_t{0}));
}

std::optional<std::string> http_open_accounts(const http_target& target, std::uint64_t accounts,
                                              std::uint64_t connections) {
  connections = std::max<std::uint64_t>(1, std::min(connections, accounts));
  std::mutex mutex;
  std::optional<std::string> problem;
  std::vector<std::thread> threads;
  for (std::uint64_t t = 0; t < connections; ++t) {
    threads.emplace_back([&, t] {
      auto connection = connect(target);
      const header_list headers = auth_headers(target);
      for (std::uint64_t i = t; i < accounts; i += connections) {
        const std::string name = account_name(i);
        // A fixed command id: opening again (a second run) is an idempotent replay.
        const json body{{"account_id", name}, {"command_id", "tally-load-open-" + name}};
        const auto response = connection->request("POST", "/accounts", body.dump(), headers);
        if (response.ok() && (response.status == 201 || response.status == 200))
          continue;
        const json reply = parse_body(response);
        if (response.ok() && response.status == 409 && reply.is_object()
            && reply.value("error", std::string{}) == "account_already_exists")
          continue;
        std::lock_guard guard{mutex};
        if (!problem)
          problem = "opening " + name + " failed: " + describe_failure(response);
        return;
      }
    });
  }
  for (auto& thread : threads)
    thread.join();
  return problem;
}

closed_loop_result run_http(const http_target& target,
                            const std::vector<std::vector<workload_command>>& lists,
                            std::uint64_t accounts, std::optional<double> rate_per_s,
                            const run_controls& controls) {
  const std::vector<std::string> names = account_names(accounts);
  const std::uint64_t run_tag = command_id::random().high;
  char prefix[40];
  std::snprintf(prefix, sizeof(prefix), "tl-%016llx-", static_cast<unsigned long long>(run_tag));
  const std::string id_prefix = prefix;
  std::vector<client_outcome> outcomes(lists.size());
  start_barrier barrier{lists.size()};
  std::vector<std::thread> threads;
  threads.reserve(lists.size());
  for (std::size_t c = 0; c < lists.size(); ++c)
    threads.emplace_back([&, c] {
      run_client(target, lists[c], names, id_prefix, run_tag, c, lists.size(), rate_per_s,
                 controls, barrier, outcomes[c]);
    });
  barrier.release();
  for (auto& thread : threads)
    thread.join();
  closed_loop_result out;
  out.client_tally.assign(accounts, 0);
  for (const auto& outcome : outcomes) {
    out.elapsed_ns = std::max(out.elapsed_ns, outcome.last_reply_ns);
    out.stats.merge(outcome.stats);
    for (const auto& [account, delta] : outcome.tally_changes)
      out.client_tally[account] += delta;
    out.accepted_writes += outcome.accepted_writes;
    out.transfers.completed += outcome.transfers.completed;
    out.transfers.failed += outcome.transfers.failed;
    out.transfers.in_doubt += outcome.transfers.in_doubt;
  }
  out.commands = out.stats.completed_total();
  return out;
}

// -- http_audit_source ---------------------------------------------------------------------

http_audit_source::http_audit_source(const http_target& target)
  : target_(target), client_(connect(target)) {
}

http_audit_source::~http_audit_source() = default;

result<std::uint64_t> http_audit_source::head_position() {
  const auto response = client_->request("GET", "/health", {}, auth_headers(target_));
  const json body = parse_body(response);
  if (!response.ok() || response.status != 200 || !body.is_object() || !body.contains("store"))
    return as_status(response);
  return body["store"].value("head", std::uint64_t{0});
}

result<account_balance> http_audit_source::read_model_balance(const std::string& account,
                                                              std::uint64_t min_position) {
  const std::string path = "/accounts/" + account + "?min_position=" + std::to_string(min_position);
  for (int attempt = 1;; ++attempt) {
    const auto response = client_->request("GET", path, {}, auth_headers(target_));
    if (response.ok() && response.status == 503 && attempt < audit_attempts_max)
      continue;  // the read model is still catching up
    if (response.ok() && response.status == 404)
      return account_balance{};
    const json body = parse_body(response);
    if (!response.ok() || response.status != 200 || !body.is_object())
      return as_status(response);
    return account_balance{true, body.value("balance", std::int64_t{0}),
                           body.value("version", std::uint64_t{0})};
  }
}

result<account_balance> http_audit_source::write_side_state(const std::string&) {
  return status{error_code::invalid_argument, "the write side is not observable over HTTP"};
}

result<std::vector<recorded_event>> http_audit_source::stream_events(const std::string& account) {
  std::vector<recorded_event> events;
  std::uint64_t next_version = 1;
  for (;;) {
    const auto response = client_->request(
      "GET", "/accounts/" + account + "/events?from_version=" + std::to_string(next_version)
               + "&limit=1000",
      {}, auth_headers(target_));
    if (response.ok() && response.status == 404)
      return events;
    const json body = parse_body(response);
    if (!response.ok() || response.status != 200 || !body.is_object()
        || !body.contains("events") || !body["events"].is_array())
      return as_status(response);
    for (const auto& entry : body["events"]) {
      recorded_event event;
      event.position = entry.value("position", std::uint64_t{0});
      event.stream_id = account;
      event.stream_version = entry.value("version", std::uint64_t{0});
      event.type = entry.value("type", std::string{});
      event.schema_version = bank::account_event_schema_version;
      // The API shows the decoded event; re-encode it so that the audit replays HTTP
      // histories with the same code as journal events. An unknown type keeps an
      // empty payload and then fails to decode, which the audit reports.
      const auto amount = entry.value("amount", std::int64_t{0});
      if (event.type == "account_opened")
        event.payload = bank::encode_payload(bank::account_opened{});
      else if (event.type == "money_deposited")
        event.payload = bank::encode_payload(bank::money_deposited{amount});
      else if (event.type == "money_withdrawn")
        event.payload = bank::encode_payload(bank::money_withdrawn{amount});
      else if (event.type == "account_closed")
        event.payload = bank::encode_payload(bank::account_closed{});
      // A history entry carries no transfer id; a placeholder keeps the payload
      // decodable, and the replay needs only the amount.
      else if (event.type == "money_debited_for_transfer")
        event.payload = bank::encode_payload(
          bank::money_debited_for_transfer{history_transfer_id_placeholder, amount});
      else if (event.type == "money_credited_for_transfer")
        event.payload = bank::encode_payload(
          bank::money_credited_for_transfer{history_transfer_id_placeholder, amount});
      else if (event.type == "money_refunded_for_transfer")
        event.payload = bank::encode_payload(
          bank::money_refunded_for_transfer{history_transfer_id_placeholder, amount});
      else if (event.type == "transfer_settled")
        event.payload =
          bank::encode_payload(bank::transfer_settled{history_transfer_id_placeholder});
      events.push_back(std::move(event));
    }
    if (!body.contains("next_version") || body["next_version"].is_null())
      return events;
    next_version = body["next_version"].get<std::uint64_t>();
  }
}

result<std::vector<recorded_event>> http_audit_source::read_all(std::uint64_t, std::uint64_t) {
  return status{error_code::invalid_argument, "the global log is not readable over HTTP"};
}

result<totals_view> http_audit_source::totals(std::uint64_t min_position) {
  for (int attempt = 1;; ++attempt) {
    const auto response = client_->request("GET", "/totals?min_position=" + std::to_string(min_position),
                                           {}, auth_headers(target_));
    if (response.ok() && response.status == 503 && attempt < audit_attempts_max)
      continue;
    const json body = parse_body(response);
    if (!response.ok() || response.status != 200 || !body.is_object())
      return as_status(response);
    totals_view view;
    view.total_balance = body.value("total_balance", std::int64_t{0});
    view.total_balance_overflow = body.value("total_balance_overflow", false);
    view.accounts_open = body.value("accounts_open", std::uint64_t{0});
    view.accounts_closed = body.value("accounts_closed", std::uint64_t{0});
    view.events = body.value("events", std::uint64_t{0});
    view.total_deposited = body.value("total_deposited", std::int64_t{0});
    view.total_withdrawn = body.value("total_withdrawn", std::int64_t{0});
    view.money_in_flight = body.value("money_in_flight", std::int64_t{0});
    view.as_of_position = body.value("as_of_position", std::uint64_t{0});
    return view;
  }
}

result<transfer_counts> http_audit_source::transfers(std::uint64_t min_position) {
  // No route lists transfers; GET /metrics shows the transfers read model's position
  // and how many are in progress. It takes no min_position, so wait for the position.
  const auto deadline = std::chrono::steady_clock::now() + metrics_catch_up_wait;
  for (;;) {
    const auto response = client_->request("GET", "/metrics", {}, auth_headers(target_));
    if (!response.ok() || response.status != 200)
      return as_status(response);
    const parse_result<transfer_counts> counts = parse_transfer_metrics(response.body);
    if (!counts)
      return status{error_code::internal_error, "GET /metrics: " + counts.error()};
    if (counts.value().as_of_position >= min_position)
      return counts.value();
    if (std::chrono::steady_clock::now() >= deadline)
      return status{error_code::position_not_reached,
                    "the transfers read model stayed at position "
                      + std::to_string(counts.value().as_of_position) + " below "
                      + std::to_string(min_position)};
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
  }
}

parse_result<transfer_counts> parse_transfer_metrics(const std::string& metrics_text) {
  // Prometheus text: "name value" or "name{labels} value" per line, "#" comments.
  std::optional<std::uint64_t> in_progress;
  std::optional<std::uint64_t> position;
  std::istringstream lines{metrics_text};
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#')
      continue;
    const auto space = line.rfind(' ');
    if (space == std::string::npos)
      continue;
    const std::string name = line.substr(0, space);
    std::uint64_t value = 0;
    const char* first = line.data() + space + 1;
    const char* last = line.data() + line.size();
    const auto [stop, error] = std::from_chars(first, last, value);
    const bool is_number = error == std::errc{} && stop == last;
    if (name == "tally_transfers_in_progress")
      in_progress = is_number ? std::optional<std::uint64_t>{value} : std::nullopt;
    else if (name == "tally_projection_position{projection=\"transfers\"}")
      position = is_number ? std::optional<std::uint64_t>{value} : std::nullopt;
  }
  if (!in_progress || !position)
    return parse_result<transfer_counts>::failure(
      "no tally_transfers_in_progress or tally_projection_position{projection=\"transfers\"} "
      "with an unsigned value");
  transfer_counts counts;
  counts.in_progress = *in_progress;
  counts.as_of_position = *position;
  return parse_result<transfer_counts>::success(counts);
}

}  // namespace tally::load
