#include "app/load-drivers/embedded_driver.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <condition_variable>
#include <memory>
#include <mutex>

#include "caf/all.hpp"
#include "tally/runtime.hpp"
#include "tally/detail/prefetch.hpp"
#include "tally/detail/spawn.hpp"

namespace tally::load {

namespace {

using start_atom = caf::atom_constant<caf::atom("start")>;
using done_atom = caf::atom_constant<caf::atom("done")>;
using add_atom = caf::atom_constant<caf::atom("add")>;
using take_atom = caf::atom_constant<caf::atom("take")>;
using get_atom = caf::atom_constant<caf::atom("get")>;

std::uint64_t now_ns() {
  return static_cast<std::uint64_t>(
    std::chrono::duration_cast<std::chrono::nanoseconds>(
      std::chrono::steady_clock::now().time_since_epoch())
      .count());
}

// The clients' statistics, one run_stats per thread that runs clients rather than one
// per client: 64 clients' own histograms spread their hot buckets over about 1 MiB,
// presumably crowding the runtime's working set out of the caches (recording cost 3.3 %
// on caf-raw before, 1.2 % after; docs/benchmarks.md). A scheduler thread runs one
// client at a time, so the clients it runs share its run_stats without locks.
class per_thread_stats {
public:
  per_thread_stats() : run_(next_run_.fetch_add(1) + 1) {}
  per_thread_stats(const per_thread_stats&) = delete;
  per_thread_stats& operator=(const per_thread_stats&) = delete;

  /// The calling thread's run_stats for this run (created on its first use).
  run_stats& local() {
    thread_local std::uint64_t cached_run = 0;  // run ids start at 1
    thread_local run_stats* cached = nullptr;
    if (cached_run != run_) {
      auto made = std::make_unique<run_stats>();
      cached = made.get();
      std::lock_guard<std::mutex> guard{mutex_};
      all_.push_back(std::move(made));
      cached_run = run_;
    }
    return *cached;
  }

  /// Adds every thread's statistics to `out`. Only once every client is done: their
  /// done messages order their last recording before this.
  void merge_into(run_stats& out) const {
    std::lock_guard<std::mutex> guard{mutex_};
    for (const auto& stats : all_)
      out.merge(*stats);
  }

private:
  static inline std::atomic<std::uint64_t> next_run_{0};
  const std::uint64_t run_;  ///< unique per instance, so a reused address is never mistaken
  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<run_stats>> all_;
};

// One client's results, handed to the coordinator when its list is exhausted.
struct client_result {
  std::vector<std::pair<std::uint64_t, std::int64_t>> tally_changes;  // account, delta
  std::uint64_t accepted_writes = 0;
  transfer_tally transfers;
  std::uint64_t last_position = 0;
  std::uint64_t finished_ns = 0;
};
using client_result_ptr = std::shared_ptr<client_result>;

}  // namespace
}  // namespace tally::load

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(tally::load::client_result_ptr)

