// Account actors and their router on the deterministic test coordinator: strict order
// per account under seeded interleavings, expected versions, retries, passivation and
// rehydration, the resident limit, snapshots, and read-your-writes on the projection.
#include <gtest/gtest.h>

#include "actors/projections/bank_read_models.hpp"
#include "support/deterministic_system.hpp"
#include "support/failing_journal.hpp"
#include "tally/aggregate.hpp"
#include "tally/detail/projection_actor.hpp"
#include "tally/event_store.hpp"

using namespace tally;
using namespace tally::bank;
using tally::test_support::deterministic_system;
using tally::test_support::failing_journal;
using tally::test_support::splitmix64;
using reply_slot = std::shared_ptr<std::optional<caf::expected<command_reply>>>;

namespace {

struct bank_fixture : ::testing::Test {
  deterministic_system world;
  std::shared_ptr<failing_journal> journal = std::make_shared<failing_journal>();
  caf::actor store;
  caf::actor router;
  caf::actor balances;
  std::uint64_t next_id = 1;
  bool use_queue = true;  ///< appends through the append queue (false: as messages)

  void start(router_options options = {}) {
    event_store_options store_options;
    store_options.io_mode = journal_io_mode::inline_calls;
    auto queue = use_queue ? std::make_shared<append_queue>() : nullptr;
    store = world.keep(spawn_event_store(world.system(), journal, store_options, queue));
    router = world.keep(world.system().spawn(detail::aggregate_router<account_aggregate>, store,
                                             queue, options));
    balances = world.keep(world.system().spawn(detail::projection_actor<balance_read_model>,
                                               balance_read_model{}, store,
                                               std::shared_ptr<checkpoint_store>{},
                                               projection_options{}, std::uint64_t{0}));
    world.run();
  }

  command_envelope<account_command> envelope(account_command command,
                                             std::uint64_t expected = any_version) {
    command_envelope<account_command> out;
    out.id = command_id{42, next_id++};
    out.expected_version = expected;
    out.command = std::move(command);
    return out;
  }

  reply_slot send(account_command command, std::uint64_t expected = any_version) {
    return world.request<command_reply>(router, envelope(std::move(command), expected));
  }

  command_reply execute(account_command command) {
    return world.ask<command_reply>(router, envelope(std::move(command)));
  }

  balance_view balance(const std::string& account) {
    return world.ask<balance_view>(balances, query_atom::value, balance_query{account},
                                   std::uint64_t{0}, std::uint64_t{0});
  }

  detail::router_counters counters() {
    return world.ask<detail::router_counters>(router, resident_atom::value);
  }

  money replayed_balance(const std::string& account) {
    account_state state;
    auto events = journal->read_stream(account, 1, read_events_max);
    for (const auto& event : *events)
      state = evolve(state, *decode_event(event.type, event.schema_version, event.payload));
    return state.balance;
  }
};

}  // namespace

TEST_F(bank_fixture, handles_commands_of_one_account_strictly_in_order_under_any_interleaving) {
  for (std::uint64_t seed = 1; seed <= 40; ++seed) {
    // Odd seeds: appends through the append queue; even seeds: as messages.
    use_queue = seed % 2 == 1;
    SCOPED_TRACE("seed " + std::to_string(seed) + (use_queue ? " (queue)" : " (messages)"));
    journal = std::make_shared<failing_journal>();
    start();
    execute(open_account{"a"});
    splitmix64 random{seed};
    std::vector<reply_slot> replies;
    std::vector<account_command> sent;
    for (int i = 0; i < 60; ++i) {
      money amount = 1 + static_cast<money>(random.below(100));
      account_command command = random.below(2) == 0 ? account_command{deposit_money{"a", amount}}
                                                     : account_command{withdraw_money{"a", amount}};
      sent.push_back(command);
      replies.push_back(send(command));
    }
    world.run_seeded(random);
    // The versions of accepted commands are exactly 2, 3, ... in acceptance order;
    // replaying the sent commands in version order through the decider gives the same
    // outcomes: the account decided them one at a time.
    std::map<std::uint64_t, std::size_t> by_version;
    for (std::size_t i = 0; i < replies.size(); ++i) {
      ASSERT_TRUE(replies[i]->has_value() && **replies[i]);
      const auto& reply = ***replies[i];
      if (reply.accepted())
        ASSERT_TRUE(by_version.emplace(reply.stream_version, i).second) << "version reused";
      else
        EXPECT_EQ(reply.outcome, error_code::insufficient_funds);
    }
    std::uint64_t expected_version = 2;
    for (const auto& [version, index] : by_version)
      ASSERT_EQ(version, expected_version++) << "versions must be contiguous";
    auto write_side = world.ask<snapshot>(router, query_atom::value, std::string{"a"});
    auto state = decode_state(write_side.state);
    ASSERT_TRUE(state);
    EXPECT_EQ(state->balance, replayed_balance("a"));
    EXPECT_EQ(write_side.stream_version, journal->stream_version("a"));
    EXPECT_GE(state->balance, 0);
  }
}

