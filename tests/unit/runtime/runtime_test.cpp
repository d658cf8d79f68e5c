// The embedded runtime on CAF's real scheduler: concurrency, the public API end to
// end (commands, queries, time travel, subscriptions, generic aggregates), the
// dedicated I/O thread mode, fail-stop and shutdown.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "support/counter_aggregate.hpp"
#include "support/failing_journal.hpp"
#include "tally/runtime.hpp"

using namespace tally;
using namespace tally::bank;
using namespace std::chrono_literals;
using tally::test_support::failing_journal;

namespace {

std::unique_ptr<runtime> start_runtime(runtime_config config = {}, std::size_t threads = 2) {
  auto started = runtime::start_private(std::move(config), threads);
  EXPECT_TRUE(started) << started.error().to_string();
  return std::move(*started);
}

// Collects async replies and lets the test wait for all of them.
struct reply_collector {
  std::mutex mutex;
  std::condition_variable done;
  std::vector<result<command_reply>> replies;
  std::size_t expected = 0;

  std::function<void(result<command_reply>)> callback() {
    return [this](result<command_reply> reply) {
      std::lock_guard guard{mutex};
      replies.push_back(std::move(reply));
      if (replies.size() == expected)
        done.notify_all();
    };
  }
  bool wait_all(std::size_t count) {
    std::unique_lock guard{mutex};
    expected = count;
    return done.wait_for(guard, 30s, [&] { return replies.size() >= count; });
  }
};

money replay_balance(runtime& bank, const std::string& account) {
  auto replayed = bank.account_state_at_version(account, bank.account_state(account)->version);
  EXPECT_TRUE(replayed) << replayed.error().to_string();
  return replayed ? replayed->state.balance : -1;
}

}  // namespace

TEST(runtime, concurrent_withdrawals_never_overdraw_an_account) {
  for (auto mode : {journal_io_mode::inline_calls, journal_io_mode::dedicated_thread}) {
    runtime_config config;
    config.store.io_mode = mode;
    auto bank = start_runtime(std::move(config));
    constexpr money balance = 1000;
    ASSERT_TRUE(bank->execute(open_account{"a"})->accepted());
    ASSERT_TRUE(bank->execute(deposit_money{"a", balance})->accepted());
    reply_collector collector;
    constexpr int withdrawals = 100;
    std::vector<std::thread> senders;
    for (int t = 0; t < 4; ++t)
      senders.emplace_back([&, t] {
        for (int i = t; i < withdrawals; i += 4)
          bank->execute_async(withdraw_money{"a", 1 + (i * 37) % 60}, {}, collector.callback());
      });
    for (auto& sender : senders)
      sender.join();
    ASSERT_TRUE(collector.wait_all(withdrawals));
    std::size_t accepted_count = 0;
    std::uint64_t last_position = 0;
    for (auto& reply : collector.replies) {
      ASSERT_TRUE(reply) << reply.error().to_string();
      if (reply->accepted()) {
        ++accepted_count;
        last_position = std::max(last_position, reply->position);
      } else {
        EXPECT_EQ(reply->outcome, error_code::insufficient_funds);
      }
    }
    // The amounts of accepted withdrawals are in the journal; the sum must be <= B.
    auto events = bank->read_stream("a", 1, 1000);
    ASSERT_TRUE(events);
    money withdrawn = 0;
    for (const auto& event : *events)
      if (event.type == "money_withdrawn")
        withdrawn += std::get<money_withdrawn>(*decode_event(event.type, event.schema_version,
                                                             event.payload)).amount;
    EXPECT_LE(withdrawn, balance);
    EXPECT_EQ(accepted_count, events->size() - 2) << "one event per accepted withdrawal";
    auto write_side = bank->account_state("a");
    ASSERT_TRUE(write_side);
    EXPECT_EQ(write_side->state.balance, balance - withdrawn);
    EXPECT_EQ(replay_balance(*bank, "a"), balance - withdrawn);
    auto read_side = bank->balance("a", last_position);
    ASSERT_TRUE(read_side);
    EXPECT_EQ(read_side->balance, balance - withdrawn);
    EXPECT_TRUE(bank->shutdown().is_ok());
  }
}

