#include "app/load-drivers/bank_driver.hpp"

#include <algorithm>
#include <cstdio>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

#include "app/http_common/http_client.hpp"
#include "caf/all.hpp"
#include "tally/runtime.hpp"

namespace tally::load {

namespace {

using nlohmann::json;

// How long a read model may take to reach a read's min_position before the read fails
// (and is counted as failed, not checked). Generous: under load on two cores a
// projection can lag by a second or more.
constexpr std::chrono::milliseconds read_model_wait{std::chrono::seconds{10}};
// Embedded: balance requests one read keeps in flight at once. A blocking actor finds
// each reply by scanning its mailbox, so a bounded window keeps a read of thousands of
// accounts linear.
constexpr std::size_t balance_requests_in_flight_max = 64;
// How long the resolution of transfers in doubt waits for one still running.
constexpr std::chrono::seconds in_doubt_resolution_wait{10};

std::uint64_t steady_ns() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                      std::chrono::steady_clock::now().time_since_epoch())
                                      .count());
}

void count_reason(std::vector<std::pair<std::string, std::uint64_t>>& counts,
                  const std::string& reason, std::uint64_t amount = 1) {
  for (auto& entry : counts)
    if (entry.first == reason) {
      entry.second += amount;
      return;
    }
  counts.emplace_back(reason, amount);
}

void merge_reasons(std::vector<std::pair<std::string, std::uint64_t>>& into,
                   const std::vector<std::pair<std::string, std::uint64_t>>& from) {
  for (const auto& [reason, count] : from)
    count_reason(into, reason, count);
}

// Raises `latest` to `position` if that is higher.
void raise_to(std::atomic<std::uint64_t>& latest, std::uint64_t position) {
  auto seen = latest.load(std::memory_order_relaxed);
  while (seen < position
         && !latest.compare_exchange_weak(seen, position, std::memory_order_acq_rel)) {
  }
}

std::string run_tag_text(std::uint64_t run_tag) {
  char text[20];
  std::snprintf(text, sizeof(text), "%016llx", static_cast<unsigned long long>(run_tag));
  return text;
}

// -- Embedded ---------------------------------------------------------------------------------

class embedded_bank_session final : public bank_session {
public:
  explicit embedded_bank_session(runtime& bank) : bank_(bank), self_(bank.system()) {}

  result<std::uint64_t> head_position() override {
    auto health = bank_.store_health();
    if (!health)
      return health.error();
    return health->head;
  }

  status open_account(const std::string& account) override {
    auto reply = bank_.execute(bank::open_account{account});
    if (!reply)
      return reply.error();
    if (!reply->accepted() && reply->outcome != error_code::account_already_exists)
      return status{reply->outcome};
    return status{};
  }

  // The runtime generates the command id; `command_id` text is for the HTTP API.
  result<std::uint64_t> deposit(const std::string& account, std::int64_t amount,
                                const std::string&) override {
    auto reply = bank_.execute(bank::deposit_money{account, amount});
    if (!reply)
      return reply.error();
    if (!reply->accepted())
      return status{reply->outcome};
    return reply->position;
  }

  result<bank_transfer_answer> transfer(const bank::transfer_money& request) override {
    result<bank_transfer_answer> out{error_code::timeout};
    self_->request(bank_.transfer_manager(), bank_.config().call_timeout, request)
      .receive(
        [&](const transfer_reply& reply) {
          bank_transfer_answer answer;
          answer.position = reply.position;
          if (!reply.accepted()) {
            answer.outcome = bank_transfer_answer::end::rejected;
            answer.reason = std::string{to_string(reply.outcome)};
          } else if (reply.status == bank::transfer_status::completed) {
            answer.outcome = bank_transfer_answer::end::completed;
          } else {
            answer.outcome = bank_transfer_answer::end::failed;
            answer.reason = std::string{to_string(reply.reason)};
          }
          out = std::move(answer);
        },
        [&](caf::error& failure) { out = to_status(failure); });
    return out;
  }

  result<bank_totals_read> totals(std::uint64_t min_position) override {
    auto view = bank_.totals(min_position, read_model_wait);
    if (!view)
      return view.error();
    return bank_totals_read{view->total_balance, view->money_in_flight,
                            view->total_balance_overflow, view->as_of_position};
  }

