#include "app/load-drivers/open_loop_driver.hpp"

#include <algorithm>
#include <chrono>
#include <thread>

#include "caf/all.hpp"
#include "tally/runtime.hpp"

namespace tally::load {

namespace {

using fire_atom = caf::atom_constant<caf::atom("olfire")>;
using pacing_done_atom = caf::atom_constant<caf::atom("olstop")>;
using client_done_atom = caf::atom_constant<caf::atom("oldone")>;

std::uint64_t steady_ns() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                      std::chrono::steady_clock::now().time_since_epoch())
                                      .count());
}

// One client's results, handed to the coordinator once its last reply arrived.
struct open_client_result {
  run_stats stats;
  std::vector<std::pair<std::uint64_t, std::int64_t>> tally_changes;  // account, delta
  std::uint64_t accepted_writes = 0;
  transfer_tally transfers;
  std::uint64_t last_position = 0;
  std::uint64_t last_reply_ns = 0;  ///< since the schedule's start
};
using open_client_result_ptr = std::shared_ptr<open_client_result>;

}  // namespace
}  // namespace tally::load

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(tally::load::open_client_result_ptr)

namespace tally::load {

namespace {

struct open_client_state {
  static inline const char* name = "tally.load.open_loop_client";
  const std::vector<workload_command>* commands = nullptr;
  const std::vector<std::string>* names = nullptr;
  open_loop_actors target;
  caf::actor coordinator;
  std::uint64_t client = 0;
  std::uint64_t run_high = 0;        ///< high half of this run's command ids
  std::uint64_t started_ns = 0;      ///< steady clock at the schedule's start
  std::uint64_t in_flight = 0;
  std::uint64_t in_flight_max = 0;
  std::uint64_t late_threshold_ns = 0;
  progress_counters* progress = nullptr;
  bool pacing_done = false;
  open_client_result_ptr result;
};

using open_client_actor = caf::stateful_actor<open_client_state>;

void finish_if_drained(open_client_actor* self) {
  auto& st = self->state;
  if (!st.pacing_done || st.in_flight > 0)
    return;
  self->send(st.coordinator, client_done_atom::value, st.result);
  self->quit();
}

void complete(open_client_actor* self, operation op, std::uint64_t intended_ns,
              command_outcome outcome, std::string_view reason) {
  auto& st = self->state;
  const auto now = steady_ns() - st.started_ns;
  // Measured from the intended send time: the queueing delay of a slow target counts.
  const auto latency = now > intended_ns ? now - intended_ns : 0;
  st.result->stats.record_reply(op, latency, now, outcome, reason);
  st.result->last_reply_ns = std::max(st.result->last_reply_ns, now);
  if (st.progress != nullptr)
    st.progress->record_reply(latency);
  --st.in_flight;
  finish_if_drained(self);
}

void send_transfer(open_client_actor* self, std::uint64_t index, std::uint64_t intended_ns) {
  auto& st = self->state;
  const auto& command = (*st.commands)[index];
  bank::transfer_money request{transfer_id_for(st.run_high, st.client, index),
                               (*st.names)[command.account], (*st.names)[command.target_account],
                               command.amount};
  self->request(st.target.transfers, caf::infinite, std::move(request))
    .then(
      [self, index, intended_ns](const transfer_reply& reply) {
        auto& st = self->state;
        const auto& sent = (*st.commands)[index];
        st.result->last_position = std::max(st.result->last_position, reply.position);
        if (!reply.accepted()) {
          complete(self, operation::transfer, intended_ns, command_outcome::rejected,
                   to_string(reply.outcome));
        } else if (reply.status == bank::transfer_status::completed) {
          st.result->tally_changes.emplace_back(sent.account, -sent.amount);
          st.result->tally_changes.emplace_back(sent.target_account, sent.amount);
          ++st.result->transfers.completed;
          complete(self, operation::transfer, intended_ns, command_outcome::accepted, {});
        } else {
          ++st.result->transfers.failed;
          complete(self, operation::transfer, intended_ns, command_outcome::rejected,
                   to_string(reply.reason));
        }
      },
      [self, intended_ns](caf::error& failure) {
        ++self->state.result->transfers.in_doubt;
        complete(self, operation::transfer, intended_ns, command_outcome::failed,
                 to_string(to_status(failure).code()));
      });
}

void send_command(open_client_actor* self, std::uint64_t index, std::uint64_t intended_ns) {
  auto& st = self->state;
  const auto& command = (*st.commands)[index];
  const auto& account = (*st.names)[command.account];
  if (command.op == operation::transfer) {
    send_transfer(self, index, intended_ns);
    return;
  }
  if (command.op == operation::balance) {
    self->request(st.target.balances, caf::infinite, query_atom::value, balance_query{account},
                  std::uint64_t{0}, std::uint64_t{0})
      .then(
        [self, intended_ns](const balance_view&) {
          complete(self, operation::balance, intended_ns, command_outcome::accepted, {});
        },
        [self, intended_ns](caf::error& failure) {
          complete(self, operation::balance, intended_ns, command_outcome::failed,
                   to_string(to_status(failure).code()));
        });
    return;
  }
  command_envelope<bank::account_command> envelope;
  envelope.id = command_id{st.run_high ^ (st.client + 1), index + 1};
  if (command.op == operation::deposit)
    envelope.command = bank::deposit_money{account, command.amount};
  else
    envelope.command = bank::withdraw_money{account, command.amount};
  self->request(st.target.router, caf::infinite, std::move(envelope))
    .then(
      [self, index, intended_ns](const command_reply& reply) {
        auto& st = self->state;
        const auto& sent = (*st.commands)[index];
        if (reply.accepted()) {
          st.result->tally_changes.emplace_back(sent.account, sent.op == operation::deposit
                                                                ? sent.amount
                                                                : -sent.amount);
          ++st.result->accepted_writes;
          st.result->last_position = std::max(st.result->last_position, reply.position);
          complete(self, sent.op, intended_ns, command_outcome::accepted, {});
        } else {
          complete(self, sent.op, intended_ns, command_outcome::rejected,
                   to_string(reply.outcome));
        }
      },
      [self, op = command.op, intended_ns](caf::error& failure) {
        complete(self, op, intended_ns, command_outcome::failed,
                 to_string(to_status(failure).code()));
      });
}

caf::behavior open_loop_client(open_client_actor* self, const std::vector<workload_command>* commands,
                               const std::vector<std::string>* names, open_loop_actors target,
                               caf::actor coordinator, std::uint64_t client,
                               std::uint64_t run_high, std::uint64_t started_ns,
                               const open_loop_config* config) {
  auto& st = self->state;
  st.commands = commands;
  st.names = names;
  st.target = std::move(target);
  st.coordinator = std::move(coordinator);
  st.client = client;
  st.run_high = run_high;
  st.started_ns = started_ns;
  st.in_flight_max = std::max<std::uint64_t>(1, config->in_flight_max_per_client);
  st.late_threshold_ns = config->late_threshold_ns;
  st.progress = config->controls.progress;
  st.result = std::make_shared<open_client_result>();
  return {
    [self](fire_atom, std::uint64_t index, std::uint64_t intended_ns) {
      auto& st = self->state;
      if (st.in_flight >= st.in_flight_max) {
        st.result->stats.record_dropped_send();
        return;
      }
      const auto now = steady_ns() - st.started_ns;
      st.result->stats.record_send_lateness(now > intended_ns ? now - intended_ns : 0,
                                            st.late_threshold_ns);
      ++st.in_flight;
      send_command(self, index, intended_ns);
    },
    [self](pacing_done_atom, std::uint64_t never_sent) {
      auto& st = self->state;
      for (std::uint64_t i = 0; i < never_sent; ++i)
        st.result->stats.record_dropped_send();
      st.pacing_done = true;
      finish_if_drained(self);
    },
  };
}

}  // namespace

closed_loop_result run_open_loop_actors(caf::actor_system& system, const open_loop_actors& actors,
                                        const std::vector<std::vector<workload_command>>& lists,
                                        std::uint64_t accounts, const open_loop_config& config) {
  const std::vector<std::string> names = account_names(accounts);
  const std::uint64_t run_high = command_id::random().high;
  const std::uint64_t client_count = std::max<std::uint64_t>(1, lists.size());
  std::vector<open_loop_schedule> schedules;
  schedules.reserve(client_count);
  std::size_t longest = 0;
  for (std::uint64_t c = 0; c < lists.size(); ++c) {
    schedules.emplace_back(config.rate_per_s, c, client_count, lists[c].size(),
                           config.late_threshold_ns);
    longest = std::max(longest, lists[c].size());
  }
  caf::scoped_actor coordinator{system};
  const std::uint64_t started_ns = steady_ns();
  std::vector<caf::actor> clients;
  clients.reserve(lists.size());
  for (std::size_t c = 0; c < lists.size(); ++c)
    clients.push_back(system.spawn(open_loop_client, &lists[c], &names, actors,
                                   caf::actor{coordinator}, std::uint64_t{c}, run_high, started_ns,
                                   &config));

  // The pacer: the merged schedule in global order (i*C + c). It never waits for a
  // reply, so the schedule holds however slow the target is.
  std::vector<std::uint64_t> fired(lists.size(), 0);
  bool stopped = false;
  for (std::size_t i = 0; i < longest && !stopped; ++i) {
    for (std::size_t c = 0; c < lists.size(); ++c) {
      if (i >= lists[c].size())
        continue;
      const auto intended_ns = schedules[c].intended_send_ns(i);
      if (intended_ns >= config.controls.stop_after_ns) {
        stopped = true;
        break;
      }
      if (steady_ns() - started_ns < intended_ns)
        std::this_thread::sleep_until(std::chrono::steady_clock::time_point{
          std::chrono::nanoseconds{started_ns + intended_ns}});
      caf::anon_send(clients[c], fire_atom::value, std::uint64_t{i}, intended_ns);
      ++fired[c];
    }
  }
  for (std::size_t c = 0; c < lists.size(); ++c)
    caf::anon_send(clients[c], pacing_done_atom::value,
                   std::uint64_t{lists[c].size() - fired[c]});

  closed_loop_result out;
  out.client_tally.assign(accounts, 0);
  for (std::size_t received = 0; received < clients.size(); ++received) {
    coordinator->receive([&](client_done_atom, const open_client_result_ptr& result) {
      out.elapsed_ns = std::max(out.elapsed_ns, result->last_reply_ns);
      out.stats.merge(result->stats);
      for (const auto& [account, delta] : result->tally_changes)
        out.client_tally[account] += delta;
      out.accepted_writes += result->accepted_writes;
      out.transfers.completed += result->transfers.completed;
      out.transfers.failed += result->transfers.failed;
      out.transfers.in_doubt += result->transfers.in_doubt;
      out.last_position = std::max(out.last_position, result->last_position);
    });
  }
  out.commands = out.stats.completed_total();
  return out;
}

closed_loop_result run_embedded_open_loop(runtime& bank,
                                          const std::vector<std::vector<workload_command>>& lists,
                                          std::uint64_t accounts, const open_loop_config& config) {
  return run_open_loop_actors(bank.system(),
                              open_loop_actors{bank.accounts(), bank.balances(),
                                               bank.transfer_manager()},
                              lists, accounts, config);
}

}  // namespace tally::load