TEST(runtime, bank_totals_equal_the_sum_of_balances_once_caught_up) {
  auto bank = start_runtime();
  reply_collector collector;
  constexpr int accounts = 50;
  for (int i = 0; i < accounts; ++i)
    ASSERT_TRUE(bank->execute(open_account{"acct-" + std::to_string(i)})->accepted());
  constexpr int commands = 2000;
  for (int i = 0; i < commands; ++i) {
    auto account = "acct-" + std::to_string((i * 7919) % accounts);
    money amount = 1 + (i % 97);
    if (i % 3 == 2)
      bank->execute_async(withdraw_money{account, amount}, {}, collector.callback());
    else
      bank->execute_async(deposit_money{account, amount}, {}, collector.callback());
  }
  ASSERT_TRUE(collector.wait_all(commands));
  auto head = bank->store_health()->head;
  money sum = 0;
  for (int i = 0; i < accounts; ++i) {
    auto account = "acct-" + std::to_string(i);
    auto view = bank->balance(account, head);
    ASSERT_TRUE(view);
    EXPECT_GE(view->balance, 0);
    EXPECT_EQ(view->balance, bank->account_state(account)->state.balance);
    EXPECT_EQ(view->balance, replay_balance(*bank, account));
    sum += view->balance;
  }
  auto totals = bank->totals(head);
  ASSERT_TRUE(totals);
  EXPECT_EQ(totals->total_balance, sum);
  EXPECT_EQ(totals->accounts_open, static_cast<std::uint64_t>(accounts));
  EXPECT_EQ(totals->total_deposited - totals->total_withdrawn, sum);
  EXPECT_EQ(totals->events, head);
}

TEST(runtime, answers_history_pages_and_time_travel) {
  auto bank = start_runtime();
  bank->execute(open_account{"a"});
  std::vector<std::int64_t> commit_times;
  for (int i = 1; i <= 5; ++i) {
    auto reply = bank->execute(deposit_money{"a", i * 10});
    ASSERT_TRUE(reply->accepted());
    commit_times.push_back(bank->read_stream("a", reply->stream_version, 1)->front().timestamp_ns);
    std::this_thread::sleep_for(2ms);  // distinct commit timestamps
  }
  auto head = bank->store_health()->head;
  auto page = bank->history(history_query{"a", 2, 3}, head);
  ASSERT_TRUE(page);
  ASSERT_EQ(page->entries.size(), 3u);
  EXPECT_EQ(page->entries[0].version, 2u);
  EXPECT_EQ(page->entries[0].amount, 10);
  EXPECT_EQ(page->entries[2].balance_after, 60);
  EXPECT_EQ(page->next_version, 5u);
  EXPECT_EQ(page->total_events, 6u);
  auto at_version = bank->account_state_at_version("a", 3);
  ASSERT_TRUE(at_version);
  EXPECT_EQ(at_version->state.balance, 30);
  EXPECT_EQ(at_version->version, 3u);
  auto at_time = bank->account_state_at_time("a", commit_times[3]);
  ASSERT_TRUE(at_time);
  EXPECT_EQ(at_time->state.balance, 100);
  auto before_anything = bank->account_state_at_version("a", 0);
  EXPECT_EQ(before_anything->state.status, account_status::not_opened);
  auto beyond = bank->account_state_at_version("a", 99);
  ASSERT_FALSE(beyond);
  EXPECT_EQ(beyond.error().code(), error_code::account_not_found);
}

