// The event-store actor on the deterministic test coordinator: positions and versions,
// group commit, expected versions, at-most-once command ids, publication order,
// deferred reads and fail-stop.
#include <gtest/gtest.h>

#include "support/deterministic_system.hpp"
#include "support/failing_journal.hpp"
#include "tally/event_store.hpp"
#include "tally/detail/spawn.hpp"
#include "tally/protocol.hpp"

using namespace tally;
using tally::test_support::deterministic_system;
using tally::test_support::failing_journal;

namespace {

append_request make_append(const std::string& stream, std::uint64_t expected, command_id id,
                           std::size_t events = 1, std::uint64_t hash = 7) {
  append_request request;
  request.stream_id = stream;
  request.expected_version = expected;
  request.command = id;
  request.command_hash = hash;
  for (std::size_t i = 0; i < events; ++i)
    request.events.push_back(pending_event{"thing_happened", 1, "payload" + std::to_string(i)});
  return request;
}

command_id id_of(std::uint64_t n) { return command_id{0xABCD, n}; }

// Records what a store sends to an aggregate (rollbacks) and to a subscriber (batches).
struct probe_state {
  std::vector<std::string> rollbacks;
  std::vector<std::uint64_t> positions;
};

caf::behavior probe(caf::event_based_actor*, std::shared_ptr<probe_state> out) {
  return {
    [=](rollback_atom, const std::string& stream) { out->rollbacks.push_back(stream); },
    [=](const event_batch& batch) {
      for (const auto& event : *batch)
        out->positions.push_back(event.position);
    },
  };
}

struct event_store_fixture : ::testing::Test {
  deterministic_system world;
  std::shared_ptr<failing_journal> journal = std::make_shared<failing_journal>();
  std::shared_ptr<probe_state> seen = std::make_shared<probe_state>();
  caf::actor store;
  caf::actor origin;

  void SetUp() override {
    event_store_options options;
    options.io_mode = journal_io_mode::inline_calls;
    store = world.keep(spawn_event_store(world.system(), journal, options));
    origin = world.keep(world.system().spawn(probe, seen));
    world.run();
  }

  auto append(const append_request& request) {
    return world.request<command_reply>(store, append_atom::value, request, origin);
  }
};

}  // namespace

TEST_F(event_store_fixture, assigns_contiguous_positions_and_versions_and_replies_after_commit) {
  auto first = append(make_append("a", 0, id_of(1), 2));
  auto second = append(make_append("b", 0, id_of(2)));
  auto third = append(make_append("a", 2, id_of(3)));
  EXPECT_EQ(journal->head(), 0u);
  world.run();
  ASSERT_TRUE(first->has_value() && second->has_value() && third->has_value());
  EXPECT_EQ((**first)->stream_version, 2u);
  EXPECT_EQ((**first)->position, 2u);
  EXPECT_EQ((**second)->stream_version, 1u);
  EXPECT_EQ((**second)->position, 3u);
  EXPECT_EQ((**third)->stream_version, 3u);
  EXPECT_EQ((**third)->position, 4u);
  EXPECT_EQ(journal->head(), 4u);
  auto stream = world.ask<std::vector<recorded_event>>(store, read_stream_atom::value,
                                                       std::string{"a"}, std::uint64_t{1},
                                                       std::uint64_t{100});
  ASSERT_EQ(stream.size(), 3u);
  for (std::size_t i = 0; i < stream.size(); ++i) {
    EXPECT_EQ(stream[i].stream_version, i + 1);
    EXPECT_EQ(stream[i].command, i < 2 ? id_of(1) : id_of(3));
    EXPECT_NE(stream[i].timestamp_ns, 0);
  }
  EXPECT_NE(stream[0].event_id, stream[1].event_id);
}

TEST_F(event_store_fixture, appends_that_arrive_together_share_one_commit) {
  std::vector<std::shared_ptr<std::optional<caf::expected<command_reply>>>> replies;
  for (std::uint64_t i = 1; i <= 50; ++i)
    replies.push_back(append(make_append("s" + std::to_string(i), 0, id_of(i))));
  world.run();
  for (auto& reply : replies)
    ASSERT_TRUE(reply->has_value() && **reply && (**reply)->accepted());
  EXPECT_EQ(journal->appends(), 1u) << "50 appends in the mailbox must form one batch";
  auto health = world.ask<store_status>(store, status_atom::value);
  EXPECT_EQ(health.events_committed, 50u);
  EXPECT_EQ(health.head, 50u);
}