  result<std::vector<bank_balance_read>> balances(const std::vector<std::string>& accounts,
                                                  std::uint64_t min_position) override {
    std::vector<bank_balance_read> out(accounts.size());
    std::optional<status> failure;
    const auto wait_ms = static_cast<std::uint64_t>(read_model_wait.count());
    const auto timeout = bank_.config().call_timeout;
    using handle_type = decltype(self_->request(bank_.balances(), timeout, query_atom::value,
                                                balance_query{}, min_position, wait_ms));
    std::vector<std::pair<std::size_t, handle_type>> pending;
    std::size_t next = 0;
    std::size_t received = 0;
    while (received < accounts.size()) {
      // Keep up to balance_requests_in_flight_max requests out, then take the oldest.
      while (next < accounts.size() && next - received < balance_requests_in_flight_max) {
        pending.emplace_back(next, self_->request(bank_.balances(), timeout, query_atom::value,
                                                  balance_query{accounts[next]}, min_position,
                                                  wait_ms));
        ++next;
      }
      // Plain names, not a structured binding: C++17 lambdas cannot capture those.
      const std::size_t index = pending[received].first;
      pending[received].second.receive(
        [&](const balance_view& view) {
          out[index] = bank_balance_read{view.exists, view.balance, view.as_of_position};
        },
        [&](caf::error& error) {
          if (!failure)
            failure = to_status(error);
        });
      ++received;
    }
    if (failure)
      return *failure;
    return out;
  }

  result<bank::transfer_status> transfer_status(const std::string& transfer_id,
                                                std::uint64_t min_position) override {
    auto view = bank_.transfer_state(transfer_id, min_position, read_model_wait);
    if (!view)
      return view.error();
    return view->exists ? view->status : bank::transfer_status::not_requested;
  }

private:
  runtime& bank_;
  caf::scoped_actor self_;
};

class embedded_bank_target final : public bank_target {
public:
  explicit embedded_bank_target(runtime& bank) : bank_(bank) {}
  std::unique_ptr<bank_session> open_session() override {
    return std::make_unique<embedded_bank_session>(bank_);
  }

private:
  runtime& bank_;
};

// -- HTTP ---------------------------------------------------------------------------------------

json parse_json(const http_common::http_response& response) {
  return json::parse(response.body, nullptr, /*allow_exceptions=*/false);
}

// "HTTP 503 (position_not_reached)" or "transport: <error>".
status http_failure(const http_common::http_response& response) {
  if (!response.ok())
    return status{error_code::store_unavailable, "transport: " + response.error};
  std::string text = "HTTP " + std::to_string(response.status);
  const json body = parse_json(response);
  if (body.is_object() && body.contains("error") && body["error"].is_string())
    text += " (" + body["error"].get<std::string>() + ")";
  return status{response.status == 503 ? error_code::store_unavailable : error_code::internal_error,
                text};
}

std::optional<bank::transfer_status> transfer_status_from_text(const std::string& text) {
  for (auto status : {bank::transfer_status::not_requested, bank::transfer_status::requested,
                      bank::transfer_status::compensating, bank::transfer_status::completed,
                      bank::transfer_status::failed})
    if (bank::to_string(status) == text)
      return status;
  return std::nullopt;
}

class http_bank_session final : public bank_session {
public:
  explicit http_bank_session(const http_target& target)
    : client_(http_common::endpoint{target.host, target.port}, target.request_timeout) {
    if (!target.token.empty())
      headers_.emplace_back("Authorization", "Bearer " + target.token);
  }

  result<std::uint64_t> head_position() override {
    const auto response = client_.request("GET", "/health", {}, headers_);
    const json body = parse_json(response);
    if (!response.ok() || response.status != 200 || !body.is_object() || !body.contains("store"))
      return http_failure(response);
    return body["store"].value("head", std::uint64_t{0});
  }

  status open_account(const std::string& account) override {
    const json body{{"account_id", account}, {"command_id", "bank-open-" + account}};
    const auto response = client_.request("POST", "/accounts", body.dump(), headers_);
    if (response.ok() && (response.status == 200 || response.status == 201))
      return status{};
    const json reply = parse_json(response);
    if (response.ok() && response.status == 409 && reply.is_object()
        && reply.value("error", std::string{}) == "account_already_exists")
      return status{};
    return http_failure(response);
  }

