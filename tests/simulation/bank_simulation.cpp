#include "simulation/bank_simulation.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <cstdio>
#include <cstdlib>

#include "caf/all.hpp"
#include "caf/scheduler/test_coordinator.hpp"

#include "actors/projections/bank_read_models.hpp"
#include "app/tallyd/file_checkpoint_store.hpp"
#include "store/verify.hpp"
#include "support/deterministic_system.hpp"
#include "support/fault_file_system.hpp"
#include "support/seed.hpp"
#include "tally/aggregate.hpp"
#include "tally/detail/projection_actor.hpp"
#include "tally/event_store.hpp"
#include "tally/file_journal.hpp"
#include "tally/protocol.hpp"

namespace tally::simulation {

namespace {

using namespace std::chrono_literals;
using test_support::splitmix64;
using testing::fault_file_system;
using testing::fault_operation;
using testing::fault_persistence;
using testing::unsynced_bytes;
using envelope_type = command_envelope<bank::account_command>;
__extension__ typedef __int128 int128;

using next_atom = caf::atom_constant<caf::atom("simnext")>;
using retry_atom = caf::atom_constant<caf::atom("simretry")>;

const std::string journal_directory = "/journal";
const std::string checkpoint_directory = "/checkpoints";

// Explicit limits per seed: a run that needs more is a livelock or a hang.
constexpr std::uint64_t steps_max = 3'000'000;
constexpr auto simulated_time_max = std::chrono::hours{2};
constexpr std::size_t violations_max = 12;
// Attempts to bring the server up after restarts that crash during recovery.
constexpr int start_attempts_max = 4;

// -- What a seed decides up front -------------------------------------------------------

enum class disruption_kind : std::uint8_t {
  io_fault,       ///< EIO/ENOSPC on the n-th operation of a kind, once or from then on
  power_loss,     ///< the machine loses power at the n-th next file-system operation
  process_kill,   ///< kill -9 between two actor steps
  clean_restart,  ///< drain, checkpoint, stop, start
};

struct disruption {
  disruption_kind kind = disruption_kind::io_fault;
  std::uint64_t at_step = 0;
  fault_operation operation = fault_operation::write;
  std::uint64_t nth = 1;
  int error_number = EIO;
  fault_persistence persistence = fault_persistence::once;
  std::uint64_t operations_ahead = 1;
};

struct scenario {
  std::size_t clients = 0;
  std::size_t commands_per_client = 0;
  std::size_t accounts = 0;
  std::uint64_t backoff_max_ms = 0;
  router_options routing;
  event_store_options store;
  projection_options projections;
  file_journal_options journal;
  std::vector<disruption> disruptions;  ///< by step

  std::string describe() const {
    std::ostringstream out;
    out << "clients=" << clients << " commands_per_client=" << commands_per_client
        << " accounts=" << accounts << " resident_max=" << routing.resident_max
        << " idle_max_ms=" << routing.idle_max.count()
        << " waiting_commands_max=" << routing.waiting_commands_max
        << " snapshot_interval=" << routing.aggregate.snapshot_interval_events
        << " batch_events_max=" << store.batch_events_max
        << " pending_events_max=" << store.pending_events_max
        << " checkpoint_interval=" << projections.checkpoint_interval_events
        << " catch_up_page=" << projections.catch_up_page_events
        << " segment_bytes_max=" << journal.segment_bytes_max
        << " index_checkpoint=" << journal.index_checkpoint << " disruptions=[";
    static constexpr const char* kinds[] = {"io_fault", "power_loss", "kill", "clean_restart"};
    for (const auto& planned : disruptions)
      out << ' ' << kinds[static_cast<int>(planned.kind)] << '@' << planned.at_step;
    out << " ]";
    return out.str();
  }
};

template <class T, std::size_t N>
T pick(splitmix64& random, const T (&choices)[N]) {
  return choices[random.below(N)];
}

scenario draw_scenario(splitmix64& random) {
  scenario plan;
  plan.clients = 2 + random.below(6);
  plan.commands_per_client = 20 + random.below(101);
  plan.accounts = 2 + random.below(5);
  plan.backoff_max_ms = 5 + random.below(100);
  // Small limits on purpose: passivation, rehydration from snapshots, held-back
  // commands, backpressure and batches closed early all happen within a few commands.
  plan.routing.resident_max = random.below(3) == 0 ? 1 + random.below(3) : 1000;
  plan.routing.sweep_interval = 100ms;
  plan.routing.idle_max = random.below(2) == 0 ? 0ms : std::chrono::milliseconds{200 + 100 * random.below(6)};
  plan.routing.waiting_commands_max = random.below(4) == 0 ? 1 + random.below(4) : 4096;
  plan.routing.aggregate.snapshot_interval_events = pick(random, {0, 0, 2, 3, 5});
  plan.store.io_mode = journal_io_mode::inline_calls;  // deterministic: no writer thread
  plan.store.command_events_max = 2;
  plan.store.batch_events_max = pick(random, {2, 3, 8, 4096});
  plan.store.pending_events_max = random.below(4) == 0 ? 2 + random.below(8) : 1 << 20;
  plan.projections.checkpoint_interval_events = pick(random, {0, 1, 5, 13, 40});
  plan.projections.catch_up_page_events = pick(random, {1, 3, 16, 4096});
  plan.journal.directory = journal_directory;
  plan.journal.segment_bytes_max = random.below(2) == 0 ? segment_bytes_min : 4 * segment_bytes_min;
  plan.journal.repair = repair_mode::refuse;
  plan.journal.index_checkpoint = random.below(4) != 0;
  plan.journal.index_checkpoint_segments = 1 + random.below(3);
  // Roughly ten actor steps per command: disruptions land anywhere in the run.
  std::uint64_t horizon = plan.clients * plan.commands_per_client * 10;
  std::size_t count = random.below(10) == 0 ? 0 : 1 + random.below(6);
  for (std::size_t i = 0; i < count; ++i) {
    disruption planned;
    planned.at_step = random.below(horizon);
    auto kind = random.below(100);
    if (kind < 40) {
      planned.kind = disruption_kind::io_fault;
      planned.operation = pick(random, {fault_operation::write, fault_operation::write,
                                        fault_operation::sync, fault_operation::sync,
                                        fault_operation::open, fault_operation::rename,
                                        fault_operation::sync_directory, fault_operation::truncate});
      planned.nth = 1 + random.below(4);
      planned.error_number = random.below(2) == 0 ? EIO : ENOSPC;
      planned.persistence = random.below(2) == 0 ? fault_persistence::once
                                                 : fault_persistence::persistent;
    } else if (kind < 75) {
      planned.kind = disruption_kind::power_loss;
      planned.operations_ahead = 1 + random.below(12);
    } else if (kind < 90) {
      planned.kind = disruption_kind::process_kill;
    } else {
      planned.kind = disruption_kind::clean_restart;
    }
    plan.disruptions.push_back(planned);
  }
  std::sort(plan.disruptions.begin(), plan.disruptions.end(),
            [](const disruption& a, const disruption& b) { return a.at_step < b.at_step; });
  return plan;
}

// -- What the clients know ---------------------------------------------------------------

/// Everything the clients sent under one command id and what they were told.
struct command_history {
  std::vector<bank::account_command> payloads;  ///< distinct payloads sent under this id
  std::optional<std::size_t> accepted;          ///< the payload a reply said was applied
  std::uint64_t position = 0;                   ///< from the first accepted reply
  std::uint64_t version = 0;
  std::vector<std::size_t> answered_reused;     ///< payloads answered reused-with-other-payload