TEST_F(bank_fixture, enforces_expected_versions) {
  start();
  execute(open_account{"a"});
  auto stale = send(deposit_money{"a", 5}, 0);
  auto current = send(deposit_money{"a", 5}, 1);
  world.run();
  EXPECT_EQ((**stale)->outcome, error_code::wrong_expected_version);
  EXPECT_EQ((**stale)->stream_version, 1u);
  EXPECT_TRUE((**current)->accepted());
  EXPECT_EQ((**current)->stream_version, 2u);
}

TEST_F(bank_fixture, a_retried_command_gets_the_original_outcome_and_appends_nothing) {
  start();
  execute(open_account{"a"});
  auto deposit = envelope(deposit_money{"a", 70});
  auto first = world.request<command_reply>(router, deposit);
  auto quick_retry = world.request<command_reply>(router, deposit);  // original still in flight
  world.run();
  auto late_retry = world.ask<command_reply>(router, deposit);
  ASSERT_TRUE((**first)->accepted());
  EXPECT_FALSE((**first)->duplicate);
  for (const auto& retry : {***quick_retry, late_retry}) {
    EXPECT_TRUE(retry.accepted());
    EXPECT_TRUE(retry.duplicate);
    EXPECT_EQ(retry.position, (**first)->position);
    EXPECT_EQ(retry.stream_version, (**first)->stream_version);
  }
  EXPECT_EQ(journal->head(), 2u);
  EXPECT_EQ(balance("a").balance, 70);
  // The same id with different content is refused.
  auto reused = deposit;
  reused.command = deposit_money{"a", 71};
  EXPECT_EQ(world.ask<command_reply>(router, reused).outcome,
            error_code::command_id_reused_with_different_payload);
}

TEST_F(bank_fixture, a_retry_with_the_expected_version_it_was_applied_at_gets_the_original_outcome) {
  // A client that sends an expected version and retries after a lost reply sends the
  // version from before its command was applied; once the account has forgotten the id
  // (passivation, a restart), only the store knows it. The retry must get the original
  // outcome, not wrong_expected_version. (The bank simulation found this.)
  router_options options;
  options.idle_max = std::chrono::seconds{1};
  options.sweep_interval = std::chrono::milliseconds{100};
  start(options);
  execute(open_account{"a"});
  auto deposit = envelope(deposit_money{"a", 40}, 1);
  auto first = world.ask<command_reply>(router, deposit);
  ASSERT_TRUE(first.accepted());
  world.advance(std::chrono::seconds{2});
  ASSERT_EQ(counters().resident, 0u) << "the account must have forgotten the id";
  auto retry = world.ask<command_reply>(router, deposit);
  EXPECT_TRUE(retry.accepted()) << to_string(retry.outcome);
  EXPECT_TRUE(retry.duplicate);
  EXPECT_EQ(retry.position, first.position);
  EXPECT_EQ(retry.stream_version, first.stream_version);
  // A new command with a stale expected version is still refused, with the version.
  auto stale = world.ask<command_reply>(router, envelope(deposit_money{"a", 1}, 1));
  EXPECT_EQ(stale.outcome, error_code::wrong_expected_version);
  EXPECT_EQ(stale.stream_version, 2u);
  EXPECT_EQ(replayed_balance("a"), 40);
}