TEST(runtime, subscribers_get_every_event_from_their_position_then_live) {
  auto bank = start_runtime();
  for (int i = 0; i < 10; ++i)
    bank->execute(open_account{"acct-" + std::to_string(i)});
  std::mutex mutex;
  std::condition_variable arrived;
  std::vector<std::uint64_t> positions;
  auto feed = bank->subscribe(4, [&](const recorded_event& event) {
    std::lock_guard guard{mutex};
    positions.push_back(event.position);
    arrived.notify_all();
  });
  for (int i = 10; i < 20; ++i)
    bank->execute(open_account{"acct-" + std::to_string(i)});
  std::unique_lock guard{mutex};
  ASSERT_TRUE(arrived.wait_for(guard, 10s, [&] { return positions.size() >= 17; }));
  std::vector<std::uint64_t> expected;
  for (std::uint64_t p = 4; p <= 20; ++p)
    expected.push_back(p);
  EXPECT_EQ(positions, expected);
}

TEST(runtime, runs_a_second_aggregate_type_through_the_same_api) {
  auto bank = start_runtime();
  auto counters = bank->start_aggregate<counter::aggregate>(router_options{});
  command_envelope<counter::increment> command;
  command.command = counter::increment{"clicks", 40};
  for (int i = 0; i < 2; ++i) {
    command.id = command_id::random();
    auto reply = bank->execute_on(counters, command);
    ASSERT_TRUE(reply) << reply.error().to_string();
    EXPECT_TRUE(reply->accepted());
  }
  command.id = command_id::random();
  EXPECT_EQ(bank->execute_on(counters, command)->outcome, error_code::limit_exceeded);
  auto replayed = bank->replay<counter::aggregate>("clicks", UINT64_MAX);
  ASSERT_TRUE(replayed);
  EXPECT_EQ(replayed->state.value, 80);
  EXPECT_EQ(replayed->version, 2u);
  // The bank's read models ignore the counter's events.
  bank->execute(open_account{"a"});
  auto totals = bank->totals(bank->store_health()->head);
  EXPECT_EQ(totals->events, 1u);
  EXPECT_TRUE(bank->shutdown().is_ok());
}

TEST(runtime, commands_fail_with_store_unavailable_after_a_journal_failure) {
  for (bool blocking : {false, true}) {
    runtime_config config;
    auto journal = std::make_shared<failing_journal>(3, blocking);
    config.events = journal;
    auto bank = start_runtime(std::move(config));
    EXPECT_TRUE(bank->execute(open_account{"a"})->accepted());
    EXPECT_TRUE(bank->execute(deposit_money{"a", 5})->accepted());
    auto failed = bank->execute(deposit_money{"a", 5});
    ASSERT_FALSE(failed);
    EXPECT_EQ(failed.error().code(), error_code::store_unavailable);
    auto refused = bank->execute(deposit_money{"a", 5});
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code(), error_code::store_unavailable);
    EXPECT_EQ(journal->head(), 2u);
    EXPECT_FALSE(bank->store_health()->available);
  }
}

TEST(runtime, shutdown_finishes_accepted_work_and_refuses_new_commands) {
  auto journal = std::make_shared<failing_journal>();
  runtime_config config;
  config.events = journal;
  auto checkpoints = make_memory_checkpoint_store();
  config.checkpoints = checkpoints;
  auto bank = start_runtime(config);
  reply_collector collector;
  bank->execute(open_account{"a"});
  for (int i = 0; i < 500; ++i)
    bank->execute_async(deposit_money{"a", 1}, {}, collector.callback());
  EXPECT_TRUE(bank->shutdown().is_ok());
  ASSERT_TRUE(collector.wait_all(500));
  std::size_t accepted = 0;
  for (auto& reply : collector.replies)
    if (reply && reply->accepted())
      ++accepted;
    else
      EXPECT_EQ(reply.error().code(), error_code::shutting_down);
  EXPECT_EQ(journal->head(), accepted + 1) << "every acknowledged command is in the journal";
  auto saved = checkpoints->load("balances");
  ASSERT_TRUE(saved.has_value());
  EXPECT_EQ(saved->position, journal->head()) << "checkpoints are written at shutdown";
  auto refused = bank->execute(deposit_money{"a", 1});
  EXPECT_FALSE(refused);
  // A command sent after the stop still gets its callback, once, with shutting_down.
  reply_collector late;
  for (int i = 0; i < 3; ++i)
    bank->execute_async(deposit_money{"a", 1}, {}, late.callback());
  ASSERT_TRUE(late.wait_all(3));
  std::this_thread::sleep_for(50ms);
  std::lock_guard guard{late.mutex};
  ASSERT_EQ(late.replies.size(), 3U);
  for (auto& reply : late.replies) {
    ASSERT_FALSE(reply);
    EXPECT_EQ(reply.error().code(), error_code::shutting_down) << reply.error().to_string();
  }
  EXPECT_EQ(journal->head(), accepted + 1);
}