  std::size_t index_of(const bank::account_command& command) {
    for (std::size_t i = 0; i < payloads.size(); ++i)
      if (bank::fingerprint(payloads[i]) == bank::fingerprint(command)
          && bank::target_account(payloads[i]) == bank::target_account(command))
        return i;
    payloads.push_back(command);
    return payloads.size() - 1;
  }
};

enum class client_phase : std::uint8_t {
  idle,
  waiting,      ///< for the reply to a command
  backing_off,  ///< until it retries a command in doubt
  querying,     ///< reads its own write from the balances projection
  done,
};

struct client_model {
  std::size_t number = 0;
  splitmix64 random{0};
  std::size_t commands_left = 0;
  std::uint64_t next_serial = 1;
  std::vector<std::pair<command_id, bank::account_command>> issued;
  std::map<std::string, std::uint64_t> known_versions;  ///< per account, from replies
  envelope_type current;
  std::uint64_t attempt = 0;  ///< increases with every send; stale replies are ignored
  client_phase phase = client_phase::idle;
};

/// What the simulated clients and the harness share (one thread: the test coordinator).
/// TALLY_SIMULATION_TRACE=1 prints what happens (for replaying one seed).
bool tracing() {
  static const bool enabled = [] {
    const char* text = std::getenv("TALLY_SIMULATION_TRACE");
    return text != nullptr && *text != '\0' && *text != '0';
  }();
  return enabled;
}

void trace(const std::string& text) {
  if (tracing())
    std::fprintf(stderr, "trace: %s\n", text.c_str());
}

struct shared_world {
  const scenario* plan = nullptr;
  caf::actor router;    ///< null while the server is down
  caf::actor balances;  ///< the balances projection of the running server
  std::function<bool()> troubled;  ///< the server failed, lost power or is stopping
  std::map<command_id, command_history> ledger;
  std::vector<std::string> violations;
  simulation_figures figures;