  result<std::uint64_t> deposit(const std::string& account, std::int64_t amount,
                                const std::string& command_id) override {
    const json body{{"amount", amount}, {"command_id", command_id}};
    const auto response =
      client_.request("POST", "/accounts/" + account + "/deposits", body.dump(), headers_);
    const json reply = parse_json(response);
    if (!response.ok() || response.status != 200 || !reply.is_object())
      return http_failure(response);
    return reply.value("position", std::uint64_t{0});
  }

  result<bank_transfer_answer> transfer(const bank::transfer_money& request) override {
    const json body{{"transfer_id", request.transfer_id},
                    {"source", request.source},
                    {"target", request.target},
                    {"amount", request.amount}};
    const auto response = client_.request("POST", "/transfers", body.dump(), headers_);
    if (!response.ok())
      return http_failure(response);
    const json reply = parse_json(response);
    const std::string error = reply.is_object() ? reply.value("error", std::string{}) : "";
    bank_transfer_answer answer;
    if (response.status == 200 && reply.is_object()) {
      const std::string outcome = reply.value("outcome", std::string{});
      answer.position = reply.value("position", std::uint64_t{0});
      if (outcome == "completed") {
        answer.outcome = bank_transfer_answer::end::completed;
        return answer;
      }
      if (outcome == "failed") {
        answer.outcome = bank_transfer_answer::end::failed;
        answer.reason = reply.value("reason", std::string{"failed"});
        return answer;
      }
    }
    // Refusals before anything was recorded: rules (409, 422) and load at the daemon
    // or the transfer manager (503). Anything else leaves the transfer in doubt.
    if (response.status == 409 || response.status == 422
        || (response.status == 503
            && (error == "too_many_commands_in_flight" || error == "limit_exceeded"))) {
      answer.outcome = bank_transfer_answer::end::rejected;
      answer.reason = error.empty() ? "http_" + std::to_string(response.status) : error;
      return answer;
    }
    return http_failure(response);
  }

  result<bank_totals_read> totals(std::uint64_t min_position) override {
    const auto response =
      client_.request("GET", "/totals?min_position=" + std::to_string(min_position), {}, headers_);
    const json body = parse_json(response);
    if (!response.ok() || response.status != 200 || !body.is_object())
      return http_failure(response);
    return bank_totals_read{body.value("total_balance", std::int64_t{0}),
                            body.value("money_in_flight", std::int64_t{0}),
                            body.value("total_balance_overflow", false),
                            body.value("as_of_position", std::uint64_t{0})};
  }

  result<std::vector<bank_balance_read>> balances(const std::vector<std::string>& accounts,
                                                  std::uint64_t min_position) override {
    // One connection answers one request at a time (HTTP/1.1 without pipelining).
    std::vector<bank_balance_read> out;
    out.reserve(accounts.size());
    const std::string query = "?min_position=" + std::to_string(min_position);
    for (const auto& account : accounts) {
      const auto response = client_.request("GET", "/accounts/" + account + query, {}, headers_);
      if (response.ok() && response.status == 404) {
        // Never opened; the daemon answers 404 at once, so it shows no position.
        out.push_back(bank_balance_read{false, 0, min_position});
        continue;
      }
      const json body = parse_json(response);
      if (!response.ok() || response.status != 200 || !body.is_object())
        return http_failure(response);
      const bool opened = body.value("status", std::string{}) != "not_opened";
      out.push_back(bank_balance_read{opened, body.value("balance", std::int64_t{0}),
                                      body.value("as_of_position", std::uint64_t{0})});
    }
    return out;
  }

  result<bank::transfer_status> transfer_status(const std::string& transfer_id,
                                                std::uint64_t min_position) override {
    const auto response = client_.request(
      "GET", "/transfers/" + transfer_id + "?min_position=" + std::to_string(min_position), {},
      headers_);
    if (response.ok() && response.status == 404)
      return bank::transfer_status::not_requested;
    const json body = parse_json(response);
    if (!response.ok() || response.status != 200 || !body.is_object())
      return http_failure(response);
    auto parsed = transfer_status_from_text(body.value("status", std::string{}));
    if (!parsed)
      return status{error_code::internal_error,
                    "GET /transfers/" + transfer_id + " answered an unknown status"};
    return *parsed;
  }

private:
  http_common::http_client client_;
  http_common::header_list headers_;
};

class http_bank_target final : public bank_target {
public:
  explicit http_bank_target(http_target target) : target_(std::move(target)) {}
  std::unique_ptr<bank_session> open_session() override {
    return std::make_unique<http_bank_session>(target_);
  }

private:
  http_target target_;
};