TEST_F(event_store_fixture, rejects_a_wrong_expected_version_and_tells_the_origin) {
  auto ok = append(make_append("a", 0, id_of(1)));
  auto stale = append(make_append("a", 0, id_of(2)));
  world.run();
  ASSERT_TRUE((**ok)->accepted());
  EXPECT_EQ((**stale)->outcome, error_code::wrong_expected_version);
  EXPECT_EQ((**stale)->stream_version, 1u);
  EXPECT_EQ(journal->head(), 1u);
  ASSERT_EQ(seen->rollbacks.size(), 1u);
  EXPECT_EQ(seen->rollbacks[0], "a");
}

TEST_F(event_store_fixture, applies_a_command_id_at_most_once) {
  auto original = append(make_append("a", 0, id_of(1)));
  auto retry_in_same_batch = append(make_append("a", 1, id_of(1)));
  world.run();
  auto retry_later = append(make_append("a", 1, id_of(1)));
  auto reused = append(make_append("b", 0, id_of(1), 1, 999));
  world.run();
  ASSERT_TRUE((**original)->accepted());
  for (auto* retry : {&retry_in_same_batch, &retry_later}) {
    ASSERT_TRUE((***retry)->accepted());
    EXPECT_TRUE((***retry)->duplicate);
    EXPECT_EQ((***retry)->position, (**original)->position);
    EXPECT_EQ((***retry)->stream_version, (**original)->stream_version);
  }
  EXPECT_EQ((**reused)->outcome, error_code::command_id_reused_with_different_payload);
  EXPECT_EQ(journal->head(), 1u);
  auto duplicate = world.ask<command_reply>(store, outcome_atom::value, id_of(1), std::uint64_t{7},
                                            std::string{"a"});
  EXPECT_TRUE(duplicate.duplicate);
  EXPECT_EQ(duplicate.position, 1u);
}

TEST_F(event_store_fixture, publishes_committed_batches_in_global_order_to_subscribers) {
  auto head = world.ask<std::uint64_t>(store, subscribe_atom::value, origin);
  EXPECT_EQ(head, 0u);
  // Some batches of one append, then one batch of ten.
  for (std::uint64_t i = 1; i <= 10; ++i) {
    append(make_append("s" + std::to_string(i), 0, id_of(i)));
    world.run();
  }
  for (std::uint64_t i = 11; i <= 20; ++i)
    append(make_append("s" + std::to_string(i), 0, id_of(i)));
  world.run();
  ASSERT_EQ(journal->head(), 20u);
  std::vector<std::uint64_t> expected;
  for (std::uint64_t p = 1; p <= journal->head(); ++p)
    expected.push_back(p);
  EXPECT_EQ(seen->positions, expected);
}

TEST_F(event_store_fixture, a_load_waits_for_appends_received_before_it) {
  append(make_append("a", 0, id_of(1), 3));
  auto loaded = world.request<loaded_stream>(store, load_atom::value, std::string{"a"}, true);
  world.run();
  ASSERT_TRUE(loaded->has_value() && **loaded);
  EXPECT_EQ((**loaded)->events.size(), 3u);
  EXPECT_TRUE((**loaded)->complete);
}

TEST_F(event_store_fixture, snapshots_are_saved_after_the_events_they_cover) {
  // As an aggregate sends them: the append, then the snapshot of the state after it,
  // both before the store commits.
  caf::anon_send(store, append_atom::value, make_append("a", 0, id_of(1), 2), origin);
  caf::anon_send(store, snapshot_atom::value, snapshot{"a", 2, 1, "state"});
  world.run();
  auto saved = journal->load_snapshot("a");
  ASSERT_TRUE(saved.has_value());
  EXPECT_EQ(saved->stream_version, 2u);
  auto loaded = world.ask<loaded_stream>(store, load_atom::value, std::string{"a"}, true);
  EXPECT_TRUE(loaded.has_snapshot);
  EXPECT_TRUE(loaded.events.empty());
}