  void violation(std::string text) {
    if (violations.size() < violations_max)
      violations.push_back(std::move(text));
  }
};

using client_pointer = std::shared_ptr<client_model>;
using world_pointer = std::shared_ptr<shared_world>;

std::string name_of(const command_id& id) { return to_string(id); }

std::string describe(const bank::account_command& command) {
  std::string out{bank::command_name(command)};
  out += "(" + bank::target_account(command);
  if (const auto* deposit = std::get_if<bank::deposit_money>(&command))
    out += ", " + std::to_string(deposit->amount);
  if (const auto* withdrawal = std::get_if<bank::withdraw_money>(&command))
    out += ", " + std::to_string(withdrawal->amount);
  return out + ")";
}

bank::account_command draw_command(client_model& me, const scenario& plan) {
  auto account = [&] { return "acct-" + std::to_string(me.random.below(plan.accounts)); };
  auto amount = [&] { return static_cast<money>(1 + me.random.below(1000)); };
  auto roll = me.random.below(1000);
  if (roll < 80)
    return bank::open_account{account()};
  if (roll < 90)  // not a positive amount
    return bank::deposit_money{account(), -static_cast<money>(me.random.below(3))};
  if (roll < 100)  // two of these overflow a balance
    return bank::deposit_money{account(), std::numeric_limits<money>::max() / 3};
  if (roll < 450)
    return bank::deposit_money{account(), amount()};
  if (roll < 800)  // often more than the balance
    return bank::withdraw_money{account(), amount() + amount() / 2};
  if (roll < 830)
    return bank::close_account{account()};
  if (roll < 870) {  // never opened
    auto ghost = "ghost-" + std::to_string(me.random.below(3));
    if (me.random.below(2) == 0)
      return bank::deposit_money{ghost, amount()};
    return bank::withdraw_money{ghost, amount()};
  }
  if (roll < 880)  // not a valid stream id
    return bank::deposit_money{"bad/account", amount()};
  return bank::deposit_money{account(), amount()};
}

envelope_type draw_envelope(client_model& me, const scenario& plan) {
  envelope_type out;
  auto roll = me.random.below(100);
  if (!me.issued.empty() && roll < 8) {
    // A command id sent before: the same payload (a retry by a confused client) or,
    // half of the time, another payload under the same id.
    const auto& [id, command] = me.issued[me.random.below(me.issued.size())];
    out.id = id;
    out.command = roll < 4 ? command : draw_command(me, plan);
    return out;
  }
  out.id = command_id{(std::uint64_t{0x51} << 56) | me.number, me.next_serial++};
  out.command = me.issued.empty()
                  ? bank::account_command{bank::open_account{
                      "acct-" + std::to_string(me.random.below(plan.accounts))}}
                  : draw_command(me, plan);
  // Optimistic concurrency: the version this client last saw, often stale.
  auto known = me.known_versions.find(bank::target_account(out.command));
  if (known != me.known_versions.end() && me.random.below(10) == 0)
    out.expected_version = known->second;
  me.issued.emplace_back(out.id, out.command);
  return out;
}

void send_current(caf::event_based_actor* self, const client_pointer& me, const world_pointer& world);

void read_own_write(caf::event_based_actor* self, const client_pointer& me,
                    const world_pointer& world, const command_reply& reply);

void back_off(caf::event_based_actor* self, const client_pointer& me, const world_pointer& world) {
  me->phase = client_phase::backing_off;
  auto delay = std::chrono::milliseconds{1 + me->random.below(world->plan->backoff_max_ms)};
  self->delayed_send(self, delay, retry_atom::value, me->attempt);
}

void next_command(caf::event_based_actor* self, const client_pointer& me, const world_pointer& world) {
  if (me->commands_left == 0) {
    me->phase = client_phase::done;
    return;
  }
  --me->commands_left;
  ++world->figures.commands;
  me->current = draw_envelope(*me, *world->plan);
  send_current(self, me, world);
}

void settle(caf::event_based_actor* self, const client_pointer& me, const world_pointer& world,
            const command_reply& reply) {
  const auto& id = me->current.id;
  auto& history = world->ledger[id];
  auto index = history.index_of(me->current.command);
  auto what = "client " + std::to_string(me->number) + ": " + describe(me->current.command)
              + " id " + name_of(id);
  trace(what + " -> " + std::string{to_string(reply.outcome)} + " version "
        + std::to_string(reply.stream_version) + " position " + std::to_string(reply.position)
        + (reply.duplicate ? " (duplicate)" : ""));
  if (reply.accepted()) {
    ++(reply.duplicate ? world->figures.duplicates : world->figures.accepted);
    if (reply.position == 0 || reply.stream_version == 0)
      world->violation(what + " accepted without a position");
    if (me->current.expected_version != any_version && !reply.duplicate
        && reply.stream_version != me->current.expected_version + 1)
      world->violation(what + " expected version " + std::to_string(me->current.expected_version)
                       + " but was accepted at version " + std::to_string(reply.stream_version));
    if (!history.accepted) {
      history.accepted = index;
      history.position = reply.position;
      history.version = reply.stream_version;
    } else if (*history.accepted != index) {
      world->violation(what + " accepted, but the id was applied before with "
                       + describe(history.payloads[*history.accepted]));
    } else if (!reply.duplicate) {
      world->violation(what + " accepted again without the duplicate mark (applied twice?)");
    } else if (history.position != reply.position || history.version != reply.stream_version) {
      world->violation(what + " retry answered position " + std::to_string(reply.position)
                       + ", the original was at " + std::to_string(history.position));
    }
  } else {
    ++world->figures.rejected;
    if (reply.outcome == error_code::wrong_expected_version
        && me->current.expected_version == any_version)
      // Only a version the client named can be wrong; a conflict of the account's own
      // pipeline (it decided on a state that ran ahead) must be decided again.
      world->violation(what + " named no expected version but was answered wrong_expected_version");
    if (reply.outcome == error_code::command_id_reused_with_different_payload)
      history.answered_reused.push_back(index);
    else if (history.accepted && *history.accepted == index)
      // A retry of an applied command must get the original outcome back.
      world->violation(what + " was accepted at position " + std::to_string(history.position)
                       + ", a retry was answered " + std::string{to_string(reply.outcome)});
  }
  auto& known = me->known_versions[bank::target_account(me->current.command)];
  known = std::max(known, reply.stream_version);
  me->phase = client_phase::idle;
  if (reply.accepted() && world->balances && me->random.below(4) == 0) {
    read_own_write(self, me, world, reply);
    return;
  }
  next_command(self, me, world);
}

// Read-your-writes: the balances projection answers once it has applied the position
// of an accepted command, never with less.
void read_own_write(caf::event_based_actor* self, const client_pointer& me,
                    const world_pointer& world, const command_reply& reply) {
  me->phase = client_phase::querying;
  ++world->figures.queries;
  auto attempt = ++me->attempt;
  auto account = bank::target_account(me->current.command);
  auto what = "client " + std::to_string(me->number) + ": read-your-writes of "
              + describe(me->current.command) + " at position " + std::to_string(reply.position);
  self->request(world->balances, caf::infinite, query_atom::value, balance_query{account},
                reply.position, std::uint64_t{5000})
    .then(
      [self, me, world, attempt, reply, what](const balance_view& view) {
        if (attempt != me->attempt || me->phase != client_phase::querying)
          return;
        if (view.as_of_position < reply.position || view.version < reply.stream_version
            || !view.exists || view.balance < 0)
          world->violation(what + " answered as of position " + std::to_string(view.as_of_position)
                           + ", version " + std::to_string(view.version) + ", balance "
                           + std::to_string(view.balance));
        next_command(self, me, world);
      },
      [self, me, world, attempt, what](caf::error& failure) {
        if (attempt != me->attempt || me->phase != client_phase::querying)
          return;
        if (!world->troubled())
          world->violation(what + " failed while the server was healthy: "
                           + to_status(failure).to_string());
        next_command(self, me, world);
      });
}

void send_current(caf::event_based_actor* self, const client_pointer& me, const world_pointer& world) {
  ++me->attempt;
  ++world->figures.attempts;
  trace("client " + std::to_string(me->number) + " sends " + describe(me->current.command) + " id "
        + name_of(me->current.id) + " expected version "
        + (me->current.expected_version == any_version
             ? std::string{"any"}
             : std::to_string(me->current.expected_version)));
  world->ledger[me->current.id].index_of(me->current.command);
  me->phase = client_phase::waiting;
  if (!world->router) {
    ++world->figures.in_doubt;
    back_off(self, me, world);
    return;
  }
  auto attempt = me->attempt;
  self->request(world->router, caf::infinite, me->current)
    .then(
      [self, me, world, attempt](command_reply& reply) {
        if (attempt == me->attempt && me->phase == client_phase::waiting)
          settle(self, me, world, reply);
      },
      [self, me, world, attempt](caf::error& failure) {
        if (attempt != me->attempt || me->phase != client_phase::waiting)
          return;
        // In doubt: the command may or may not have been applied. Retry it with the
        // same id until a reply says what happened.
        ++world->figures.in_doubt;
        auto reason = to_status(failure);
        trace("client " + std::to_string(me->number) + ": " + describe(me->current.command)
              + " in doubt: " + reason.to_string());
        if (!world->troubled() && reason.code() != error_code::limit_exceeded)
          world->violation("client " + std::to_string(me->number) + ": "
                           + describe(me->current.command) + " failed with "
                           + reason.to_string() + " while the server was healthy");
        back_off(self, me, world);
      });
}

caf::behavior simulated_client(caf::event_based_actor* self, client_pointer me, world_pointer world) {
  return {
    [self, me, world](next_atom) { next_command(self, me, world); },
    [self, me, world](retry_atom, std::uint64_t attempt) {
      if (attempt == me->attempt && me->phase == client_phase::backing_off)
        send_current(self, me, world);
    },
  };
}

// -- The server process ----------------------------------------------------------------

struct server_health {
  bool stopping = false;
  bool store_failed = false;
  std::string store_failure;
  bool projection_down = false;
  std::string projection_failure;
};

struct server {
  std::shared_ptr<journal> events;
  std::shared_ptr<checkpoint_store> checkpoints;
  caf::actor store;
  caf::actor router;
  caf::actor balances;
  caf::actor histories;
  caf::actor totals;
  std::shared_ptr<server_health> health = std::make_shared<server_health>();
};

enum class stop_kind : std::uint8_t { clean, kill };

/// Replays an account's events the way the bank's rules allow them, independently of
/// bank::evolve (which asserts), so an impossible event is reported, not aborted on.
struct account_replay {
  bank::account_status status = bank::account_status::not_opened;
  money balance = 0;
  std::uint64_t version = 0;
};

// -- The harness -------------------------------------------------------------------------

class bank_simulation {
public:
  explicit bank_simulation(std::uint64_t seed) : master_{seed} {
    scenario_random_ = splitmix64{master_.next()};
    scheduling_ = splitmix64{master_.next()};
    restarts_ = splitmix64{master_.next()};
    plan_ = draw_scenario(scenario_random_);
    shared_ = std::make_shared<shared_world>();
    shared_->plan = &plan_;
    shared_->troubled = [this] {
      return !server_.router || server_.health->stopping || server_.health->store_failed
             || server_.health->projection_down || fs_.power_lost();
    };
  }