// A checkpoint store whose saves fail (a full or read-only disk) while loads work.
class failing_checkpoint_store : public checkpoint_store {
public:
  status save(const std::string&, const checkpoint&) override {
    ++saves;
    return status{error_code::store_unavailable, "checkpoint disk is full"};
  }
  std::optional<checkpoint> load(const std::string&) const override { return std::nullopt; }
  bool blocks_on_io() const override { return false; }
  std::atomic<int> saves{0};
};

// A checkpoint only shortens the next start; the journal is the source of truth. So a
// failed save must not take the read model down: it keeps answering, retries after the
// next interval, and the shutdown that asks for the final checkpoint reports it.
TEST(runtime, a_failed_checkpoint_save_keeps_the_read_models_serving_and_fails_the_shutdown) {
  auto checkpoints = std::make_shared<failing_checkpoint_store>();
  runtime_config config;
  config.checkpoints = checkpoints;
  config.projections.checkpoint_interval_events = 2;
  config.projections.checkpoint_bytes_per_event_max = 0;  // the interval alone
  auto bank = start_runtime(config);
  // Each command waits until all four read models have applied it, so each projection
  // sees the 7 events one at a time and saves at 2, 4 and 6 whatever the scheduling
  // (events that arrive together are applied as one batch with one save). A projection
  // saves before it answers a waiting query.
  history_query history_of_a;
  history_of_a.account_id = "a";
  std::uint64_t position = 0;
  for (int i = 0; i < 7; ++i) {
    auto reply = i == 0 ? bank->execute(open_account{"a"}) : bank->execute(deposit_money{"a", 10});
    ASSERT_TRUE(reply) << reply.error().to_string();
    position = reply->position;
    auto view = bank->balance("a", position);
    ASSERT_TRUE(view) << view.error().to_string();
    EXPECT_EQ(view->balance, 10 * i);
    auto totals = bank->totals(position);
    ASSERT_TRUE(totals) << totals.error().to_string();
    EXPECT_EQ(totals->total_balance, 10 * i);
    auto history = bank->history(history_of_a, position);
    ASSERT_TRUE(history) << history.error().to_string();
    EXPECT_EQ(history->total_events, static_cast<std::uint64_t>(i + 1));
    auto transfers = bank->transfers(transfers_query{}, position);
    ASSERT_TRUE(transfers) << transfers.error().to_string();
  }
  // Every projection crossed its interval three times and tried again each time, still
  // answering queries after each failure.
  EXPECT_EQ(checkpoints->saves.load(), 4 * 3);
  const status stopped = bank->shutdown();
  EXPECT_EQ(stopped.code(), error_code::store_unavailable) << stopped.to_string();
  EXPECT_NE(stopped.to_string().find("checkpoint disk is full"), std::string::npos)
    << stopped.to_string();
}