TEST_F(event_store_fixture, drops_a_snapshot_of_an_append_it_refused) {
  // An aggregate snapshots its state when it decides, before the store checks the
  // append. When the store refuses that append, the snapshot describes events that
  // never exist, and the aggregate's next append (after it reloads) takes the same
  // version with other events: saving the snapshot after that append would make every
  // later rehydration start from the refused state. (The bank simulation found this.)
  auto first = append(make_append("a", 0, id_of(1)));
  world.run();
  ASSERT_TRUE((**first)->accepted());
  auto refused = append(make_append("a", 5, id_of(2)));
  world.run();
  ASSERT_EQ((**refused)->outcome, error_code::wrong_expected_version);
  ASSERT_EQ(seen->rollbacks.size(), 1u);
  // Both arrive before the store commits anything: they share one batch.
  caf::anon_send(store, snapshot_atom::value, snapshot{"a", 2, 1, "the refused state"});
  caf::anon_send(store, append_atom::value, make_append("a", 1, id_of(3)), origin);
  world.run();
  ASSERT_EQ(journal->stream_version("a"), 2u);
  ASSERT_TRUE(journal->find_command(id_of(3)).has_value());
  auto saved = journal->load_snapshot("a");
  EXPECT_FALSE(saved.has_value()) << "saved a snapshot of a refused append: " << saved->state;
  // A snapshot of an accepted append is still saved.
  caf::anon_send(store, snapshot_atom::value, snapshot{"a", 2, 1, "the accepted state"});
  world.run();
  saved = journal->load_snapshot("a");
  ASSERT_TRUE(saved.has_value());
  EXPECT_EQ(saved->state, "the accepted state");
}

namespace {

// An append as an aggregate sends it: with the command, so the store can hand it back.
append_request make_decidable_append(const std::string& stream, std::uint64_t expected,
                                     command_id id, std::uint32_t decisions = 1) {
  auto request = make_append(stream, expected, id);
  request.decidable_command = caf::make_message("command " + std::to_string(id.low));
  request.decisions = decisions;
  return request;
}

using rehydration = std::pair<loaded_stream, handed_back_commands>;

// What an aggregate's reload gets: the stream and the commands handed back to it.
std::shared_ptr<std::optional<rehydration>> rehydrate(deterministic_system& world,
                                                      const caf::actor& store,
                                                      const std::string& stream) {
  auto slot = std::make_shared<std::optional<rehydration>>();
  tally::detail::spawn_without_arguments(world.system(), [=](caf::event_based_actor* self) {
    self->request(store, caf::infinite, rehydrate_atom::value, stream, true)
      .then([=](loaded_stream& loaded, handed_back_commands& handed_back) {
        *slot = rehydration{std::move(loaded), std::move(handed_back)};
      });
  });
  world.run();
  return slot;
}

// Answers a handed-back command from an actor of its own, as the aggregate does (a
// promise is answered by the actor that owns it).
void answer(deterministic_system& world, const caf::response_promise& promise,
            command_reply reply) {
  tally::detail::spawn_without_arguments(world.system(), [=](caf::event_based_actor* self) {
    caf::response_promise{caf::actor_cast<caf::strong_actor_ptr>(self), promise.source(),
                          promise.stages(), promise.id()}
      .deliver(reply);
  });
  world.run();
}

}  // namespace

TEST_F(event_store_fixture, hands_back_a_decidable_command_decided_on_a_state_the_stream_does_not_have) {
  // An aggregate decided #2 right behind #1 (expected 1), but #1 is refused (its id is
  // known: the original outcome, nothing appended). #2's decision rested on #1's events:
  // it goes back to the aggregate with its caller's promise, unanswered, and so does #3,
  // although its version matches the stream's now, since it came after #2.
  ASSERT_TRUE(world.ask<command_reply>(store, append_atom::value, make_append("a", 0, id_of(1)),
                                       origin)
                .accepted());
  auto retry = append(make_decidable_append("a", 1, id_of(1)));
  auto behind_it = append(make_decidable_append("a", 2, id_of(2)));
  auto next = append(make_decidable_append("a", 1, id_of(3)));
  world.run();
  ASSERT_TRUE(retry->has_value() && **retry);
  EXPECT_TRUE((**retry)->duplicate);
  EXPECT_FALSE(behind_it->has_value()) << "a conflict of the aggregate's pipeline is no answer";
  EXPECT_FALSE(next->has_value()) << "it must not overtake the command handed back before it";
  EXPECT_EQ(seen->rollbacks, std::vector<std::string>{"a"}) << "one reload for the refusals";
  EXPECT_EQ(journal->stream_version("a"), 1u);

  auto reload = rehydrate(world, store, "a");
  ASSERT_TRUE(reload->has_value());
  EXPECT_EQ((*reload)->first.events.size(), 1u);
  auto& handed_back = (*reload)->second;
  ASSERT_EQ(handed_back.size(), 2u);
  EXPECT_EQ(handed_back[0].envelope.get_as<std::string>(0), "command 2");
  EXPECT_EQ(handed_back[1].envelope.get_as<std::string>(0), "command 3");
  EXPECT_EQ(handed_back[0].decisions, 1u);
  // The aggregate answers through the promise it got back.
  answer(world, handed_back[0].promise, command_reply{error_code::insufficient_funds, 1, 0, false});
  ASSERT_TRUE(behind_it->has_value() && **behind_it);
  EXPECT_EQ((**behind_it)->outcome, error_code::insufficient_funds);
  // After the reload, appends are checked as usual again.
  auto accepted = append(make_decidable_append("a", 1, id_of(4)));
  world.run();
  ASSERT_TRUE(accepted->has_value() && **accepted);
  EXPECT_TRUE((**accepted)->accepted());
  EXPECT_EQ(seen->rollbacks.size(), 1u);
  answer(world, handed_back[1].promise, command_reply{});
}