  simulation_result run() {
    simulation_result result;
    result.parameters = plan_.describe();
    started_at_ = clock().now();
    if (start_server()) {
      for (std::size_t number = 0; number < plan_.clients; ++number) {
        auto me = std::make_shared<client_model>();
        me->number = number;
        me->random = splitmix64{master_.next()};
        me->commands_left = plan_.commands_per_client;
        clients_.push_back(me);
        client_actors_.push_back(world_.system().spawn(simulated_client, me, shared_));
      }
      for (const auto& client : client_actors_)
        caf::anon_send(client, next_atom::value);
      if (drive())
        audit();
    }
    teardown();
    shared_->figures.seeds = 1;
    shared_->figures.steps = steps_;
    shared_->figures.simulated_ms = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(clock().now() - started_at_).count());
    result.violations = shared_->violations;
    result.figures = shared_->figures;
    return result;
  }

private:
  caf::detail::test_actor_clock& clock() { return world_.scheduler().clock(); }

  void violation(std::string text) { shared_->violation(std::move(text)); }

  // Runs one job chosen by the seeded generator.
  void step() {
    auto& jobs = world_.scheduler().jobs;
    auto index = static_cast<std::ptrdiff_t>(scheduling_.below(jobs.size()));
    std::rotate(jobs.begin(), jobs.begin() + index, jobs.begin() + index + 1);
    world_.scheduler().run_once();
    ++steps_;
  }

  void run_seeded_until_idle() {
    while (world_.scheduler().has_job() && steps_ < steps_max)
      step();
  }

  template <class T, class... Ts>
  std::optional<T> ask(const caf::actor& target, Ts... xs) {
    auto slot = world_.request<T>(target, xs...);
    world_.run();
    if (!slot->has_value() || !**slot)
      return std::nullopt;
    return std::move(***slot);
  }

  bool needs_restart() const {
    return server_.health->store_failed || server_.health->projection_down || fs_.power_lost();
  }

  unsynced_bytes draw_unsynced_mode() {
    return pick(restarts_, {unsynced_bytes::dropped, unsynced_bytes::torn_prefix_kept,
                            unsynced_bytes::torn_prefix_garbled});
  }

  void power_loss() {
    trace("power loss");
    fs_.crash(draw_unsynced_mode(), restarts_.next());
    ++shared_->figures.power_losses;
  }

  template <class Model>
  caf::actor spawn_projection(Model model, const std::string& name) {
    auto projection = world_.system().spawn(detail::projection_actor<Model>, std::move(model),
                                            server_.store, server_.checkpoints, plan_.projections,
                                            std::uint64_t{0});
    projection->attach_functor([health = server_.health, name](const caf::error& reason) {
      if (!health->stopping) {
        health->projection_down = true;
        health->projection_failure = name + ": " + caf::to_string(reason);
      }
    });
    return projection;
  }

  // Opens the journal on the file system as it is now (recovering from whatever the
  // last stop left) and starts store, router and projections.
  bool start_server() {
    for (int attempt = 1; attempt <= start_attempts_max; ++attempt) {
      // Sometimes the power fails again while recovery writes (cuts tails, removes
      // leftovers, writes the index checkpoint); the last attempt runs undisturbed,
      // so a start that fails then is a failure of recovery itself.
      if (attempt < start_attempts_max && restarts_.below(6) == 0)
        fs_.crash_at_operation(fs_.operations() + 1 + restarts_.below(8));
      recovery_report report;
      auto opened = open_file_journal(fs_, plan_.journal, &report);
      std::shared_ptr<checkpoint_store> checkpoints;
      if (opened) {
        auto made = daemon::make_file_checkpoint_store(fs_, checkpoint_directory);
        if (made)
          checkpoints = *made;
      }
      if (opened && checkpoints && !fs_.power_lost()) {
        trace("server starts: head " + std::to_string((*opened)->head()) + ", "
              + std::to_string(report.actions.size()) + " recovery actions"
              + (report.actions.empty() ? std::string{}
                                        : ": " + report.actions.front().reason + " in "
                                            + report.actions.front().file));
        shared_->figures.recovery_actions += report.actions.size();
        server_.events = std::shared_ptr<journal>{std::move(*opened)};
        server_.checkpoints = std::move(checkpoints);
        check_acknowledged_survived();
        spawn_server();
        return true;
      }
      auto why = opened ? std::string{"the checkpoint store could not be created"}
                        : opened.error().to_string();
      if (opened)
        opened->reset();  // closes the journal (and releases its lock)
      checkpoints.reset();
      if (!fs_.power_lost()) {
        violation("the journal did not open after a restart: " + why);
        return false;
      }
      ++shared_->figures.crashes_during_recovery;
      power_loss();
    }
    violation("the server did not start in " + std::to_string(start_attempts_max) + " attempts");
    return false;
  }