TEST_F(bank_fixture, a_command_without_expected_version_right_behind_a_forgotten_retry_is_decided_again) {
  // After a passivation (or a restart) the account no longer remembers the ids it
  // applied. A retry of one is decided afresh and appended, and the store, which has the
  // id, answers its original outcome and appends nothing; the account's state ran ahead
  // by the retry's events. A command the account decided right behind the retry, on that
  // state, must be decided again on the reloaded state: its caller named no expected
  // version, so a conflict of the account's own pipeline is no answer for it
  // (docs/architecture.md, "Aggregate actor").
  for (bool queue : {true, false}) {
    use_queue = queue;
    SCOPED_TRACE(use_queue ? "appends through the queue" : "appends as messages");
    journal = std::make_shared<failing_journal>();
    router_options options;
    options.idle_max = std::chrono::seconds{1};
    options.sweep_interval = std::chrono::milliseconds{100};
    start(options);
    execute(open_account{"a"});
    auto deposit = envelope(deposit_money{"a", 100});
    auto applied = world.ask<command_reply>(router, deposit);
    ASSERT_TRUE(applied.accepted());
    auto withdrawal = envelope(withdraw_money{"a", 30});
    ASSERT_TRUE(world.ask<command_reply>(router, withdrawal).accepted());
    world.advance(std::chrono::seconds{2});
    ASSERT_EQ(counters().resident, 0u) << "the account must have forgotten the ids";

    // The retry, then at once commands that name no version: one the state that ran
    // ahead refuses (the retried withdrawal took its balance to 40; it is 70), one it
    // accepts at a version the stream does not have, a second forgotten retry, and one
    // whose true answer is a refusal.
    auto retry = world.request<command_reply>(router, withdrawal);
    auto withdraw_60 = send(withdraw_money{"a", 60});
    auto next_deposit = send(deposit_money{"a", 5});
    auto retry_of_deposit = world.request<command_reply>(router, deposit);
    auto withdraw_too_much = send(withdraw_money{"a", 100});
    world.run();
    for (const auto* slot : {&retry, &withdraw_60, &next_deposit, &retry_of_deposit, &withdraw_too_much})
      ASSERT_TRUE((*slot)->has_value() && ***slot) << "every command must be answered";
    EXPECT_TRUE((**retry)->accepted()) << to_string((**retry)->outcome);
    EXPECT_TRUE((**retry)->duplicate);
    EXPECT_EQ((**withdraw_60)->outcome, error_code::none)
      << "answered " << to_string((**withdraw_60)->outcome) << " on a balance that ran ahead";
    EXPECT_EQ((**withdraw_60)->stream_version, 4u);
    EXPECT_EQ((**next_deposit)->outcome, error_code::none)
      << "answered " << to_string((**next_deposit)->outcome) << " although it named no version";
    EXPECT_FALSE((**next_deposit)->duplicate);
    EXPECT_EQ((**next_deposit)->stream_version, 5u);
    EXPECT_TRUE((**retry_of_deposit)->duplicate);
    EXPECT_EQ((**retry_of_deposit)->position, applied.position);
    EXPECT_EQ((**withdraw_too_much)->outcome, error_code::insufficient_funds)
      << "decided again on the reloaded state, the rules refuse it";
    EXPECT_EQ(replayed_balance("a"), 100 - 30 + 5 - 60);
    EXPECT_EQ(journal->stream_version("a"), 5u);
    world.run();  // the actors of this round stop with the world at the end
  }
}

TEST_F(bank_fixture, a_command_with_the_right_expected_version_right_behind_a_forgotten_retry_is_accepted) {
  // The same race for a caller that names the version it read: the account checked it
  // against the state that ran ahead; decided again on the reloaded state it matches.
  router_options options;
  options.idle_max = std::chrono::seconds{1};
  options.sweep_interval = std::chrono::milliseconds{100};
  start(options);
  execute(open_account{"a"});
  auto deposit = envelope(deposit_money{"a", 100});
  ASSERT_TRUE(world.ask<command_reply>(router, deposit).accepted());
  world.advance(std::chrono::seconds{2});
  ASSERT_EQ(counters().resident, 0u);
  auto retry = world.request<command_reply>(router, deposit);
  auto named_current = send(deposit_money{"a", 1}, 2);
  auto named_stale = send(deposit_money{"a", 1}, 1);
  world.run();
  ASSERT_TRUE(retry->has_value() && **retry && named_current->has_value() && **named_current
              && named_stale->has_value() && **named_stale);
  EXPECT_TRUE((**retry)->duplicate);
  EXPECT_TRUE((**named_current)->accepted()) << to_string((**named_current)->outcome);
  EXPECT_EQ((**named_current)->stream_version, 3u);
  EXPECT_EQ((**named_stale)->outcome, error_code::wrong_expected_version)
    << "a version the caller named and the stream does not have is still refused";
  EXPECT_EQ(replayed_balance("a"), 101);
}

TEST_F(bank_fixture, passivates_idle_accounts_and_rehydrates_them_on_the_next_command) {
  router_options options;
  options.idle_max = std::chrono::seconds{1};
  options.sweep_interval = std::chrono::milliseconds{100};
  start(options);
  execute(open_account{"a"});
  execute(deposit_money{"a", 500});
  EXPECT_EQ(counters().resident, 1u);
  world.advance(std::chrono::seconds{2});
  EXPECT_EQ(counters().resident, 0u);
  EXPECT_EQ(counters().passivated, 1u);
  auto reply = execute(withdraw_money{"a", 200});
  EXPECT_TRUE(reply.accepted());
  EXPECT_EQ(reply.stream_version, 3u) << "the new actor replayed the stream";
  EXPECT_EQ(execute(withdraw_money{"a", 301}).outcome, error_code::insufficient_funds);
  EXPECT_EQ(counters().spawned, 2u);
}

