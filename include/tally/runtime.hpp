// The embedded Tally runtime: the whole bank (account router and actors, event store,
// projections) inside a host program's CAF actor system, or a private one.
//
// Threads: every member function may be called from any thread that is not a CAF
// scheduler thread of the same actor system (the blocking ones wait for replies).
// The *_async functions never block and may be called from anywhere, actors included;
// their callbacks run on a CAF thread and must not block.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "caf/all.hpp"

#include "tally/aggregate.hpp"
#include "tally/bank.hpp"
#include "tally/checkpoint_store.hpp"
#include "tally/detail/projection_actor.hpp"
#include "tally/error.hpp"
#include "tally/event_store.hpp"
#include "tally/journal.hpp"
#include "tally/protocol.hpp"
#include "tally/read_models.hpp"

namespace tally {

/// Everything a runtime is configured with. Defaults suit tests and small programs.
struct runtime_config {
  /// The journal; null means a fresh in-memory journal.
  std::shared_ptr<journal> events;
  /// Projection checkpoints; null means in memory.
  std::shared_ptr<checkpoint_store> checkpoints;
  event_store_options store;
  router_options accounts;
  /// The transfer aggregates (one per transfer stream).
  router_options transfers;
  /// Transfers driven at once by the transfer process manager; more are refused
  /// with limit_exceeded.
  std::size_t transfers_in_progress_max = 10000;
  projection_options projections;
  /// Timeout of the blocking convenience calls (command and query round trips).
  std::chrono::milliseconds call_timeout{std::chrono::seconds{30}};
  /// Longest the whole of shutdown() may take before it stops waiting.
  std::chrono::milliseconds shutdown_timeout{std::chrono::seconds{10}};
};

/// Per-command options.
struct command_options {
  command_id id;                                 ///< nil: a random id is generated
  command_id correlation;                        ///< optional
  std::uint64_t expected_version = any_version;  ///< optimistic concurrency check
};

/// An aggregate's state rebuilt from its events (time travel).
template <class State>
struct state_at {
  State state;
  std::uint64_t version = 0;       ///< version of the last event applied (0: none)
  std::uint64_t position = 0;      ///< global position of that event
  std::int64_t timestamp_ns = 0;   ///< its commit time
};

/// The write-side state of an account as its actor holds it (for audits).
struct write_side_state {
  bank::account_state state;
  std::uint64_t version = 0;
};

/// A running subscription; destroying it (or calling cancel()) stops the feed.
class subscription {
public:
  subscription() = default;
  explicit subscription(caf::actor feed) : feed_(std::move(feed)) {}
  subscription(subscription&&) noexcept = default;
  subscription& operator=(subscription&& other) noexcept {
    cancel();
    feed_ = std::move(other.feed_);
    return *this;
  }
  ~subscription() { cancel(); }
  void cancel() {
    if (feed_)
      caf::anon_send_exit(feed_, caf::exit_reason::user_shutdown);
    feed_ = nullptr;
  }

private:
  caf::actor feed_;
};

class runtime {
public:
  /// Adds what Tally needs to a host's actor system configuration (the "tally" error
  /// category, so errors render by name) and builds spdlog's registry while only the
  /// calling thread exists. Call before constructing the actor_system.
  static void prepare(caf::actor_system_config& config);

  /// A configuration for a private actor system: `worker_threads` scheduler threads
  /// (0: one fewer than the cores, at least 1; CAF's default oversubscribes) taking
  /// jobs in FIFO order from one shared queue (scheduler.policy = sharing): CAF's
  /// default work stealing runs the actor woken last first, and under load a few
  /// callers then wait for seconds. A host's own system may want the same.
  static void configure_private(caf::actor_system_config& config, std::size_t worker_threads = 0);

  /// Starts a runtime inside `system`, which must outlive it. Spawns the event store,
  /// the account and transfer routers, the transfer process manager and the four
  /// bank projections, then resumes every unfinished transfer found in the journal
  /// (in the background). Errors: store_unavailable when the journal cannot be used.
  static result<std::unique_ptr<runtime>> start(caf::actor_system& system, runtime_config config = {});

  /// Starts a runtime with a private actor system (see configure_private()).
  static result<std::unique_ptr<runtime>> start_private(runtime_config config = {},
                                                        std::size_t worker_threads = 0);

  /// Calls shutdown() if it was not called.
  ~runtime();