  // Every command a client was told was accepted is in the recovered journal, at the
  // position the reply named.
  void check_acknowledged_survived() {
    for (const auto& [id, history] : shared_->ledger) {
      if (!history.accepted)
        continue;
      auto found = server_.events->find_command(id);
      if (!found || found->last_position != history.position
          || found->last_version != history.version)
        violation("acknowledged command " + name_of(id) + " ("
                  + describe(history.payloads[*history.accepted]) + " at position "
                  + std::to_string(history.position) + ") is missing after restart "
                  + std::to_string(restarts_done_));
    }
  }

  void spawn_server() {
    server_.health = std::make_shared<server_health>();
    auto options = plan_.store;
    options.on_failure = [health = server_.health](const status& failure) {
      health->store_failed = true;
      health->store_failure = failure.to_string();
    };
    auto queue = std::make_shared<append_queue>();
    server_.store = spawn_event_store(world_.system(), server_.events, options, queue);
    server_.router = world_.system().spawn(detail::aggregate_router<bank::account_aggregate>,
                                           server_.store, queue, plan_.routing);
    server_.balances = spawn_projection(balance_read_model{}, "balances");
    server_.histories = spawn_projection(history_read_model{}, "history");
    server_.totals = spawn_projection(totals_read_model{}, "totals");
    shared_->router = server_.router;
    shared_->balances = server_.balances;
    restart_at_once_ = restarts_.below(3) == 0;
    // Commands whose replies were lost with the previous process are retried now.
    for (std::size_t i = 0; i < clients_.size(); ++i) {
      if (abandoned_.count(i) == 0)
        continue;
      if (clients_[i]->phase == client_phase::backing_off)
        caf::anon_send(client_actors_[i], retry_atom::value, clients_[i]->attempt);
      else if (clients_[i]->phase == client_phase::idle)
        caf::anon_send(client_actors_[i], next_atom::value);  // its query died with the server
    }
    abandoned_.clear();
  }

  // Stops every actor of the server process. kill: as kill -9 (nothing the process
  // still does reaches the disk); clean: routers and store drain and projections
  // save their checkpoints first, and the journal closes normally.
  void stop_server(stop_kind how) {
    trace(std::string{"server stops: "} + (how == stop_kind::clean ? "clean" : "killed")
          + (server_.health->store_failed ? ", store failed: " + server_.health->store_failure : "")
          + (server_.health->projection_down ? ", " + server_.health->projection_failure : ""));
    server_.health->stopping = true;
    if (how == stop_kind::clean) {
      // The answers do not matter: a failed store answers its drain with an error.
      world_.request<bool>(server_.router, drain_atom::value);
      run_seeded_until_idle();
      world_.request<bool>(server_.store, drain_atom::value);
      run_seeded_until_idle();
      for (const auto& projection : {server_.balances, server_.histories, server_.totals})
        world_.request<std::uint64_t>(projection, checkpoint_atom::value);
      run_seeded_until_idle();
    } else {
      fs_.kill_process();
    }
    shared_->router = nullptr;
    shared_->balances = nullptr;
    auto reason = how == stop_kind::clean ? caf::exit_reason::user_shutdown : caf::exit_reason::kill;
    auto* router = dynamic_cast<detail::router_actor_type*>(
      caf::actor_cast<caf::abstract_actor*>(server_.router));
    if (router != nullptr)
      for (const auto& [stream_id, entry] : router->state.entries.entries())
        caf::anon_send_exit(entry.actor, reason);
    for (const auto& actor : {server_.router, server_.store, server_.balances,
                              server_.histories, server_.totals})
      caf::anon_send_exit(actor, reason);
    world_.run();
    // Replies that did not come before the process died never will.
    for (std::size_t i = 0; i < clients_.size(); ++i) {
      auto& me = *clients_[i];
      if (me.phase == client_phase::querying) {
        ++me.attempt;
        me.phase = client_phase::idle;
        abandoned_.insert(i);
      }
      if (me.phase != client_phase::waiting)
        continue;
      ++me.attempt;
      me.phase = client_phase::backing_off;
      ++shared_->figures.in_doubt;
      abandoned_.insert(i);
    }
    std::weak_ptr<journal> closed = server_.events;
    auto health = server_.health;
    server_ = server{};
    server_.health = health;
    if (!closed.expired())
      violation("the journal is still referenced after every actor of the server stopped");
  }

  enum class restart_cause : std::uint8_t { failure, kill, clean };

  void restart(restart_cause cause) {
    ++restarts_done_;
    const auto& health = *server_.health;
    if (health.store_failed)
      ++shared_->figures.store_failures;
    if (health.projection_down)
      ++shared_->figures.projection_failures;
    bool power_lost = fs_.power_lost();
    if (cause == restart_cause::clean) {
      stop_server(stop_kind::clean);
      if (fs_.power_lost()) {  // a planned power loss struck during the drain
        power_loss();
      } else {
        fs_.restart_process();
        ++shared_->figures.clean_restarts;
      }
    } else {
      stop_server(stop_kind::kill);
      if (power_lost || restarts_.below(2) == 0) {
        power_loss();
      } else {
        fs_.restart_process();
        ++shared_->figures.process_kills;
      }
    }
    if (!start_server())
      fatal_ = true;
  }