// -- The clients --------------------------------------------------------------------------------

// Shared by the client threads.
struct shared_run {
  const bank_parameters* parameters = nullptr;
  const bank_setup* setup = nullptr;
  const run_controls* controls = nullptr;
  std::atomic<std::uint64_t> latest_position{0};  // P of the next read
  std::uint64_t started_ns = 0;
};

// One client's results, merged after the threads joined.
struct client_run {
  std::uint64_t transfers_sent = 0;
  transfer_tally transfers;
  std::uint64_t transfers_rejected = 0;
  std::vector<std::pair<std::string, std::uint64_t>> failed_by_reason;
  std::vector<std::pair<std::string, std::uint64_t>> rejected_by_reason;
  std::vector<std::pair<std::string, std::uint64_t>> errors_by_reason;
  std::uint64_t reads_failed = 0;
  std::uint64_t balances_read = 0;
  latency_histogram transfer_latency;
  latency_histogram read_latency;
  std::unique_ptr<bank_checker> checker;
  std::vector<std::pair<std::uint64_t, std::int64_t>> tally_changes;  // account, delta
  std::vector<bank::transfer_money> in_doubt;
  std::uint64_t finished_ns = 0;
};

void run_client(bank_target& target, shared_run& shared, std::uint64_t client,
                std::uint64_t client_seed, client_run& out) {
  const bank_parameters& parameters = *shared.parameters;
  const bank_setup& setup = *shared.setup;
  const run_controls& controls = *shared.controls;
  out.checker = std::make_unique<bank_checker>(setup.expected_total, client);
  auto session = target.open_session();
  bank_step_generator steps{parameters, client_seed};
  const std::uint64_t quota = transfers_for_client(parameters, client);
  const std::string id_prefix =
    "bank-" + run_tag_text(setup.run_tag) + "-" + std::to_string(client) + "-";
  while (out.transfers_sent < quota) {
    const auto started = steady_ns();
    if (started - shared.started_ns >= controls.stop_after_ns)
      break;
    const bank_step step = steps.next();
    if (step.is_read) {
      const auto min_position = shared.latest_position.load(std::memory_order_acquire);
      auto totals = session->totals(min_position);
      if (!totals) {
        ++out.reads_failed;
        count_reason(out.errors_by_reason, "read: " + std::string{to_string(totals.error().code())});
        continue;
      }
      auto balances = session->balances(setup.account_names, min_position);
      if (!balances) {
        ++out.reads_failed;
        count_reason(out.errors_by_reason,
                     "read: " + std::string{to_string(balances.error().code())});
        continue;
      }
      const auto finished = steady_ns();
      out.read_latency.record_ns(finished - started);
      out.balances_read += balances->size();
      out.checker->check_read(min_position, *totals, *balances, finished - shared.started_ns);
      continue;
    }
    bank::transfer_money request{id_prefix + std::to_string(out.transfers_sent),
                                 setup.account_names[step.source], setup.account_names[step.target],
                                 step.amount};
    ++out.transfers_sent;
    auto answer = session->transfer(request);
    const std::uint64_t transfer_latency_ns = steady_ns() - started;
    out.transfer_latency.record_ns(transfer_latency_ns);
    if (controls.progress != nullptr)
      controls.progress->record_reply(transfer_latency_ns);
    if (!answer) {
      count_reason(out.errors_by_reason,
                   "transfer: " + std::string{to_string(answer.error().code())});
      out.in_doubt.push_back(std::move(request));
      continue;
    }
    raise_to(shared.latest_position, answer->position);
    switch (answer->outcome) {
      case bank_transfer_answer::end::completed:
        ++out.transfers.completed;
        out.tally_changes.emplace_back(step.source, -step.amount);
        out.tally_changes.emplace_back(step.target, step.amount);
        break;
      case bank_transfer_answer::end::failed:
        ++out.transfers.failed;
        count_reason(out.failed_by_reason, answer->reason);
        break;
      case bank_transfer_answer::end::rejected:
        ++out.transfers_rejected;
        count_reason(out.rejected_by_reason, answer->reason);
        break;
    }
  }
  out.finished_ns = steady_ns();
}

