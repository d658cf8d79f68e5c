// The embedded runtime: wires the event store, the account router and the bank
// projections together and offers blocking and callback conveniences on top of the
// actor protocol.
#include "tally/runtime.hpp"

#include <thread>

#include <spdlog/spdlog.h>

#include "actors/projections/bank_read_models.hpp"
#include "actors/transfer/transfer_manager.hpp"
#include "tally/assert.hpp"

namespace tally {
namespace {
using reply_callback = std::shared_ptr<std::function<void(result<command_reply>)>>;
using transfer_callback = std::shared_ptr<std::function<void(result<transfer_reply>)>>;
}  // namespace
}  // namespace tally

// Callbacks of execute_async and transfer_async travel to the gateway actor in-process only.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(tally::reply_callback)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(tally::transfer_callback)

namespace tally {

namespace {

// The actor behind execute_async: one long-lived actor for all callers instead of one
// spawned per command, and no per-request timeout (each finite timeout costs CAF's
// clock thread two events): callers that need a deadline apply it themselves.
caf::behavior command_gateway(caf::event_based_actor* self, caf::actor accounts,
                              caf::actor transfers) {
  return {
    [self, accounts](command_envelope<bank::account_command>& envelope, const reply_callback& done) {
      self->request(accounts, caf::infinite, std::move(envelope))
        .then([done](command_reply& reply) { (*done)(reply); },
              [done](caf::error& failure) { (*done)(to_status(failure)); });
    },
    [self, transfers](bank::transfer_money& request, const transfer_callback& done) {
      self->request(transfers, caf::infinite, std::move(request))
        .then([done](transfer_reply& reply) { (*done)(reply); },
              [done](caf::error& failure) { (*done)(to_status(failure)); });
    },
  };
}

// A read model that hands every event to a callback (subscriptions).
struct callback_model {
  using query_type = totals_query;
  using answer_type = std::uint64_t;
  static constexpr const char* name = "feed";

  std::function<void(const recorded_event&)> on_event;