TEST_F(bank_fixture, keeps_at_most_resident_max_accounts_and_never_two_actors_per_account) {
  router_options options;
  options.resident_max = 2;
  start(options);
  splitmix64 random{7};
  std::map<std::string, money> expected;
  std::vector<std::string> accounts{"a", "b", "c", "d"};
  for (const auto& account : accounts)
    execute(open_account{account});
  // Many commands in flight across more accounts than may be resident: accounts are
  // evicted while commands for them are queued, and their successors must continue
  // exactly where they stopped.
  std::vector<std::pair<std::string, reply_slot>> replies;
  for (int i = 0; i < 200; ++i) {
    const auto& account = accounts[random.below(accounts.size())];
    replies.emplace_back(account, send(deposit_money{account, 10}));
  }
  world.run_seeded(random);
  for (auto& [account, reply] : replies) {
    ASSERT_TRUE(reply->has_value() && **reply) << world.system().render((**reply).error());
    ASSERT_TRUE((**reply)->accepted()) << to_string((**reply)->outcome);
    expected[account] += 10;
  }
  EXPECT_LE(counters().resident, 2u);
  for (const auto& account : accounts) {
    EXPECT_EQ(replayed_balance(account), expected[account]);
    EXPECT_EQ(balance(account).balance, expected[account]);
  }
}

TEST_F(bank_fixture, rehydrates_from_the_latest_snapshot) {
  router_options options;
  options.aggregate.snapshot_interval_events = 5;
  options.idle_max = std::chrono::seconds{1};
  options.sweep_interval = std::chrono::milliseconds{100};
  start(options);
  execute(open_account{"a"});
  for (int i = 0; i < 11; ++i)
    execute(deposit_money{"a", 1});
  EXPECT_EQ(journal->snapshots_saved(), 2u);  // at versions 5 and 10
  world.advance(std::chrono::seconds{2});
  auto reads_before = journal->stream_reads_after_snapshot();
  EXPECT_TRUE(execute(deposit_money{"a", 1}).accepted());
  EXPECT_EQ(journal->stream_reads_after_snapshot(), reads_before + 1)
    << "rehydration must read only the tail after the snapshot";
  auto write_side = world.ask<snapshot>(router, query_atom::value, std::string{"a"});
  EXPECT_EQ(write_side.stream_version, 13u);
  EXPECT_EQ(decode_state(write_side.state)->balance, 12);
}

TEST_F(bank_fixture, a_query_waits_for_its_min_position_and_times_out_when_not_reached) {
  start();
  auto opened = execute(open_account{"a"});
  auto future = opened.position + 1;
  auto waiting = world.request<balance_view>(balances, query_atom::value, balance_query{"a"},
                                             future, std::uint64_t{5000});
  world.run();
  EXPECT_FALSE(waiting->has_value()) << "must wait for position " << future;
  auto deposit = execute(deposit_money{"a", 30});
  ASSERT_EQ(deposit.position, future);
  world.run();
  ASSERT_TRUE(waiting->has_value() && **waiting);
  EXPECT_EQ((**waiting)->balance, 30);
  EXPECT_GE((**waiting)->as_of_position, future);
  auto never = world.request<balance_view>(balances, query_atom::value, balance_query{"a"},
                                           std::uint64_t{1000}, std::uint64_t{100});
  world.run();
  EXPECT_FALSE(never->has_value());
  world.advance(std::chrono::milliseconds{200});
  ASSERT_TRUE(never->has_value());
  ASSERT_FALSE(**never);
  EXPECT_EQ(to_status((**never).error()).code(), error_code::position_not_reached);
}

TEST_F(bank_fixture, draining_the_router_stops_every_account_and_refuses_new_commands) {
  start();
  execute(open_account{"a"});
  execute(open_account{"b"});
  EXPECT_TRUE(world.ask<bool>(router, drain_atom::value));
  EXPECT_EQ(counters().resident, 0u);
  auto refused = send(deposit_money{"a", 1});
  world.run();
  ASSERT_FALSE(**refused);
  EXPECT_EQ(to_status((**refused).error()).code(), error_code::shutting_down);
}