// Asks the transfers read model how each transfer left in doubt ended, waiting a
// bounded time for those still running. Updates the tallies.
void resolve_in_doubt(bank_target& target, const bank_setup& setup,
                      std::vector<bank::transfer_money> in_doubt, bank_run_result& run) {
  if (in_doubt.empty())
    return;
  auto session = target.open_session();
  const auto deadline = std::chrono::steady_clock::now() + in_doubt_resolution_wait;
  auto index_of_account = [&](const std::string& name) {
    return static_cast<std::size_t>(
      std::find(setup.account_names.begin(), setup.account_names.end(), name)
      - setup.account_names.begin());
  };
  while (!in_doubt.empty()) {
    auto head = session->head_position();
    std::vector<bank::transfer_money> still;
    for (auto& request : in_doubt) {
      auto found = head ? session->transfer_status(request.transfer_id, *head)
                        : result<bank::transfer_status>{head.error()};
      if (!found || *found == bank::transfer_status::requested
          || *found == bank::transfer_status::compensating) {
        still.push_back(std::move(request));
        continue;
      }
      ++run.resolved_after_run;
      if (*found == bank::transfer_status::completed) {
        ++run.transfers.completed;
        run.client_tally[index_of_account(request.source)] -= request.amount;
        run.client_tally[index_of_account(request.target)] += request.amount;
      } else if (*found == bank::transfer_status::failed) {
        ++run.transfers.failed;
        count_reason(run.failed_by_reason, "resolved after the run");
      } else {
        ++run.transfers_rejected;  // never requested: nothing was recorded
        count_reason(run.rejected_by_reason, "never recorded (resolved after the run)");
      }
    }
    in_doubt = std::move(still);
    if (in_doubt.empty() || std::chrono::steady_clock::now() >= deadline)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds{50});
  }
  run.transfers.in_doubt = in_doubt.size();
}

}  // namespace

std::unique_ptr<bank_target> make_embedded_bank_target(runtime& bank) {
  return std::make_unique<embedded_bank_target>(bank);
}

std::unique_ptr<bank_target> make_http_bank_target(const http_target& target) {
  return std::make_unique<http_bank_target>(target);
}

parse_result<bank_setup> setup_bank(bank_target& target, const bank_parameters& parameters) {
  using outcome = parse_result<bank_setup>;
  if (auto problem = validate(parameters))
    return outcome::failure("bank parameters: " + *problem);
  auto session = target.open_session();
  auto total_now = [&](std::uint64_t& position) -> result<std::int64_t> {
    auto head = session->head_position();
    if (!head)
      return head.error();
    auto totals = session->totals(*head);
    if (!totals)
      return totals.error();
    if (totals->overflow)
      return status{error_code::invalid_argument, "the bank's total does not fit in 64 bits"};
    position = std::max(*head, totals->as_of_position);
    return totals->total_balance + totals->money_in_flight;
  };
  bank_setup setup;
  std::uint64_t position = 0;
  auto before = total_now(position);
  if (!before)
    return outcome::failure("reading the totals before setup failed: " + before.error().to_string());
  setup.total_before = *before;
  setup.run_tag = command_id::random().high;
  const std::string tag = run_tag_text(setup.run_tag);
  for (std::uint64_t i = 0; i < parameters.accounts; ++i)
    setup.account_names.push_back("bank-" + tag + "-" + std::to_string(i));
  for (std::uint64_t i = 0; i < parameters.accounts; ++i) {
    const auto& name = setup.account_names[i];
    if (auto opened = session->open_account(name); !opened.is_ok())
      return outcome::failure("opening account " + name + " failed: " + opened.to_string());
    const auto amount = initial_balance(parameters, i);
    if (amount == 0)
      continue;
    auto deposited = session->deposit(name, amount, "bank-" + tag + "-deposit-" + std::to_string(i));
    if (!deposited)
      return outcome::failure("depositing " + std::to_string(amount) + " into " + name
                              + " failed: " + deposited.error().to_string());
  }
  auto after = total_now(setup.position);
  if (!after)
    return outcome::failure("reading the totals after setup failed: " + after.error().to_string());
  if (*after - setup.total_before != parameters.total)
    return outcome::failure("the bank's total moved from " + std::to_string(setup.total_before)
                            + " to " + std::to_string(*after) + " during setup, not by "
                            + std::to_string(parameters.total)
                            + ": another writer is at work, and the checks would be meaningless");
  setup.expected_total = *after;
  return outcome::success(std::move(setup));
}