  void apply(const disruption& planned) {
    trace("disruption " + std::to_string(static_cast<int>(planned.kind)) + " at step "
          + std::to_string(steps_) + " (operation " + std::to_string(static_cast<int>(planned.operation))
          + ", nth " + std::to_string(planned.nth) + ", ahead " + std::to_string(planned.operations_ahead)
          + ")");
    switch (planned.kind) {
      case disruption_kind::io_fault:
        fs_.inject_fault(planned.operation, planned.nth, planned.error_number, planned.persistence);
        ++shared_->figures.io_faults_injected;
        break;
      case disruption_kind::power_loss:
        fs_.crash_at_operation(fs_.operations() + planned.operations_ahead);
        break;
      case disruption_kind::process_kill:
        restart(restart_cause::kill);
        break;
      case disruption_kind::clean_restart:
        restart(restart_cause::clean);
        break;
    }
  }

  bool all_clients_done() const {
    return std::all_of(clients_.begin(), clients_.end(),
                       [](const client_pointer& me) { return me->phase == client_phase::done; });
  }

  // Runs the clients to the end; false when the run cannot go on (a hang, a livelock,
  // a server that does not start).
  bool drive() {
    auto& scheduler = world_.scheduler();
    std::size_t next_disruption = 0;
    while (!fatal_) {
      if (steps_ >= steps_max) {
        violation("livelock: " + std::to_string(steps_max) + " actor steps without finishing");
        return false;
      }
      if (scheduler.has_job()) {
        if (next_disruption < plan_.disruptions.size()
            && plan_.disruptions[next_disruption].at_step <= steps_) {
          apply(plan_.disruptions[next_disruption++]);
          continue;
        }
        step();
        if (restart_at_once_ && needs_restart())
          restart(restart_cause::failure);
        continue;
      }
      // Idle: every message was handled. A server that took a command, failed or
      // not, must have answered it by now.
      for (const auto& me : clients_)
        if (me->phase == client_phase::waiting
            || (me->phase == client_phase::querying && !needs_restart())) {
          violation("hang: client " + std::to_string(me->number) + "'s "
                    + (me->phase == client_phase::querying ? "read-your-writes query after "
                                                           : "")
                    + describe(me->current.command) + " id " + name_of(me->current.id)
                    + " got no reply and nothing is left to run");
          return false;
        }
      if (needs_restart()) {
        restart(restart_cause::failure);
        continue;
      }
      if (all_clients_done())
        return true;
      if (!clock().has_pending_timeout()) {
        violation("stuck: clients are not done and no timer is pending");
        return false;
      }
      clock().trigger_timeout();
      if (clock().now() - started_at_ > simulated_time_max) {
        violation("livelock: clients not done after two hours of simulated time");
        return false;
      }
    }
    return false;
  }

  // -- The audit at the end of a run -----------------------------------------------------

  struct live_account {
    std::optional<balance_view> balance;
    std::optional<bank::account_state> write_side;
    std::uint64_t write_side_version = 0;
    std::uint64_t history_events = 0;
    std::optional<money> history_last_balance;
    bool history_read = false;
  };

  std::vector<recorded_event> read_everything(const journal& source) {
    std::vector<recorded_event> out;
    for (;;) {
      auto page = source.read_all(out.size() + 1, read_events_max);
      if (!page) {
        violation("reading the journal failed: " + page.error().to_string());
        return out;
      }
      out.insert(out.end(), page->begin(), page->end());
      if (page->size() < read_events_max)
        return out;
    }
  }

  void audit() {
    // Nothing planned may strike the audit itself.
    fs_.clear_faults();
    fs_.crash_at_operation(0);
    auto head = ask<std::uint64_t>(server_.store, head_atom::value);
    if (!head) {
      violation("the store did not answer its head");
      return;
    }
    for (const auto& [name, projection] :
         {std::pair{"balances", server_.balances}, std::pair{"history", server_.histories},
          std::pair{"totals", server_.totals}}) {
      auto position = ask<std::uint64_t>(projection, head_atom::value);
      if (!position || *position != *head)
        violation(std::string{name} + " projection is at "
                  + (position ? std::to_string(*position) : std::string{"(no answer)"})
                  + ", the store's head is " + std::to_string(*head));
    }
    auto live_log = read_everything(*server_.events);
    std::set<std::string> accounts;
    for (std::size_t i = 0; i < plan_.accounts; ++i)
      accounts.insert("acct-" + std::to_string(i));
    for (int i = 0; i < 3; ++i)
      accounts.insert("ghost-" + std::to_string(i));
    for (const auto& event : live_log)
      accounts.insert(event.stream_id);
    std::map<std::string, live_account> live;
    for (const auto& account : accounts) {
      auto& view = live[account];
      view.balance = ask<balance_view>(server_.balances, query_atom::value, balance_query{account},
                                       *head, std::uint64_t{0});
      if (auto saved = ask<snapshot>(server_.router, query_atom::value, account)) {
        view.write_side = bank::decode_state(saved->state);
        view.write_side_version = saved->stream_version;
      }
      history_query query{account, 1, history_page_events_max};
      while (auto page = ask<history_page>(server_.histories, query_atom::value, query, *head,
                                           std::uint64_t{0})) {
        view.history_read = true;
        view.history_events = page->total_events;
        if (!page->entries.empty())
          view.history_last_balance = page->entries.back().balance_after;
        if (page->next_version == 0)
          break;
        query.from_version = page->next_version;
      }
    }
    auto totals = ask<totals_view>(server_.totals, query_atom::value, totals_query{}, *head,
                                   std::uint64_t{0});
    // A power loss now must lose nothing: every committed batch was synced.
    stop_server(stop_kind::kill);
    fs_.crash(unsynced_bytes::dropped, restarts_.next());
    std::vector<recorded_event> cold_log;
    {
      auto reopened = open_file_journal(fs_, plan_.journal);
      if (!reopened) {
        violation("the journal did not open cold after the run: " + reopened.error().to_string());
        return;
      }
      cold_log = read_everything(**reopened);
    }
    if (cold_log != live_log)
      violation("the journal read cold after a power loss (" + std::to_string(cold_log.size())
                + " events) differs from the live one (" + std::to_string(live_log.size())
                + " events)");
    store::verify_options checks;
    checks.check_snapshot = [](const snapshot& saved,
                               const std::vector<recorded_event>& events) -> std::optional<std::string> {
      if (saved.format_version != bank::account_state_format_version)
        return std::nullopt;  // ignored by rehydration
      bank::account_state state;
      for (const auto& event : events)
        state = bank::evolve(state, *bank::decode_event(event.type, event.schema_version, event.payload));
      auto restored = bank::decode_state(saved.state);
      if (!restored || *restored != state)
        return std::string{"snapshot differs from the replayed state"};
      return std::nullopt;
    };
    auto verified = store::verify_data_directory(fs_, journal_directory, checks);
    for (const auto& problem : verified.problems)
      if (problem.severity == store::problem_severity::error)
        violation("verify: " + problem.file + " at " + std::to_string(problem.offset) + ": "
                  + problem.description);
    shared_->figures.events += cold_log.size();
    check_log(cold_log, live, totals);
  }