TEST_F(event_store_fixture, answers_limit_exceeded_to_a_command_decided_too_often) {
  ASSERT_TRUE(world.ask<command_reply>(store, append_atom::value, make_append("a", 0, id_of(1)),
                                       origin)
                .accepted());
  auto worn_out = append(make_decidable_append("a", 5, id_of(2), command_decisions_max));
  world.run();
  ASSERT_TRUE(worn_out->has_value());
  ASSERT_FALSE(**worn_out);
  auto failure = to_status((**worn_out).error());
  EXPECT_EQ(failure.code(), error_code::limit_exceeded);
  EXPECT_FALSE(is_rejection(failure.code())) << "the caller must retry, not give up";
  EXPECT_EQ(seen->rollbacks.size(), 1u);
  auto reload = rehydrate(world, store, "a");
  ASSERT_TRUE(reload->has_value());
  EXPECT_TRUE((*reload)->second.empty());
}

TEST(event_store, a_failure_answers_the_commands_handed_back) {
  deterministic_system world;
  auto journal = std::make_shared<failing_journal>(2);
  event_store_options options;
  options.io_mode = journal_io_mode::inline_calls;
  auto store = world.keep(spawn_event_store(world.system(), journal, options));
  auto first = world.request<command_reply>(store, append_atom::value, make_append("a", 0, id_of(1)),
                                            caf::actor{});
  world.run();
  ASSERT_TRUE((**first)->accepted());
  auto waiting = world.request<command_reply>(store, append_atom::value,
                                              make_decidable_append("a", 7, id_of(2)), caf::actor{});
  world.run();
  EXPECT_FALSE(waiting->has_value());
  auto failed = world.request<command_reply>(store, append_atom::value, make_append("b", 0, id_of(3)),
                                             caf::actor{});
  world.run();
  ASSERT_TRUE(failed->has_value() && waiting->has_value());
  ASSERT_FALSE(**waiting);
  EXPECT_EQ(to_status((**waiting).error()).code(), error_code::store_unavailable);
}

TEST(event_store, fails_stop_when_the_journal_fails) {
  deterministic_system world;
  auto journal = std::make_shared<failing_journal>(2);
  event_store_options options;
  options.io_mode = journal_io_mode::inline_calls;
  auto failures = std::make_shared<int>(0);
  options.on_failure = [failures](const status&) { ++*failures; };
  auto store = world.keep(spawn_event_store(world.system(), journal, options));
  auto first = world.request<command_reply>(store, append_atom::value, make_append("a", 0, id_of(1)),
                                            caf::actor{});
  world.run();
  ASSERT_TRUE((**first)->accepted());
  auto failed = world.request<command_reply>(store, append_atom::value, make_append("a", 1, id_of(2)),
                                             caf::actor{});
  world.run();
  ASSERT_TRUE(failed->has_value());
  ASSERT_FALSE(**failed);
  EXPECT_EQ(to_status((**failed).error()).code(), error_code::store_unavailable);
  auto later = world.request<command_reply>(store, append_atom::value, make_append("b", 0, id_of(3)),
                                            caf::actor{});
  world.run();
  ASSERT_FALSE(**later);
  EXPECT_EQ(to_status((**later).error()).code(), error_code::store_unavailable);
  EXPECT_EQ(journal->head(), 1u) << "nothing of the failed batch may be visible";
  EXPECT_EQ(journal->appends(), 2u) << "a failed store never retries";
  EXPECT_EQ(*failures, 1);
  auto health = world.ask<store_status>(store, status_atom::value);
  EXPECT_FALSE(health.available);
  EXPECT_NE(health.failure.find("injected"), std::string::npos);
}