bank_run_result run_bank_clients(bank_target& target, const bank_parameters& parameters,
                                 const bank_setup& setup, const run_controls& controls) {
  shared_run shared;
  shared.parameters = &parameters;
  shared.setup = &setup;
  shared.controls = &controls;
  shared.latest_position = setup.position;
  const auto seeds = client_seeds(parameters.seed, parameters.clients);
  std::vector<client_run> runs(parameters.clients);
  std::vector<std::thread> threads;
  threads.reserve(parameters.clients);
  shared.started_ns = steady_ns();
  for (std::uint64_t client = 0; client < parameters.clients; ++client)
    threads.emplace_back([&, client] { run_client(target, shared, client, seeds[client], runs[client]); });
  for (auto& thread : threads)
    thread.join();

  bank_run_result out;
  out.checker = bank_checker{setup.expected_total, parameters.clients};
  out.client_tally.assign(parameters.accounts, 0);
  std::uint64_t finished = shared.started_ns;
  std::vector<bank::transfer_money> in_doubt;
  for (auto& run : runs) {
    finished = std::max(finished, run.finished_ns);
    out.transfers_sent += run.transfers_sent;
    out.transfers.completed += run.transfers.completed;
    out.transfers.failed += run.transfers.failed;
    out.transfers_rejected += run.transfers_rejected;
    merge_reasons(out.failed_by_reason, run.failed_by_reason);
    merge_reasons(out.rejected_by_reason, run.rejected_by_reason);
    merge_reasons(out.errors_by_reason, run.errors_by_reason);
    out.reads_failed += run.reads_failed;
    out.balances_read += run.balances_read;
    out.transfer_latency.merge(run.transfer_latency);
    out.read_latency.merge(run.read_latency);
    out.checker.merge(*run.checker);
    for (const auto& [account, delta] : run.tally_changes)
      out.client_tally[account] += delta;
    for (auto& request : run.in_doubt)
      in_doubt.push_back(std::move(request));
  }
  out.elapsed_ns = finished - shared.started_ns;
  resolve_in_doubt(target, setup, std::move(in_doubt), out);
  return out;
}

void final_check_at_rest(bank_target& target, const bank_parameters& parameters,
                         const bank_setup& setup, bank_run_result& run) {
  auto& failures = run.final_failures;
  auto session = target.open_session();
  auto head = session->head_position();
  if (!head) {
    failures.push_back("at rest: reading the store's head failed: " + head.error().to_string());
    return;
  }
  auto totals = session->totals(*head);
  if (!totals) {
    failures.push_back("at rest: reading the totals failed: " + totals.error().to_string());
    return;
  }
  auto balances = session->balances(setup.account_names, *head);
  if (!balances) {
    failures.push_back("at rest: reading the balances failed: " + balances.error().to_string());
    return;
  }
  // The same classification as during the run, by a checker of its own ("client" C).
  bank_checker at_rest{setup.expected_total, parameters.clients};
  at_rest.check_read(*head, *totals, *balances, 0);
  for (auto kind : all_bank_violation_kinds)
    if (const auto& summary = at_rest.summary(kind); summary.count > 0)
      failures.push_back("at rest: " + std::to_string(summary.count) + " "
                         + std::string{to_string(kind)} + ", the worst "
                         + describe(*summary.worst));
  if (totals->money_in_flight != 0)
    failures.push_back("at rest: money_in_flight is " + std::to_string(totals->money_in_flight)
                       + " at position " + std::to_string(totals->as_of_position)
                       + " (every transfer should have completed or failed)");
  // At rest every balance reflects the same (final) state, so their sum is a
  // consistent total, and each must be what the harness's tally says.
  std::int64_t sum = 0;
  std::uint64_t differing = 0;
  std::string first_difference;
  for (std::size_t i = 0; i < balances->size(); ++i) {
    const auto& read = (*balances)[i];
    sum += read.balance;
    const auto expected = initial_balance(parameters, i) + run.client_tally.at(i);
    if (read.balance != expected && differing++ == 0)
      first_difference = setup.account_names[i] + " holds " + std::to_string(read.balance)
                         + ", the harness's tally says " + std::to_string(expected);
  }
  if (differing > 0)
    failures.push_back("at rest: " + std::to_string(differing)
                       + " accounts differ from the harness's tally, the first: " + first_difference);
  if (sum != parameters.total)
    failures.push_back("at rest: the balances sum to " + std::to_string(sum) + ", not "
                       + std::to_string(parameters.total));
}

}  // namespace tally::load