  void check_log(const std::vector<recorded_event>& log, const std::map<std::string, live_account>& live,
                 const std::optional<totals_view>& totals) {
    std::map<std::string, account_replay> replayed;
    std::map<command_id, const recorded_event*> applied;
    std::uint64_t expected_position = 0;
    for (const auto& event : log) {
      auto where = " at position " + std::to_string(event.position);
      if (event.position != ++expected_position) {
        violation("positions are not contiguous: expected " + std::to_string(expected_position)
                  + where);
        return;
      }
      auto& account = replayed[event.stream_id];
      if (event.stream_version != ++account.version)
        violation("versions of " + event.stream_id + " are not contiguous" + where);
      if (!applied.emplace(event.command, &event).second)
        violation("command " + name_of(event.command) + " applied twice" + where + " and "
                  + std::to_string(applied[event.command]->position));
      check_event_was_submitted(event);
      replay(account, event);
    }
    // Every acknowledged command is in the log where its reply said.
    for (const auto& [id, history] : shared_->ledger) {
      if (history.accepted && applied.count(id) == 0)
        violation("acknowledged command " + name_of(id) + " ("
                  + describe(history.payloads[*history.accepted]) + ") is not in the log");
      for (auto index : history.answered_reused) {
        auto it = applied.find(id);
        if (it == applied.end())
          violation("command " + name_of(id) + " was answered reused-with-different-payload"
                    " but the id was never applied");
        else if (it->second->command_hash == bank::fingerprint(history.payloads[index]))
          violation("command " + name_of(id) + " was answered reused-with-different-payload"
                    " for the payload the log holds");
      }
    }
    check_accounts(replayed, live, totals, log.size());
  }

  // Nothing in the log that no client sent: the id, the payload's fingerprint, the
  // account and the event's content match a command sent under that id.
  void check_event_was_submitted(const recorded_event& event) {
    auto where = " at position " + std::to_string(event.position);
    auto found = shared_->ledger.find(event.command);
    if (found == shared_->ledger.end()) {
      violation("event" + where + " comes from command " + name_of(event.command)
                + ", which no client sent");
      return;
    }
    const auto& history = found->second;
    if (!history.accepted) {
      violation("command " + name_of(event.command) + " is in the log" + where
                + " but no client was told it was accepted");
      return;
    }
    const auto& command = history.payloads[*history.accepted];
    if (bank::fingerprint(command) != event.command_hash
        || bank::target_account(command) != event.stream_id)
      violation("event" + where + " does not match the accepted " + describe(command));
    if (history.position != event.position || history.version != event.stream_version)
      violation("accepted " + describe(command) + " was answered position "
                + std::to_string(history.position) + ", it is" + where);
    auto decoded = bank::decode_event(event.type, event.schema_version, event.payload);
    if (!decoded) {
      violation("event" + where + " does not decode: " + decoded.error().to_string());
      return;
    }
    bool matches = false;
    if (std::holds_alternative<bank::open_account>(command))
      matches = std::holds_alternative<bank::account_opened>(*decoded);
    else if (std::holds_alternative<bank::close_account>(command))
      matches = std::holds_alternative<bank::account_closed>(*decoded);
    else if (const auto* deposit = std::get_if<bank::deposit_money>(&command))
      matches = std::holds_alternative<bank::money_deposited>(*decoded)
                && std::get<bank::money_deposited>(*decoded).amount == deposit->amount;
    else if (const auto* withdrawal = std::get_if<bank::withdraw_money>(&command))
      matches = std::holds_alternative<bank::money_withdrawn>(*decoded)
                && std::get<bank::money_withdrawn>(*decoded).amount == withdrawal->amount;
    if (!matches)
      violation("event " + event.type + where + " is not what " + describe(command) + " decides");
  }

  void replay(account_replay& account, const recorded_event& event) {
    auto where = event.stream_id + " at position " + std::to_string(event.position);
    auto decoded = bank::decode_event(event.type, event.schema_version, event.payload);
    if (!decoded)
      return;  // reported by check_event_was_submitted
    using bank::account_status;
    if (std::holds_alternative<bank::account_opened>(*decoded)) {
      if (account.status != account_status::not_opened)
        violation("opened twice: " + where);
      account.status = account_status::open;
    } else if (const auto* deposit = std::get_if<bank::money_deposited>(&*decoded)) {
      if (account.status != account_status::open || deposit->amount <= 0
          || __builtin_add_overflow(account.balance, deposit->amount, &account.balance))
        violation("impossible deposit: " + where);
    } else if (const auto* withdrawal = std::get_if<bank::money_withdrawn>(&*decoded)) {
      if (account.status != account_status::open || withdrawal->amount <= 0)
        violation("impossible withdrawal: " + where);
      account.balance -= withdrawal->amount;
      if (account.balance < 0)
        violation("negative balance " + std::to_string(account.balance) + ": " + where);
    } else if (std::holds_alternative<bank::account_closed>(*decoded)) {
      if (account.status != account_status::open || account.balance != 0)
        violation("impossible close: " + where);
      account.status = account_status::closed;
    } else {
      violation("event of a kind no client command produces: " + event.type + " " + where);
    }
  }