// Keeps every checkpoint and records each save: which projection, where, how large.
class recording_checkpoint_store : public checkpoint_store {
public:
  struct save_record {
    std::uint64_t position;
    std::size_t bytes;
  };
  status save(const std::string& projection, const checkpoint& saved) override {
    std::lock_guard<std::mutex> guard{mutex_};
    saves_[projection].push_back(save_record{saved.position, saved.state.size()});
    latest_[projection] = saved;
    return status{};
  }
  std::optional<checkpoint> load(const std::string& projection) const override {
    std::lock_guard<std::mutex> guard{mutex_};
    auto it = latest_.find(projection);
    if (it == latest_.end())
      return std::nullopt;
    return it->second;
  }
  bool blocks_on_io() const override { return false; }
  std::vector<save_record> saves_of(const std::string& projection) const {
    std::lock_guard<std::mutex> guard{mutex_};
    auto it = saves_.find(projection);
    return it == saves_.end() ? std::vector<save_record>{} : it->second;
  }

private:
  mutable std::mutex mutex_;
  std::map<std::string, std::vector<save_record>> saves_;
  std::map<std::string, checkpoint> latest_;
};

// Opens account "a" when `first`, else deposits 1, and waits until the history model
// applied the event: sent one after another, every event reaches the projections in
// a batch of its own, so they check whether a checkpoint is due after each event.
std::uint64_t apply_one(runtime& bank, bool first) {
  auto reply = first ? bank.execute(open_account{"a"}) : bank.execute(deposit_money{"a", 1});
  if (!reply) {
    ADD_FAILURE() << reply.error().to_string();
    return 0;
  }
  history_query history_of_a;
  history_of_a.account_id = "a";
  auto history = bank.history(history_of_a, reply->position);
  EXPECT_TRUE(history) << history.error().to_string();
  auto view = bank.balance("a", reply->position);
  EXPECT_TRUE(view) << view.error().to_string();
  return reply->position;
}

// A periodic checkpoint encodes the whole model. The history grows with the log, so
// with the interval alone its checkpoints would cost more every time (quadratic over a
// run); the bytes-per-event bound spaces them out so the bytes encoded stay within
// the bound per event applied, while a small model keeps (nearly) the interval.
TEST(runtime, a_read_model_that_grows_with_the_log_is_checkpointed_at_spaced_positions) {
  std::shared_ptr<journal> events_journal = make_memory_journal();
  auto checkpoints = std::make_shared<recording_checkpoint_store>();
  constexpr std::uint64_t interval = 2;
  constexpr std::uint64_t per_event = 16;
  constexpr std::uint64_t events = 400;
  runtime_config config;
  config.events = events_journal;
  config.checkpoints = checkpoints;
  config.projections.checkpoint_interval_events = interval;
  config.projections.checkpoint_bytes_per_event_max = per_event;
  {
    auto bank = start_runtime(config);
    for (std::uint64_t i = 0; i < events; ++i)
      ASSERT_EQ(apply_one(*bank, i == 0), i + 1);
    // Each save came exactly when both rules held: `interval` events since the last
    // one, and enough of them to pay for the last one's bytes (the first: none).
    for (const char* projection : {"history", "balances"}) {
      std::uint64_t previous_position = 0;
      std::uint64_t previous_bytes = 0;
      for (const auto& saved : checkpoints->saves_of(projection)) {
        std::uint64_t gap = std::max(interval, (previous_bytes + per_event - 1) / per_event);
        EXPECT_EQ(saved.position, previous_position + gap)
          << projection << " saved at " << saved.position << " after " << previous_position
          << " (" << previous_bytes << " bytes)";
        previous_position = saved.position;
        previous_bytes = saved.bytes;
      }
    }
    auto history = checkpoints->saves_of("history");
    auto balances = checkpoints->saves_of("balances");
    ASSERT_GE(history.size(), 2U);
    // The history's checkpoints grow with it, so they come at geometric spacing: a few
    // saves instead of events / interval = 200, and every save but the last is paid
    // for by the events applied after it.
    EXPECT_LT(history.size(), 10U);
    std::uint64_t encoded = 0;
    for (const auto& saved : history)
      encoded += saved.bytes;
    EXPECT_LE(encoded, per_event * events + history.back().bytes);
    EXPECT_GT(balances.size(), 4 * history.size());
    ASSERT_TRUE(bank->shutdown().is_ok());
  }
  // After a restart the spacing goes on from the restored checkpoint's size: a few
  // more events (more than the interval, fewer than its bytes / per_event) save the
  // balances again, not the history.
  const std::size_t history_saves = checkpoints->saves_of("history").size();
  const std::size_t balance_saves = checkpoints->saves_of("balances").size();
  const std::uint64_t restored_bytes = checkpoints->saves_of("history").back().bytes;
  ASSERT_GT(restored_bytes / per_event, 10 * interval);
  auto bank = start_runtime(config);
  for (std::uint64_t i = 0; i < 10 * interval; ++i)
    apply_one(*bank, false);
  EXPECT_EQ(checkpoints->saves_of("history").size(), history_saves);
  EXPECT_GT(checkpoints->saves_of("balances").size(), balance_saves);
}