  void apply(const recorded_event& event) {
    if (on_event)
      on_event(event);
  }
  std::uint64_t answer(const totals_query&, std::uint64_t position) const { return position; }
  std::string encode() const { return {}; }
  bool decode(std::string_view) { return false; }
};

class memory_checkpoint_store final : public checkpoint_store {
public:
  status save(const std::string& projection, const checkpoint& saved) override {
    std::lock_guard guard{mutex_};
    checkpoints_[projection] = saved;
    return status::ok();
  }
  std::optional<checkpoint> load(const std::string& projection) const override {
    std::lock_guard guard{mutex_};
    auto it = checkpoints_.find(projection);
    if (it == checkpoints_.end())
      return std::nullopt;
    return it->second;
  }
  bool blocks_on_io() const override { return false; }

private:
  mutable std::mutex mutex_;
  std::unordered_map<std::string, checkpoint> checkpoints_;
};

std::string render_tally_error(std::uint8_t code, caf::atom_value, const caf::message& context) {
  std::string text{to_string(static_cast<error_code>(code))};
  if (!context.empty() && context.match_element<std::string>(0)) {
    text += ": ";
    text += context.get_as<std::string>(0);
  }
  return text;
}

// Projections run on the scheduler; `checkpoint_writer` (set when the checkpoint store
// blocks on I/O) does their file work on its own thread.
template <class Model>
caf::actor spawn_projection(caf::actor_system& system, const runtime_config& config,
                            const caf::actor& store, Model model,
                            std::shared_ptr<checkpoint_store> checkpoints,
                            std::uint64_t start_after, caf::actor checkpoint_writer = {}) {
  TALLY_ASSERT(!checkpoint_writer == !(checkpoints && checkpoints->blocks_on_io()));
  return system.spawn(detail::projection_actor_with_writer<Model>, std::move(model), store,
                      std::move(checkpoints), config.projections, start_after,
                      std::move(checkpoint_writer));
}

}  // namespace

status to_status(const caf::error& failure) {
  if (!failure)
    return status::ok();
  if (failure.category() == caf::atom("tally")) {
    std::string message;
    const auto& context = failure.context();
    if (!context.empty() && context.match_element<std::string>(0))
      message = context.get_as<std::string>(0);
    return status{static_cast<error_code>(failure.code()), std::move(message)};
  }
  if (failure == caf::sec::request_timeout)
    return status{error_code::timeout, "no reply in time"};
  if (failure == caf::sec::request_receiver_down)
    return status{error_code::shutting_down, "the actor handling the request stopped"};
  return status{error_code::internal_error, caf::to_string(failure)};
}

void add_error_category(caf::actor_system_config& config) {
  config.add_error_category(caf::atom("tally"), render_tally_error);
}

std::shared_ptr<checkpoint_store> make_memory_checkpoint_store() {
  return std::make_shared<memory_checkpoint_store>();
}

void runtime::prepare(caf::actor_system_config& config) {
  add_error_category(config);
  // spdlog's registry is a function-local static in libspdlog.so, built by the first
  // log call. Build it here, before the actor system starts its threads: the first
  // warning (a failed checkpoint save, say) may come from two workers at once, and
  // the library's uninstrumented guard check hides the ordering from ThreadSanitizer,
  // which then reports the registry's construction as a race with the logger's level.
  spdlog::default_logger_raw();
}

void runtime::configure_private(caf::actor_system_config& config, std::size_t worker_threads) {
  prepare(config);
  if (worker_threads == 0) {
    auto cores = std::max(1u, std::thread::hardware_concurrency());
    worker_threads = std::max<std::size_t>(1, cores - 1);
  }
  config.set("scheduler.max-threads", worker_threads);
  // FIFO scheduling (one shared job queue) instead of CAF's work stealing, which runs
  // the actor woken last first (LIFO): in a closed loop a few callers then wait for
  // seconds while the others run hot. Measured on 2 cores with one worker (2026-11-28,
  // docs/benchmarks.md): in memory p99.9 121 ms -> 1.4 ms and max 2 s -> 0.16 s at
  // equal or higher throughput (the store takes larger batches when the aggregates that
  // queued appends have all run before it); durable and over HTTP no worse. An idle
  // worker sleeps on the queue's condition variable, which every enqueue notifies.
  config.set("scheduler.policy", caf::atom("sharing"));
}

runtime::runtime(caf::actor_system& system, runtime_config config)
  : system_(&system), config_(std::move(config)) {
  if (!config_.events)
    config_.events = make_memory_journal();
  if (!config_.checkpoints) {
    config_.checkpoints = make_memory_checkpoint_store();
    // In-memory checkpoints only matter at shutdown (a restart in the same process);
    // periodic ones would re-encode whole read models for nothing.
    config_.projections.checkpoint_interval_events = 0;
  }
  journal_ = config_.events;
}

result<std::unique_ptr<runtime>> runtime::start(caf::actor_system& system, runtime_config config) {
  std::unique_ptr<runtime> self{new runtime(system, std::move(config))};
  auto& cfg = self->config_;
  self->queue_ = std::make_shared<append_queue>();
  self->store_ = spawn_event_store(system, self->journal_, cfg.store, self->queue_);
  self->accounts_ = system.spawn(detail::aggregate_router<bank::account_aggregate>, self->store_,
                                 self->queue_, cfg.accounts);
  self->transfer_router_ = system.spawn(detail::aggregate_router<bank::transfer_aggregate>,
                                        self->store_, self->queue_, cfg.transfers);
  if (cfg.checkpoints->blocks_on_io())
    self->checkpoint_writer_ = system.spawn<caf::detached>(detail::checkpoint_writer,
                                                           cfg.checkpoints);
  const auto& writer = self->checkpoint_writer_;
  self->balances_ = spawn_projection(system, cfg, self->store_, balance_read_model{},
                                     cfg.checkpoints, 0, writer);
  self->histories_ = spawn_projection(system, cfg, self->store_, history_read_model{},
                                      cfg.checkpoints, 0, writer);
  self->totals_ = spawn_projection(system, cfg, self->store_, totals_read_model{},
                                   cfg.checkpoints, 0, writer);
  self->transfers_ = spawn_projection(system, cfg, self->store_, transfer_read_model{},
                                      cfg.checkpoints, 0, writer);
  transfer_manager_options manager_options;
  manager_options.transfers_in_progress_max = cfg.transfers_in_progress_max;
  self->transfer_manager_ = spawn_transfer_manager(system, self->accounts_, self->transfer_router_,
                                                   self->transfers_, self->store_, manager_options);
  self->gateway_ = system.spawn(command_gateway, self->accounts_, self->transfer_manager_);
  auto health = self->store_health();
  if (!health)
    return health.error();
  if (!health->available)
    return status{error_code::store_unavailable, health->failure};
  // Transfers cut short by a crash or stop complete or compensate now, in the
  // background (the projection first catches up with the journal).
  caf::anon_send(self->transfer_manager_, resume_atom::value);
  return self;
}

result<std::unique_ptr<runtime>> runtime::start_private(runtime_config config,
                                                        std::size_t worker_threads) {
  auto private_config = std::make_unique<caf::actor_system_config>();
  configure_private(*private_config, worker_threads);
  auto private_system = std::make_unique<caf::actor_system>(*private_config);
  auto started = start(*private_system, std::move(config));
  if (!started)
    return started.error();
  auto self = std::move(*started);
  self->private_config_ = std::move(private_config);
  self->private_system_ = std::move(private_system);
  return self;
}

runtime::~runtime() {
  shutdown();
  // Drop our handles before a private system waits for its actors: ~actor_system()
  // waits for every actor (detached ones included) and must not find any we hold.
  if (gateway_)
    caf::anon_send_exit(gateway_, caf::exit_reason::user_shutdown);
  store_ = nullptr;
  accounts_ = nullptr;
  gateway_ = nullptr;
  transfer_router_ = nullptr;
  transfer_manager_ = nullptr;
  balances_ = nullptr;
  histories_ = nullptr;
  totals_ = nullptr;
  transfers_ = nullptr;
  checkpoint_writer_ = nullptr;
  extra_routers_.clear();
  private_system_.reset();
}

caf::actor_system& runtime::system() noexcept { return *system_; }
const caf::actor& runtime::accounts() const noexcept { return accounts_; }
const caf::actor& runtime::event_store() const noexcept { return store_; }
const caf::actor& runtime::balances() const noexcept { return balances_; }
const caf::actor& runtime::histories() const noexcept { return histories_; }
const caf::actor& runtime::totals_projection() const noexcept { return totals_; }
const caf::actor& runtime::transfer_manager() const noexcept { return transfer_manager_; }
const caf::actor& runtime::transfers_projection() const noexcept { return transfers_; }
const runtime_config& runtime::config() const noexcept { return config_; }

command_envelope<bank::account_command> runtime::envelope(bank::account_command command,
                                                          const command_options& options) {
  command_envelope<bank::account_command> out;
  out.id = options.id.is_nil() ? command_id::random() : options.id;
  out.correlation = options.correlation;
  out.expected_version = options.expected_version;
  out.command = std::move(command);
  return out;
}

void runtime::execute_async(bank::account_command command, command_options options,
                            std::function<void(result<command_reply>)> done) {
  if (!bank::is_client_command(command)) {
    done(status{error_code::invalid_argument,
                "transfer steps are issued by the transfer process manager only"});
    return;
  }
  caf::anon_send(gateway_, envelope(std::move(command), options),
                 std::make_shared<std::function<void(result<command_reply>)>>(std::move(done)));
}

result<command_reply> runtime::execute(bank::account_command command, const command_options& options) {
  if (!bank::is_client_command(command))
    return status{error_code::invalid_argument,
                  "transfer steps are issued by the transfer process manager only"};
  return call<command_reply>(accounts_, envelope(std::move(command), options));
}

void runtime::transfer_async(bank::transfer_money request,
                             std::function<void(result<transfer_reply>)> done) {
  caf::anon_send(gateway_, std::move(request),
                 std::make_shared<std::function<void(result<transfer_reply>)>>(std::move(done)));
}

result<transfer_reply> runtime::transfer(bank::transfer_money request) {
  return call<transfer_reply>(transfer_manager_, std::move(request));
}

result<transfer_view> runtime::transfer_state(const std::string& transfer_id,
                                              std::uint64_t min_position,
                                              std::chrono::milliseconds wait) {
  if (!bank::is_valid_transfer_id(transfer_id))
    return status{error_code::invalid_argument, "not a valid transfer id"};
  transfers_query query;
  query.transfer_id = transfer_id;
  auto page = transfers(query, min_position, wait);
  if (!page)
    return page.error();
  TALLY_ASSERT(page->transfers.size() == 1);
  auto view = std::move(page->transfers.front());
  return view;
}

result<transfers_page> runtime::transfers(const transfers_query& query, std::uint64_t min_position,
                                          std::chrono::milliseconds wait) {
  return call<transfers_page>(transfers_, query_atom::value, query, min_position,
                              static_cast<std::uint64_t>(wait.count()));
}

result<std::uint64_t> runtime::resume_transfers() {
  return call<std::uint64_t>(transfer_manager_, resume_atom::value);
}

result<balance_view> runtime::balance(const std::string& account_id, std::uint64_t min_position,
                                      std::chrono::milliseconds wait) {
  return call<balance_view>(balances_, query_atom::value, balance_query{account_id}, min_position,
                            static_cast<std::uint64_t>(wait.count()));
}

result<history_page> runtime::history(const history_query& query, std::uint64_t min_position,
                                      std::chrono::milliseconds wait) {
  return call<history_page>(histories_, query_atom::value, query, min_position,
                            static_cast<std::uint64_t>(wait.count()));
}

result<totals_view> runtime::totals(std::uint64_t min_position, std::chrono::milliseconds wait) {
  return call<totals_view>(totals_, query_atom::value, totals_query{}, min_position,
                           static_cast<std::uint64_t>(wait.count()));
}

result<write_side_state> runtime::account_state(const std::string& account_id) {
  auto saved = call<snapshot>(accounts_, query_atom::value, account_id);
  if (!saved)
    return saved.error();
  auto state = bank::decode_state(saved->state);
  TALLY_ASSERT(state.has_value());
  return write_side_state{*state, saved->stream_version};
}

result<state_at<bank::account_state>>
runtime::account_state_at_version(const std::string& account_id, std::uint64_t version) {
  auto replayed = replay<bank::account_aggregate>(account_id, version);
  if (replayed && replayed->version < version)
    return status{error_code::account_not_found,
                  "account " + account_id + " has only " + std::to_string(replayed->version)
                    + " events"};
  return replayed;
}

result<state_at<bank::account_state>>
runtime::account_state_at_time(const std::string& account_id, std::int64_t timestamp_ns) {
  return replay<bank::account_aggregate>(account_id, UINT64_MAX, timestamp_ns);
}

result<std::vector<recorded_event>> runtime::read_stream(const std::string& stream_id,
                                                         std::uint64_t from_version,
                                                         std::uint64_t max_count) {
  return call<std::vector<recorded_event>>(store_, read_stream_atom::value, stream_id,
                                           from_version, max_count);
}

result<std::vector<recorded_event>> runtime::read_all(std::uint64_t from_position,
                                                      std::uint64_t max_count) {
  return call<std::vector<recorded_event>>(store_, read_all_atom::value, from_position, max_count);
}

result<store_status> runtime::store_health() {
  return call<store_status>(store_, status_atom::value);
}

result<detail::router_counters> runtime::account_counters() {
  return call<detail::router_counters>(accounts_, resident_atom::value);
}

subscription runtime::subscribe(std::uint64_t from_position,
                                std::function<void(const recorded_event&)> on_event) {
  auto start_after = from_position == 0 ? 0 : from_position - 1;
  return subscription{spawn_projection(system(), config_, store_,
                                       callback_model{std::move(on_event)}, nullptr, start_after)};
}

status runtime::shutdown() {
  if (stopped_)
    return status::ok();
  stopped_ = true;
  auto deadline = config_.shutdown_timeout;
  status outcome;
  caf::scoped_actor self{system()};
  auto wait_for = [&](const caf::actor& target, auto... xs) {
    bool ok = false;
    self->request(target, deadline, xs...)
      .receive([&](bool) { ok = true; },
               [&](caf::error& failure) {
                 if (outcome.is_ok())
                   outcome = to_status(failure);
               });
    return ok;
  };
  // 1. No new transfers; those in progress reach an end (or stop at a failure and
  //    resume on the next start). Then no new commands; every aggregate finishes
  //    what it has and stops.
  wait_for(transfer_manager_, drain_atom::value);
  std::vector<caf::actor> routers = extra_routers_;
  routers.push_back(accounts_);
  routers.push_back(transfer_router_);
  for (auto& router : routers)
    wait_for(router, drain_atom::value);
  // 2. Everything handed to the store is committed.
  wait_for(store_, drain_atom::value);
  // 3. Projections apply everything committed, then save their checkpoints.
  std::uint64_t head = 0;
  self->request(store_, deadline, head_atom::value)
    .receive([&](std::uint64_t value) { head = value; }, [&](caf::error&) {});
  auto settle = [&](const caf::actor& projection, auto query, auto answer) {
    using answer_type = decltype(answer);
    self->request(projection, deadline, query_atom::value, query, head,
                  static_cast<std::uint64_t>(deadline.count()))
      .receive([&](const answer_type&) {}, [&](caf::error& failure) {
        if (outcome.is_ok())
          outcome = to_status(failure);
      });
    self->request(projection, deadline, checkpoint_atom::value)
      .receive([&](std::uint64_t) {}, [&](caf::error& failure) {
        if (outcome.is_ok())
          outcome = to_status(failure);
      });
  };
  settle(balances_, balance_query{}, balance_view{});
  settle(histories_, history_query{}, history_page{});
  settle(totals_, totals_query{}, totals_view{});
  settle(transfers_, transfers_query{}, transfers_page{});
  // 4. Stop everything.
  for (auto& router : routers)
    self->send_exit(router, caf::exit_reason::user_shutdown);
  // The gateway stays until the runtime is destroyed: a late execute_async still gets
  // its callback (shutting_down) instead of a silently dropped message.
  self->send_exit(transfer_manager_, caf::exit_reason::user_shutdown);
  for (auto* projection : {&balances_, &histories_, &totals_, &transfers_})
    self->send_exit(*projection, caf::exit_reason::user_shutdown);
  // After the projections' final checkpoints (answered above): its own thread ends.
  if (checkpoint_writer_)
    self->send_exit(checkpoint_writer_, caf::exit_reason::user_shutdown);
  self->send_exit(store_, caf::exit_reason::user_shutdown);
  return outcome;
}

}  // namespace tally