  // Per account: replay == client tally == read model == write side == history; no
  // negative balance; totals == the sum of all of them.
  void check_accounts(const std::map<std::string, account_replay>& replayed,
                      const std::map<std::string, live_account>& live,
                      const std::optional<totals_view>& totals, std::uint64_t events) {
    // 128 bits: the ledger is in command-id order, not the order the bank applied the
    // commands, so a running sum may leave int64 although no balance ever does.
    std::map<std::string, int128> tally;
    for (const auto& [id, history] : shared_->ledger) {
      if (!history.accepted)
        continue;
      const auto& command = history.payloads[*history.accepted];
      auto& balance = tally[bank::target_account(command)];
      if (const auto* deposit = std::get_if<bank::deposit_money>(&command))
        balance += deposit->amount;
      if (const auto* withdrawal = std::get_if<bank::withdraw_money>(&command))
        balance -= withdrawal->amount;
    }
    int128 sum = 0;
    std::uint64_t open = 0;
    std::uint64_t closed = 0;
    for (const auto& entry : live) {
      // Named, not bound: the lambda below captures it (C++17 lambdas cannot capture a
      // structured binding; clang refuses).
      const std::string& account = entry.first;
      const live_account& view = entry.second;
      account_replay expected;
      if (auto it = replayed.find(account); it != replayed.end())
        expected = it->second;
      sum += expected.balance;
      open += expected.status != bank::account_status::not_opened ? 1 : 0;
      closed += expected.status == bank::account_status::closed ? 1 : 0;
      auto mismatch = [&](const std::string& what, money value) {
        violation(account + ": " + what + " balance " + std::to_string(value) + ", replay "
                  + std::to_string(expected.balance));
      };
      int128 client_tally = tally.count(account) != 0 ? tally.at(account) : 0;
      if (client_tally != expected.balance)
        mismatch("client tally", static_cast<money>(client_tally));
      if (!view.balance) {
        violation(account + ": the balances projection did not answer");
      } else {
        if (view.balance->balance != expected.balance)
          mismatch("read-model", view.balance->balance);
        if (view.balance->version != expected.version || view.balance->status != expected.status)
          violation(account + ": read model at version " + std::to_string(view.balance->version)
                    + ", the stream has " + std::to_string(expected.version));
        if (view.balance->balance < 0)
          mismatch("negative read-model", view.balance->balance);
      }
      if (!view.write_side) {
        violation(account + ": the account actor did not answer");
      } else {
        if (view.write_side->balance != expected.balance)
          mismatch("write-side", view.write_side->balance);
        if (view.write_side_version != expected.version || view.write_side->status != expected.status)
          violation(account + ": write side at version " + std::to_string(view.write_side_version)
                    + ", the stream has " + std::to_string(expected.version));
      }
      if (!view.history_read)
        violation(account + ": the history projection did not answer");
      else if (view.history_events != expected.version
               || (expected.version > 0 && view.history_last_balance != expected.balance))
        violation(account + ": history has " + std::to_string(view.history_events)
                  + " events and a different balance");
    }
    if (!totals) {
      violation("the totals projection did not answer");
      return;
    }
    bool fits = sum <= std::numeric_limits<money>::max();
    if (totals->events != events || totals->accounts_open + totals->accounts_closed != open
        || totals->accounts_closed != closed || totals->total_balance_overflow == fits
        || (fits && totals->total_balance != static_cast<money>(sum)))
      violation("totals (balance " + std::to_string(totals->total_balance) + ", events "
                + std::to_string(totals->events) + ") differ from the replay (events "
                + std::to_string(events) + ")");
  }

  void teardown() {
    if (server_.router)
      stop_server(stop_kind::kill);
    for (const auto& client : client_actors_)
      caf::anon_send_exit(client, caf::exit_reason::kill);
    world_.run();
    client_actors_.clear();
  }

  splitmix64 master_;
  splitmix64 scenario_random_{0};
  splitmix64 scheduling_{0};
  splitmix64 restarts_{0};
  scenario plan_;
  fault_file_system fs_;  // declared before the actor system: it outlives every journal
  test_support::deterministic_system world_;
  std::shared_ptr<shared_world> shared_;
  server server_;
  std::vector<client_pointer> clients_;
  std::vector<caf::actor> client_actors_;
  std::set<std::size_t> abandoned_;
  caf::actor_clock::time_point started_at_;
  std::uint64_t steps_ = 0;
  std::uint64_t restarts_done_ = 0;
  bool restart_at_once_ = false;
  bool fatal_ = false;
};

}  // namespace

void simulation_figures::add(const simulation_figures& other) {
  seeds += other.seeds;
  commands += other.commands;
  attempts += other.attempts;
  accepted += other.accepted;
  queries += other.queries;
  duplicates += other.duplicates;
  rejected += other.rejected;
  in_doubt += other.in_doubt;
  io_faults_injected += other.io_faults_injected;
  store_failures += other.store_failures;
  projection_failures += other.projection_failures;
  power_losses += other.power_losses;
  process_kills += other.process_kills;
  clean_restarts += other.clean_restarts;
  crashes_during_recovery += other.crashes_during_recovery;
  recovery_actions += other.recovery_actions;
  events += other.events;
  steps += other.steps;
  simulated_ms += other.simulated_ms;
}

std::string simulation_figures::to_string() const {
  std::ostringstream out;
  out << "seeds=" << seeds << " commands=" << commands << " attempts=" << attempts
      << " accepted=" << accepted << " queries=" << queries << " duplicates=" << duplicates << " rejected=" << rejected
      << " in_doubt=" << in_doubt << " io_faults_injected=" << io_faults_injected
      << " store_failures=" << store_failures << " projection_failures=" << projection_failures
      << " power_losses=" << power_losses << " process_kills=" << process_kills
      << " clean_restarts=" << clean_restarts
      << " crashes_during_recovery=" << crashes_during_recovery
      << " recovery_actions=" << recovery_actions << " events=" << events << " steps=" << steps
      << " simulated_ms=" << simulated_ms;
  return out.str();
}

simulation_result run_bank_simulation(std::uint64_t seed) {
  bank_simulation simulation{seed};
  return simulation.run();
}

}  // namespace tally::simulation