  runtime(const runtime&) = delete;
  runtime& operator=(const runtime&) = delete;

  // -- Handles for actor-based hosts --------------------------------------------------

  caf::actor_system& system() noexcept;
  /// Accepts command_envelope<bank::account_command>, replies command_reply.
  const caf::actor& accounts() const noexcept;
  const caf::actor& event_store() const noexcept;
  /// Projections: (query_atom, query, uint64 min_position, uint64 wait_ms) -> view.
  const caf::actor& balances() const noexcept;
  const caf::actor& histories() const noexcept;
  const caf::actor& totals_projection() const noexcept;
  /// The transfer process manager: bank::transfer_money -> transfer_reply.
  const caf::actor& transfer_manager() const noexcept;
  /// Projection of transfers: (query_atom, transfers_query, min_position, wait_ms).
  const caf::actor& transfers_projection() const noexcept;
  const runtime_config& config() const noexcept;

  // -- Commands --------------------------------------------------------------------------

  /// Wraps `command` into an envelope with `options` (a random id when none is given).
  static command_envelope<bank::account_command> envelope(bank::account_command command,
                                                          const command_options& options = {});

  /// Sends a command; `done` gets the reply (accepted or rejected), or a failure
  /// (store_unavailable, shutting_down, ...). Never blocks. No timeout is applied
  /// (the runtime answers every command it took); callers needing a deadline keep
  /// their own.
  void execute_async(bank::account_command command, command_options options,
                     std::function<void(result<command_reply>)> done);

  /// Sends a command and waits for its reply (at most config().call_timeout).
  /// Only client commands (bank::is_client_command): transfer steps are the transfer
  /// process manager's (invalid_argument).
  result<command_reply> execute(bank::account_command command, const command_options& options = {});

  // -- Transfers ---------------------------------------------------------------------------

  /// Moves money between two accounts (tally/transfer.hpp) and answers once the
  /// transfer completed or failed. `request.transfer_id` is the idempotency key: a
  /// retry answers the original outcome (and resumes the transfer if it was cut
  /// short). A failure (store_unavailable, timeout, ...) leaves the transfer in doubt;
  /// retry with the same id. Never blocks.
  void transfer_async(bank::transfer_money request, std::function<void(result<transfer_reply>)> done);

  /// transfer_async() and wait (at most config().call_timeout).
  result<transfer_reply> transfer(bank::transfer_money request);

  /// One transfer's state from the transfers read model (exists = false when the id
  /// was never requested), waiting for min_position like balance().
  result<transfer_view> transfer_state(const std::string& transfer_id, std::uint64_t min_position = 0,
                                       std::chrono::milliseconds wait = std::chrono::seconds{5});

  /// Unfinished transfers and the money in flight (see transfers_query).
  result<transfers_page> transfers(const transfers_query& query, std::uint64_t min_position = 0,
                                   std::chrono::milliseconds wait = std::chrono::seconds{5});

  /// Resumes unfinished transfers now (start() does it once); answers how many were
  /// picked up. For hosts and tests that want to wait for the resume.
  result<std::uint64_t> resume_transfers();

  // -- Queries (read models) ------------------------------------------------------------

  /// Balance from the balances read model. With min_position > 0 the answer waits
  /// until the model has applied that position (read-your-writes), at most `wait`.
  result<balance_view> balance(const std::string& account_id, std::uint64_t min_position = 0,
                               std::chrono::milliseconds wait = std::chrono::seconds{5});
  result<history_page> history(const history_query& query, std::uint64_t min_position = 0,
                               std::chrono::milliseconds wait = std::chrono::seconds{5});
  result<totals_view> totals(std::uint64_t min_position = 0,
                             std::chrono::milliseconds wait = std::chrono::seconds{5});

  // -- Write side, journal, time travel ------------------------------------------------

  /// The account actor's own state (rehydrating it if it is not resident).
  result<write_side_state> account_state(const std::string& account_id);

  /// The account's state after version `version` (0: before any event), replayed
  /// from the journal. Errors: account_not_found when the stream has fewer events.
  result<state_at<bank::account_state>> account_state_at_version(const std::string& account_id,
                                                                 std::uint64_t version);

  /// The account's state as of `timestamp_ns` (events committed at or before it).
  result<state_at<bank::account_state>> account_state_at_time(const std::string& account_id,
                                                              std::int64_t timestamp_ns);