namespace tally::load {

namespace {

// The target a client talks to: the embedded runtime or bare actors.
struct target {
  // Embedded.
  caf::actor router;
  caf::actor balances;
  caf::actor transfers;  ///< the transfer process manager
  // caf-raw: one actor per account.
  std::vector<caf::actor> raw_accounts;
};

struct client_state {
  static inline const char* name = "tally.load.client";
  const std::vector<workload_command>* commands = nullptr;
  const std::vector<std::string>* names = nullptr;
  std::shared_ptr<const target> destination;
  caf::actor coordinator;
  std::uint64_t client = 0;
  std::uint64_t run_high = 0;  ///< high half of this run's command ids
  run_controls controls;
  per_thread_stats* stats = nullptr;  ///< owned by run_clients(), outlives the client
  std::size_t next = 0;
  std::uint64_t sent_ns = 0;
  std::uint64_t started_ns = 0;  ///< the barrier's release
  client_result_ptr result;
};

using client_actor = caf::stateful_actor<client_state>;

void finish_command(client_actor* self, operation op, command_outcome outcome,
                    std::string_view reason);
void send_next(client_actor* self, std::uint64_t now);

// Whether a send needs the clock: for the latency, or for --duration.
bool needs_clock(const client_state& st) {
  return st.controls.record_latency || st.controls.stop_after_ns != UINT64_MAX;
}

void record_tally(client_state& st, const workload_command& command) {
  auto delta = command.op == operation::deposit ? command.amount : -command.amount;
  st.result->tally_changes.emplace_back(command.account, delta);
  ++st.result->accepted_writes;
}

void send_transfer(client_actor* self, const workload_command& command) {
  auto& st = self->state;
  bank::transfer_money request{transfer_id_for(st.run_high, st.client, st.next - 1),
                               (*st.names)[command.account], (*st.names)[command.target_account],
                               command.amount};
  self->request(st.destination->transfers, caf::infinite, std::move(request))
    .then(
      [self](const transfer_reply& reply) {
        auto& st = self->state;
        const auto& sent = (*st.commands)[st.next - 1];
        st.result->last_position = std::max(st.result->last_position, reply.position);
        if (!reply.accepted()) {
          // Refused before anything was recorded (a rule or limit_exceeded).
          finish_command(self, operation::transfer, command_outcome::rejected,
                         to_string(reply.outcome));
        } else if (reply.status == bank::transfer_status::completed) {
          st.result->tally_changes.emplace_back(sent.account, -sent.amount);
          st.result->tally_changes.emplace_back(sent.target_account, sent.amount);
          ++st.result->transfers.completed;
          finish_command(self, operation::transfer, command_outcome::accepted, {});
        } else {
          // Failed: no money moved, like a rejected withdrawal.
          ++st.result->transfers.failed;
          finish_command(self, operation::transfer, command_outcome::rejected,
                         to_string(reply.reason));
        }
      },
      [self](caf::error& failure) {
        ++self->state.result->transfers.in_doubt;
        finish_command(self, operation::transfer, command_outcome::failed,
                       to_string(to_status(failure).code()));
      });
}

void send_embedded(client_actor* self, const workload_command& command) {
  auto& st = self->state;
  const auto& account = (*st.names)[command.account];
  if (command.op == operation::transfer) {
    send_transfer(self, command);
    return;
  }
  if (command.op == operation::balance) {
    self->request(st.destination->balances, caf::infinite, query_atom::value, balance_query{account},
                  std::uint64_t{0}, std::uint64_t{0})
      .then([self](const balance_view&) { finish_command(self, operation::balance, command_outcome::accepted, {}); },
            [self](caf::error& failure) {
              finish_command(self, operation::balance, command_outcome::failed,
                             to_string(to_status(failure).code()));
            });
    return;
  }
  command_envelope<bank::account_command> envelope;
  envelope.id = command_id{st.run_high ^ (st.client + 1), st.next};
  if (command.op == operation::deposit)
    envelope.command = bank::deposit_money{account, command.amount};
  else
    envelope.command = bank::withdraw_money{account, command.amount};
  self->request(st.destination->router, caf::infinite, std::move(envelope))
    .then(
      [self, op = command.op](const command_reply& reply) {
        auto& st = self->state;
        if (reply.accepted()) {
          record_tally(st, (*st.commands)[st.next - 1]);
          st.result->last_position = std::max(st.result->last_position, reply.position);
          finish_command(self, op, command_outcome::accepted, {});
        } else {
          finish_command(self, op, command_outcome::rejected, to_string(reply.outcome));
        }
      },
      [self, op = command.op](caf::error& failure) {
        finish_command(self, op, command_outcome::failed,
                       to_string(to_status(failure).code()));
      });
}

void send_raw(client_actor* self, const workload_command& command) {
  auto& st = self->state;
  const auto& account = st.destination->raw_accounts[command.account];
  auto on_error = [self, op = command.op](caf::error&) {
    finish_command(self, op, command_outcome::failed, "actor_error");
  };
  switch (command.op) {
    case operation::deposit:
      self->request(account, caf::infinite, add_atom::value, command.amount)
        .then(
          [self](std::int64_t) {
            auto& st = self->state;
            record_tally(st, (*st.commands)[st.next - 1]);
            finish_command(self, operation::deposit, command_outcome::accepted, {});
          },
          on_error);
      break;
    case operation::withdraw:
      self->request(account, caf::infinite, take_atom::value, command.amount)
        .then(
          [self](bool accepted) {
            auto& st = self->state;
            if (accepted) {
              record_tally(st, (*st.commands)[st.next - 1]);
              finish_command(self, operation::withdraw, command_outcome::accepted, {});
            } else {
              finish_command(self, operation::withdraw, command_outcome::rejected,
                             "insufficient_funds");
            }
          },
          on_error);
      break;
    default:
      self->request(account, caf::infinite, get_atom::value)
        .then([self](std::int64_t) { finish_command(self, operation::balance, command_outcome::accepted, {}); },
              on_error);
  }
}

// Sends the next command of the list. `now` is the clock when needs_clock(), else 0:
// a closed-loop send follows its reply at once, so the reply's clock reading is also
// the send time (one reading per command), and without latency recording and
// --duration a command reads no clock at all (the "off" side of
// `baseline recording-cost`).
void send_next(client_actor* self, std::uint64_t now) {
  auto& st = self->state;
  const bool clocked = needs_clock(st);
  if (st.next < st.commands->size() && clocked &&
      now - st.started_ns >= st.controls.stop_after_ns) {
    // --duration ran out: what is left of the list is never sent.
    for (; st.next < st.commands->size(); ++st.next)
      st.stats->local().record_dropped_send();
  }
  if (st.next == st.commands->size()) {
    st.result->finished_ns = clocked ? now : now_ns();
    self->send(st.coordinator, done_atom::value, st.result);
    self->quit();
    return;
  }
  const auto& command = (*st.commands)[st.next++];
  st.sent_ns = now;
  const bool raw = !st.destination->raw_accounts.empty();
  if (raw)
    send_raw(self, command);
  else
    send_embedded(self, command);
  // The next command's account, its name or its bare actor, sits at random in a table
  // of N: loaded now, it is in the cache when this command's reply comes (the harness's
  // own misses are not what either side is measured on).
  if (st.next < st.commands->size()) {
    const auto account = (*st.commands)[st.next].account;
    if (raw)
      detail::prefetch(&st.destination->raw_accounts[account]);
    else
      detail::prefetch(&(*st.names)[account]);
  }
}

void finish_command(client_actor* self, operation op, command_outcome outcome,
                    std::string_view reason) {
  auto& st = self->state;
  if (!st.controls.record_latency) {
    st.stats->local().record_outcome(op, outcome, reason);
    send_next(self, needs_clock(st) ? now_ns() : 0);
    return;
  }
  auto completed = now_ns();
  st.stats->local().record_reply(op, completed - st.sent_ns, completed - st.started_ns, outcome,
                                reason);
  st.result->finished_ns = completed;
  if (st.controls.progress != nullptr)
    st.controls.progress->record_reply(completed - st.sent_ns);
  send_next(self, completed);
}

caf::behavior load_client(client_actor* self, const std::vector<workload_command>* commands,
                          const std::vector<std::string>* names,
                          std::shared_ptr<const target> destination, caf::actor coordinator,
                          std::uint64_t client, std::uint64_t run_high, run_controls controls,
                          per_thread_stats* stats) {
  auto& st = self->state;
  st.run_high = run_high;
  st.controls = controls;
  st.stats = stats;
  st.commands = commands;
  st.names = names;
  st.destination = std::move(destination);
  st.coordinator = std::move(coordinator);
  st.client = client;
  st.result = std::make_shared<client_result>();
  // At most one change per command (two per transfer): sized before the clock starts,
  // so the timed loop never regrows it (a regrowth moves it and faults in new pages).
  std::size_t transfers = 0;
  for (const auto& command : *commands)
    transfers += command.op == operation::transfer ? 1 : 0;
  st.result->tally_changes.reserve(commands->size() + transfers);
  return {
    [self](start_atom, std::uint64_t started_ns) {
      self->state.started_ns = started_ns;
      send_next(self, needs_clock(self->state) ? now_ns() : 0);
    },
  };
}

// The caf-raw account: the least an actor can do for the same workload.
struct raw_account_state {
  static inline const char* name = "tally.load.raw_account";
  std::int64_t balance = 0;
};

caf::behavior raw_account(caf::stateful_actor<raw_account_state>* self) {
  return {
    [self](add_atom, std::int64_t amount) { return self->state.balance += amount; },
    [self](take_atom, std::int64_t amount) {
      if (amount > self->state.balance)
        return false;
      self->state.balance -= amount;
      return true;
    },
    [self](get_atom) { return self->state.balance; },
  };
}

closed_loop_result run_clients(caf::actor_system& system, std::shared_ptr<const target> destination,
                               const std::vector<std::vector<workload_command>>& lists,
                               std::uint64_t accounts, const run_controls& controls) {
  const std::vector<std::string> names = account_names(accounts);
  const std::uint64_t run_high = command_id::random().high;
  per_thread_stats stats;  // outlives the clients: they are done before it is read
  caf::scoped_actor coordinator{system};
  std::vector<caf::actor> clients;
  clients.reserve(lists.size());
  for (std::size_t c = 0; c < lists.size(); ++c)
    clients.push_back(system.spawn(load_client, &lists[c], &names, destination,
                                   caf::actor{coordinator}, std::uint64_t{c}, run_high, controls,
                                   &stats));
  closed_loop_result out;
  out.client_tally.assign(accounts, 0);
  // The barrier: every client exists and its list is ready; release them together.
  auto started = now_ns();
  for (auto& client : clients)
    caf::anon_send(client, start_atom::value, started);
  std::uint64_t finished = started;
  for (std::size_t received = 0; received < clients.size(); ++received) {
    coordinator->receive([&](done_atom, const client_result_ptr& result) {
      finished = std::max(finished, result->finished_ns);
      for (const auto& [account, delta] : result->tally_changes)
        out.client_tally[account] += delta;
      out.accepted_writes += result->accepted_writes;
      out.transfers.completed += result->transfers.completed;
      out.transfers.failed += result->transfers.failed;
      out.transfers.in_doubt += result->transfers.in_doubt;
      out.last_position = std::max(out.last_position, result->last_position);
    });
  }
  out.elapsed_ns = finished - started;
  // Commands that got a reply: all of them unless --duration stopped the clients.
  stats.merge_into(out.stats);
  out.commands = out.stats.completed_total();
  return out;
}

}  // namespace

double median(std::vector<double> values) {
  if (values.empty())
    return 0.0;
  std::sort(values.begin(), values.end());
  auto n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

void print_run_line(const char* name, const closed_loop_result& run) {
  const auto& latency = run.stats.overall_latency();
  std::printf("  %-9s %10.0f cmd/s  p50 %7.1f us  p99 %8.1f us  p99.9 %8.1f us  rejected %llu  "
              "failed %llu\n",
              name, run.commands_per_second(), latency.percentile_ns(50) / 1e3,
              latency.percentile_ns(99) / 1e3, latency.percentile_ns(99.9) / 1e3,
              static_cast<unsigned long long>(run.stats.rejected_total()),
              static_cast<unsigned long long>(run.stats.failed_total()));
  std::fflush(stdout);
}

std::string account_name(std::uint64_t index) { return "acct-" + std::to_string(index); }

std::string transfer_id_for(std::uint64_t run_tag, std::uint64_t client, std::uint64_t index) {
  char text[64];
  std::snprintf(text, sizeof(text), "tl-%016llx-%llu-%llu", static_cast<unsigned long long>(run_tag),
                static_cast<unsigned long long>(client), static_cast<unsigned long long>(index));
  return text;
}

std::vector<std::string> account_names(std::uint64_t accounts) {
  std::vector<std::string> names;
  names.reserve(accounts);
  for (std::uint64_t i = 0; i < accounts; ++i)
    names.push_back(account_name(i));
  return names;
}

bool open_accounts(runtime& bank, std::uint64_t accounts) {
  // Pipelined: many opens in flight at once, then wait for all.
  std::mutex mutex;
  std::condition_variable all_done;
  std::uint64_t done = 0;
  bool ok = true;
  constexpr std::uint64_t in_flight_max = 1024;
  for (std::uint64_t i = 0; i < accounts; ++i) {
    {
      std::unique_lock guard{mutex};
      all_done.wait(guard, [&] { return i - done < in_flight_max; });
    }
    bank.execute_async(bank::open_account{account_name(i)}, {}, [&](result<command_reply> reply) {
      std::lock_guard guard{mutex};
      if (!reply || (!reply->accepted() && reply->outcome != error_code::account_already_exists))
        ok = false;
      ++done;
      all_done.notify_all();
    });
  }
  std::unique_lock guard{mutex};
  all_done.wait(guard, [&] { return done == accounts; });
  return ok;
}

closed_loop_result run_embedded(runtime& bank, const std::vector<std::vector<workload_command>>& lists,
                                std::uint64_t accounts, const run_controls& controls) {
  auto destination = std::make_shared<target>();
  destination->router = bank.accounts();
  destination->balances = bank.balances();
  destination->transfers = bank.transfer_manager();
  return run_clients(bank.system(), destination, lists, accounts, controls);
}

closed_loop_result run_caf_raw(caf::actor_system& system,
                               const std::vector<std::vector<workload_command>>& lists,
                               std::uint64_t accounts, const run_controls& controls) {
  auto destination = std::make_shared<target>();
  destination->raw_accounts.reserve(accounts);
  for (std::uint64_t i = 0; i < accounts; ++i)
    destination->raw_accounts.push_back(detail::spawn_without_arguments(system, raw_account));
  auto result = run_clients(system, destination, lists, accounts, controls);
  for (auto& account : destination->raw_accounts)
    caf::anon_send_exit(account, caf::exit_reason::user_shutdown);
  return result;
}

}  // namespace tally::load