// Saves through the checkpoint writer thread (blocks_on_io), each held until the gate
// opens; counts the saves of each projection.
class gated_checkpoint_store : public checkpoint_store {
public:
  status save(const std::string& projection, const checkpoint&) override {
    std::unique_lock<std::mutex> guard{mutex_};
    ++saves_[projection];
    opened_.wait(guard, [this] { return open_; });
    return status{};
  }
  std::optional<checkpoint> load(const std::string&) const override { return std::nullopt; }
  bool blocks_on_io() const override { return true; }
  void open() {
    std::lock_guard<std::mutex> guard{mutex_};
    open_ = true;
    opened_.notify_all();
  }
  int saves_of(const std::string& projection) const {
    std::lock_guard<std::mutex> guard{mutex_};
    auto it = saves_.find(projection);
    return it == saves_.end() ? 0 : it->second;
  }

private:
  mutable std::mutex mutex_;
  std::condition_variable opened_;
  bool open_ = false;
  std::map<std::string, int> saves_;
};

// A projection hands at most one periodic checkpoint at a time to the writer: while the
// writer is slow (a large image to encode, a slow disk), intervals that pass do not
// queue more copies of the model behind it. The projections keep answering meanwhile.
TEST(runtime, a_projection_waits_for_its_periodic_checkpoint_before_it_starts_another) {
  auto checkpoints = std::make_shared<gated_checkpoint_store>();
  runtime_config config;
  config.checkpoints = checkpoints;
  config.projections.checkpoint_interval_events = 1;
  config.projections.checkpoint_bytes_per_event_max = 0;
  auto bank = start_runtime(config);
  for (int i = 0; i < 10; ++i)
    apply_one(*bank, i == 0);  // every read model answers at each position
  checkpoints->open();
  ASSERT_TRUE(bank->shutdown().is_ok());
  // One periodic save (held at the gate while the other nine intervals passed), then
  // the shutdown's.
  for (const char* projection : {"history", "balances", "totals", "transfers"})
    EXPECT_EQ(checkpoints->saves_of(projection), 2) << projection;
}

TEST(runtime, projections_resume_from_their_checkpoints) {
  auto journal = std::make_shared<failing_journal>();
  auto checkpoints = make_memory_checkpoint_store();
  {
    runtime_config config;
    config.events = journal;
    config.checkpoints = checkpoints;
    auto bank = start_runtime(config);
    bank->execute(open_account{"a"});
    bank->execute(deposit_money{"a", 25});
    EXPECT_TRUE(bank->shutdown().is_ok());
  }
  runtime_config config;
  config.events = journal;
  config.checkpoints = checkpoints;
  auto bank = start_runtime(config);
  bank->execute(deposit_money{"a", 5});
  auto view = bank->balance("a", 3);
  ASSERT_TRUE(view);
  EXPECT_EQ(view->balance, 30);
  EXPECT_EQ(bank->totals(3)->total_balance, 30);
}
