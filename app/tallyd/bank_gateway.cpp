#include "app/tallyd/bank_gateway.hpp"

#include <memory>

#include "tally/detail/spawn.hpp"
namespace tally::daemon {
namespace {
/// Work for the query actor: runs in its context and issues one request.
using query_job = std::shared_ptr<std::function<void(caf::event_based_actor*)>>;
}  // namespace
}  // namespace tally::daemon

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(tally::daemon::query_job)

namespace tally::daemon {

namespace {

caf::behavior query_runner(caf::event_based_actor* self) {
  return {
    [self](const query_job& job) { (*job)(self); },
  };
}

/// Asks a read model through the long-lived query actor. No request timeout: the
/// projection itself bounds every wait (min_position + wait_ms) and always answers,
/// and a finite timeout costs CAF's clock thread two events per request.
template <class T, class... Ts>
void query_async(const caf::actor& runner, caf::actor target, std::function<void(result<T>)> done,
                 Ts... xs) {
  auto job = std::make_shared<std::function<void(caf::event_based_actor*)>>(
    [target, done, xs...](caf::event_based_actor* self) mutable {
      self->request(target, caf::infinite, std::move(xs)...)
        .then([done](T& value) { done(std::move(value)); },
              [done](caf::error& failure) { done(to_status(failure)); });
    });
  caf::anon_send(runner, query_job{std::move(job)});
}

/// Requests `xs...` from `target` in a fresh actor and calls `done` with the T reply.
template <class T, class... Ts>
void request_async(caf::actor_system& system, caf::actor target, std::chrono::milliseconds timeout,
                   std::function<void(result<T>)> done, Ts... xs) {
  detail::spawn_without_arguments(system, [=](caf::event_based_actor* self) mutable {
    self->request(target, timeout, std::move(xs)...)
      .then([=](T& value) { done(std::move(value)); },
            [=](caf::error& failure) { done(to_status(failure)); });
  });
}

constexpr std::uint64_t replay_page_events = 1024;

struct replay_job {
  caf::actor store;
  std::string stream;
  std::uint64_t version = 0;
  std::int64_t until_ns = 0;
  std::chrono::milliseconds timeout{0};
  replayed_state out;
  std::uint64_t next_version = 1;
  std::function<void(result<replayed_state>)> done;
};

void replay_step(caf::event_based_actor* self, std::shared_ptr<replay_job> job) {
  self->request(job->store, job->timeout, read_stream_atom::value, job->stream, job->next_version,
                replay_page_events)
    .then(
      [self, job](std::vector<recorded_event>& events) {
        if (!events.empty())
          job->out.stream_exists = true;
        for (const auto& event : events) {
          if (event.stream_version > job->version || event.timestamp_ns > job->until_ns) {
            job->done(job->out);
            return;
          }
          auto decoded = bank::decode_event(event.type, event.schema_version, event.payload);
          if (!decoded) {
            job->done(status{error_code::journal_corrupt, decoded.error().to_string()});
            return;
          }
          job->out.at.state = bank::evolve(std::move(job->out.at.state), *decoded);
          job->out.at.version = event.stream_version;
          job->out.at.position = event.position;
          job->out.at.timestamp_ns = event.timestamp_ns;
        }
        if (events.size() < replay_page_events) {
          job->done(job->out);
          return;
        }
        job->next_version = job->out.at.version + 1;
        replay_step(self, job);
      },
      [job](caf::error& failure) { job->done(to_status(failure)); });
}

}  // namespace

bank_gateway::bank_gateway(runtime& bank, std::chrono::milliseconds call_timeout)
  : bank_(bank),
    call_timeout_(call_timeout),
    queries_(detail::spawn_without_arguments(bank.system(), query_runner)) {}

bank_gateway::~bank_gateway() {
  caf::anon_send_exit(queries_, caf::exit_reason::user_shutdown);
}

void bank_gateway::execute(bank::account_command command, command_id id,
                           callback<command_reply> done) {
  command_options options;
  options.id = id;
  bank_.execute_async(std::move(command), options, std::move(done));
}

void bank_gateway::transfer(bank::transfer_money request, callback<transfer_reply> done) {
  bank_.transfer_async(std::move(request), std::move(done));
}

void bank_gateway::transfer_state(std::string transfer_id, std::uint64_t min_position,
                                  std::chrono::milliseconds wait, callback<transfers_page> done) {
  transfers_query query;
  query.transfer_id = std::move(transfer_id);
  query_async<transfers_page>(queries_, bank_.transfers_projection(), std::move(done),
                              query_atom::value, std::move(query), min_position,
                              static_cast<std::uint64_t>(wait.count()));
}

void bank_gateway::balance(std::string account_id, std::uint64_t min_position,
                           std::chrono::milliseconds wait, callback<balance_view> done) {
  query_async<balance_view>(queries_, bank_.balances(), std::move(done), query_atom::value,
                            balance_query{std::move(account_id)}, min_position,
                            static_cast<std::uint64_t>(wait.count()));
}

void bank_gateway::history(history_query query, std::uint64_t min_position,
                           std::chrono::milliseconds wait, callback<history_page> done) {
  query_async<history_page>(queries_, bank_.histories(), std::move(done), query_atom::value,
                            std::move(query), min_position, static_cast<std::uint64_t>(wait.count()));
}

void bank_gateway::totals(std::uint64_t min_position, std::chrono::milliseconds wait,
                          callback<totals_view> done) {
  query_async<totals_view>(queries_, bank_.totals_projection(), std::move(done), query_atom::value,
                           totals_query{}, min_position, static_cast<std::uint64_t>(wait.count()));
}

void bank_gateway::replay(std::string account_id, std::uint64_t version, std::int64_t until_ns,
                          callback<replayed_state> done) {
  auto job = std::make_shared<replay_job>();
  job->store = bank_.event_store();
  job->stream = std::move(account_id);
  job->version = version;
  job->until_ns = until_ns;
  job->timeout = call_timeout_;
  job->out.at.state = bank::account_aggregate::initial_state();
  job->done = std::move(done);
  detail::spawn_without_arguments(bank_.system(),
                                  [job](caf::event_based_actor* self) { replay_step(self, job); });
}

void bank_gateway::read_all(std::uint64_t from_position, std::uint64_t max_count,
                            callback<std::vector<recorded_event>> done) {
  request_async<std::vector<recorded_event>>(bank_.system(), bank_.event_store(), call_timeout_,
                                             std::move(done), read_all_atom::value, from_position,
                                             max_count);
}

void bank_gateway::store_health(callback<store_status> done) {
  request_async<store_status>(bank_.system(), bank_.event_store(), call_timeout_, std::move(done),
                              status_atom::value);
}

void bank_gateway::metrics(callback<runtime_metrics> done) {
  // One actor asks everything at once and answers when the last reply arrived (or at
  // the first failure); /metrics is scraped rarely. Every callback runs in that actor,
  // so the shared job needs no lock.
  struct metrics_job {
    runtime_metrics out;
    int replies_pending = 0;
    bool answered = false;
    callback<runtime_metrics> done;
  };
  auto job = std::make_shared<metrics_job>();
  job->done = std::move(done);
  auto store = bank_.event_store();
  auto accounts = bank_.accounts();
  auto balances = bank_.balances();
  auto histories = bank_.histories();
  auto totals = bank_.totals_projection();
  auto transfers = bank_.transfers_projection();
  auto timeout = call_timeout_;
  detail::spawn_without_arguments(bank_.system(), [=](caf::event_based_actor* self) {
    auto arrived = [job] {
      if (--job->replies_pending == 0 && !job->answered) {
        job->answered = true;
        job->done(job->out);
      }
    };
    auto fail = [job](caf::error& failure) {
      if (job->answered)
        return;
      job->answered = true;
      job->done(to_status(failure));
    };
    job->replies_pending = 6;
    self->request(store, timeout, status_atom::value)
      .then(
        [job, arrived](store_status& health) {
          job->out.store = std::move(health);
          arrived();
        },
        fail);
    self->request(accounts, timeout, resident_atom::value)
      .then(
        [job, arrived](detail::router_counters& counters) {
          job->out.accounts = counters;
          arrived();
        },
        fail);
    self->request(balances, timeout, head_atom::value)
      .then(
        [job, arrived](std::uint64_t position) {
          job->out.balances_position = position;
          arrived();
        },
        fail);
    self->request(histories, timeout, head_atom::value)
      .then(
        [job, arrived](std::uint64_t position) {
          job->out.history_position = position;
          arrived();
        },
        fail);
    // The totals and transfers answers carry their projection's position as well.
    self->request(totals, timeout, query_atom::value, totals_query{}, std::uint64_t{0},
                  std::uint64_t{0})
      .then(
        [job, arrived](totals_view& view) {
          job->out.totals_position = view.as_of_position;
          job->out.money_in_flight = view.money_in_flight;
          arrived();
        },
        fail);
    transfers_query counts_only;
    counts_only.max_transfers = 0;  // no views, only the counts
    self->request(transfers, timeout, query_atom::value, counts_only, std::uint64_t{0},
                  std::uint64_t{0})
      .then(
        [job, arrived](transfers_page& page) {
          job->out.transfers_position = page.as_of_position;
          job->out.transfers_in_progress = page.transfers_in_progress;
          arrived();
        },
        fail);
  });
}

}  // namespace tally::daemon