  /// Events of one stream, from `from_version`, at most `max_count`.
  result<std::vector<recorded_event>> read_stream(const std::string& stream_id,
                                                  std::uint64_t from_version,
                                                  std::uint64_t max_count);

  /// Committed events from `from_position`, at most `max_count`.
  result<std::vector<recorded_event>> read_all(std::uint64_t from_position, std::uint64_t max_count);

  /// The store's head position and health.
  result<store_status> store_health();

  /// Resident aggregate actors and spawn/passivation counts of the account router.
  result<detail::router_counters> account_counters();

  /// Calls `on_event` for every committed event with position >= from_position, in
  /// order: first those already in the journal, then new ones as they commit.
  /// `on_event` runs on a CAF thread, one event at a time; it must not block.
  subscription subscribe(std::uint64_t from_position,
                         std::function<void(const recorded_event&)> on_event);

  // -- Generic aggregates ----------------------------------------------------------------

  /// Starts a router for aggregate type Aggregate on this runtime's event store.
  /// Send it command_envelope<Aggregate::command_type>; it replies command_reply.
  template <class Aggregate>
  caf::actor start_aggregate(router_options options) {
    auto router = system().spawn(detail::aggregate_router<Aggregate>, event_store(), queue_, options);
    extra_routers_.push_back(router);
    return router;
  }

  /// Sends `envelope` to `router` and waits for the reply.
  template <class Command>
  result<command_reply> execute_on(const caf::actor& router, command_envelope<Command> envelope) {
    return call<command_reply>(router, std::move(envelope));
  }

  /// Replays stream `stream_id` of Aggregate up to `version` (UINT64_MAX: all).
  template <class Aggregate>
  result<state_at<typename Aggregate::state_type>> replay(const std::string& stream_id,
                                                          std::uint64_t version,
                                                          std::int64_t until_timestamp_ns = INT64_MAX) {
    state_at<typename Aggregate::state_type> out{Aggregate::initial_state(), 0, 0, 0};
    std::uint64_t next = 1;
    for (;;) {
      auto page = read_stream(stream_id, next, read_events_max);
      if (!page)
        return page.error();
      for (const auto& event : *page) {
        if (event.stream_version > version || event.timestamp_ns > until_timestamp_ns)
          return out;
        auto decoded = Aggregate::decode_event(event.type, event.schema_version, event.payload);
        if (!decoded)
          return status{error_code::journal_corrupt, decoded.error().to_string()};
        out.state = Aggregate::evolve(std::move(out.state), *decoded);
        out.version = event.stream_version;
        out.position = event.position;
        out.timestamp_ns = event.timestamp_ns;
      }
      if (page->size() < read_events_max)
        return out;
      next = out.version + 1;
    }
  }

  // -- Lifecycle ---------------------------------------------------------------------------

  /// Stops taking commands, lets every command already taken finish and commit,
  /// waits for the projections to apply everything, saves their checkpoints and
  /// stops all actors. Bounded by config().shutdown_timeout. Idempotent. Errors: the
  /// first problem met (timeout; a checkpoint that could not be saved, e.g.
  /// store_unavailable) — everything still stops.
  status shutdown();

private:
  runtime(caf::actor_system& system, runtime_config config);

  /// Requests `xs...` from `target` and waits for a T (at most call_timeout).
  template <class T, class... Ts>
  result<T> call(const caf::actor& target, Ts&&... xs) {
    caf::scoped_actor self{system()};
    result<T> out{error_code::timeout};
    self->request(target, config_.call_timeout, std::forward<Ts>(xs)...)
      .receive([&](T& value) { out = std::move(value); },
               [&](caf::error& failure) { out = to_status(failure); });
    return out;
  }

  std::unique_ptr<caf::actor_system_config> private_config_;
  std::unique_ptr<caf::actor_system> private_system_;
  caf::actor_system* system_ = nullptr;
  runtime_config config_;
  std::shared_ptr<journal> journal_;
  std::shared_ptr<append_queue> queue_;
  caf::actor store_;
  caf::actor accounts_;
  caf::actor gateway_;  ///< serves execute_async and transfer_async
  caf::actor transfer_router_;
  caf::actor transfer_manager_;
  caf::actor balances_;
  caf::actor histories_;
  caf::actor totals_;
  caf::actor transfers_;
  caf::actor checkpoint_writer_;  ///< detached; set when checkpoints block on I/O
  std::vector<caf::actor> extra_routers_;
  bool stopped_ = false;
};

}  // namespace tally
