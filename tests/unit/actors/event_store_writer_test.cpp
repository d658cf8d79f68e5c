// The event-store actor with its writer thread, on CAF's real scheduler: appends that
// arrive while a commit runs are handed over and committed together right after it,
// each is answered only once its events are durable and the store has heard so, the
// head never lags an answer, and a failed commit answers its own appends and every
// later one store_unavailable.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "caf/all.hpp"
#include "support/failing_journal.hpp"
#include "tally/detail/spawn.hpp"
#include "tally/event_store.hpp"
#include "tally/protocol.hpp"

using namespace tally;
using namespace std::chrono_literals;
using tally::test_support::failing_journal;

namespace {

// A journal whose appends wait at a gate the test opens, so a commit is "running" for
// as long as the test wants. Records every append's size, and whether the gate was open
// when each append returned.
class gated_journal final : public journal {
public:
  explicit gated_journal(std::uint64_t fail_at_append) : inner_(fail_at_append, true) {}

  status append_batch(const std::vector<recorded_event>& events) override {
    std::unique_lock<std::mutex> guard{mutex_};
    ++entered_;
    changed_.notify_all();
    changed_.wait(guard, [&] { return open_; });
    sizes_.push_back(events.size());
    return inner_.append_batch(events);
  }
  result<std::vector<recorded_event>> read_stream(std::string_view stream_id,
                                                  std::uint64_t from_version,
                                                  std::size_t max_count) const override {
    return inner_.read_stream(stream_id, from_version, max_count);
  }
  result<std::vector<recorded_event>> read_all(std::uint64_t from_position,
                                               std::size_t max_count) const override {
    return inner_.read_all(from_position, max_count);
  }
  std::uint64_t head() const override { return inner_.head(); }
  std::uint64_t stream_version(std::string_view stream_id) const override {
    return inner_.stream_version(stream_id);
  }
  std::optional<command_record> find_command(const command_id& command) const override {
    return inner_.find_command(command);
  }
  status save_snapshot(const snapshot& saved) override { return inner_.save_snapshot(saved); }
  std::optional<snapshot> load_snapshot(std::string_view stream_id) const override {
    return inner_.load_snapshot(stream_id);
  }
  bool blocks_on_io() const override { return true; }
  std::string describe() const override { return "gated(memory)"; }

  /// Waits until `count` appends have entered (at most 10 s); false if they did not.
  bool wait_entered(std::uint64_t count) {
    std::unique_lock<std::mutex> guard{mutex_};
    return changed_.wait_for(guard, 10s, [&] { return entered_ >= count; });
  }
  void open() {
    std::lock_guard<std::mutex> guard{mutex_};
    open_ = true;
    changed_.notify_all();
  }
  bool is_open() {
    std::lock_guard<std::mutex> guard{mutex_};
    return open_;
  }
  std::vector<std::size_t> sizes() {
    std::lock_guard<std::mutex> guard{mutex_};
    return sizes_;
  }

private:
  failing_journal inner_;
  std::mutex mutex_;
  std::condition_variable changed_;
  bool open_ = false;
  std::uint64_t entered_ = 0;
  std::vector<std::size_t> sizes_;
};

append_request make_append(const std::string& stream, command_id id) {
  append_request request;
  request.stream_id = stream;
  request.expected_version = 0;
  request.command = id;
  request.command_hash = 7;
  request.events.push_back(pending_event{"thing_happened", 1, "payload"});
  return request;
}

command_id id_of(std::uint64_t n) { return command_id{0xFEED, n}; }

struct writer_fixture {
  caf::actor_system_config config;
  std::unique_ptr<caf::actor_system> system;
  std::shared_ptr<gated_journal> journal;
  caf::actor store;

  explicit writer_fixture(std::uint64_t fail_at_append, std::size_t worker_threads = 2) {
    config.set("scheduler.max-threads", worker_threads);
    system = std::make_unique<caf::actor_system>(config);
    journal = std::make_shared<gated_journal>(fail_at_append);
    event_store_options options;
    options.io_mode = journal_io_mode::dedicated_thread;
    store = spawn_event_store(*system, journal, options);
  }
  ~writer_fixture() {
    journal->open();
    caf::anon_send_exit(store, caf::exit_reason::user_shutdown);
  }
};

using append_handle = caf::response_handle<caf::blocking_actor, caf::message, true>;

// Keeps the one scheduler thread of a system busy from start() until release(), so
// that nothing scheduled there (the store) runs meanwhile; released at the latest when
// destroyed. The flags are shared with the blocking actor, which may still read them
// after this object is gone.
class worker_blocker {
public:
  explicit worker_blocker(caf::actor_system& system) : system_(system) {}
  ~worker_blocker() { release(); }

  /// Occupies the scheduler thread; false if it did not start within 10 s.
  bool start() {
    detail::spawn_without_arguments(system_, [flags = flags_](caf::event_based_actor*) {
      flags->running = true;
      while (!flags->released)
        std::this_thread::sleep_for(1ms);
    });
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!flags_->running && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(1ms);
    return flags_->running;
  }
  void release() { flags_->released = true; }

private:
  struct flags {
    std::atomic<bool> running{false};
    std::atomic<bool> released{false};
  };
  caf::actor_system& system_;
  std::shared_ptr<flags> flags_ = std::make_shared<flags>();
};

// Sends the appends of ids first..last, each to its own stream, while the writer's
// first commit runs; each is handled by the store on its own (the status answer comes
// after the append: one mailbox, in order), so each is its own hand-over.
std::vector<append_handle> append_one_by_one(caf::scoped_actor& self, const caf::actor& store,
                                             std::uint64_t first, std::uint64_t last) {
  std::vector<append_handle> handles;
  for (std::uint64_t i = first; i <= last; ++i) {
    handles.push_back(self->request(store, caf::infinite, append_atom::value,
                                    make_append("s" + std::to_string(i), id_of(i)),
                                    caf::actor{}));
    self->request(store, caf::infinite, status_atom::value)
      .receive([](const store_status&) {}, [](caf::error&) {});
  }
  return handles;
}

}  // namespace

TEST(event_store_writer, appends_handed_over_during_a_commit_are_answered_after_the_next_one) {
  writer_fixture world{0};
  caf::scoped_actor self{*world.system};
  auto first = self->request(world.store, caf::infinite, append_atom::value,
                             make_append("a", id_of(1)), caf::actor{});
  ASSERT_TRUE(world.journal->wait_entered(1)) << "the writer never started the first commit";
  auto later = append_one_by_one(self, world.store, 2, 4);
  // The test opens the gate from another thread a moment later; every answer must see
  // it open (no append is answered before its commit returned).
  std::thread opener{[&] {
    std::this_thread::sleep_for(100ms);
    world.journal->open();
  }};
  auto expect_accepted_at = [&](auto& handle, std::uint64_t position) {
    handle.receive(
      [&](const command_reply& reply) {
        EXPECT_TRUE(world.journal->is_open()) << "answered before its commit ended";
        EXPECT_TRUE(reply.accepted());
        EXPECT_EQ(reply.position, position);
        // The head covers every answered position.
        self->request(world.store, caf::infinite, head_atom::value)
          .receive([&](std::uint64_t head) { EXPECT_GE(head, position); },
                   [](caf::error& failure) { ADD_FAILURE() << to_status(failure).to_string(); });
      },
      [](caf::error& failure) { ADD_FAILURE() << to_status(failure).to_string(); });
  };
  expect_accepted_at(first, 1);
  for (std::size_t i = 0; i < later.size(); ++i)
    expect_accepted_at(later[i], i + 2);
  opener.join();
  // One commit for the first append, one for the three that waited for it.
  EXPECT_EQ(world.journal->sizes(), (std::vector<std::size_t>{1, 3}));
  self->request(world.store, caf::infinite, drain_atom::value)
    .receive([](bool) {}, [](caf::error& failure) { ADD_FAILURE() << to_status(failure).to_string(); });
  self->request(world.store, caf::infinite, status_atom::value)
    .receive(
      [](const store_status& status) {
        EXPECT_EQ(status.head, 4u);
        EXPECT_EQ(status.events_committed, 4u);
        EXPECT_EQ(status.batches_committed, 2u);
        EXPECT_EQ(status.pending_events, 0u);
      },
      [](caf::error& failure) { ADD_FAILURE() << to_status(failure).to_string(); });
}

// The store answers the appends of a commit once it hears of it, on its worker (the
// writer never sees them). Here the store cannot run after the commit (its
// one scheduler thread is kept busy): the append must stay unanswered, though durable,
// until the store runs again; then the head and the store's counts cover it.
TEST(event_store_writer, the_store_answers_a_commit_once_it_heard_of_it) {
  writer_fixture world{0, 1};
  caf::scoped_actor self{*world.system};
  // Times out unless answered within the second the store is kept from running.
  auto append = self->request(world.store, 1s, append_atom::value, make_append("a", id_of(1)),
                              caf::actor{});
  ASSERT_TRUE(world.journal->wait_entered(1)) << "the writer never started the commit";
  worker_blocker blocker{*world.system};
  ASSERT_TRUE(blocker.start()) << "the scheduler thread was never free";
  world.journal->open();
  bool answered = false;
  append.receive([&](const command_reply&) { answered = true; },
                 [&](caf::error& failure) {
                   EXPECT_EQ(failure, caf::sec::request_timeout) << caf::to_string(failure);
                 });
  EXPECT_FALSE(answered) << "answered while the store could not run";
  EXPECT_EQ(world.journal->head(), 1u) << "the commit had ended meanwhile";
  // Durable, so the head says so before the store has heard of the commit.
  auto head = self->request<caf::message_priority::high>(world.store, caf::infinite,
                                                         head_atom::value);
  blocker.release();
  head.receive([&](std::uint64_t position) { EXPECT_EQ(position, 1u); },
               [](caf::error& failure) { ADD_FAILURE() << to_status(failure).to_string(); });
  self->request(world.store, caf::infinite, status_atom::value)
    .receive(
      [&](const store_status& status) {
        EXPECT_EQ(status.head, 1u);
        EXPECT_EQ(status.events_committed, 1u);
        EXPECT_EQ(status.pending_events, 0u);
      },
      [](caf::error& failure) { ADD_FAILURE() << to_status(failure).to_string(); });
  // The next append is answered as usual.
  self->request(world.store, caf::infinite, append_atom::value, make_append("b", id_of(2)),
                caf::actor{})
    .receive([](const command_reply& reply) { EXPECT_EQ(reply.position, 2u); },
             [](caf::error& failure) { ADD_FAILURE() << to_status(failure).to_string(); });
}

TEST(event_store_writer, a_failed_commit_answers_its_appends_and_every_later_one_unavailable) {
  writer_fixture world{2};  // the second append fails
  caf::scoped_actor self{*world.system};
  auto first = self->request(world.store, caf::infinite, append_atom::value,
                             make_append("a", id_of(1)), caf::actor{});
  ASSERT_TRUE(world.journal->wait_entered(1));
  auto later = append_one_by_one(self, world.store, 2, 3);
  world.journal->open();
  first.receive([](const command_reply& reply) { EXPECT_TRUE(reply.accepted()); },
                [](caf::error& failure) { ADD_FAILURE() << to_status(failure).to_string(); });
  for (auto& handle : later)
    handle.receive(
      [](const command_reply& reply) {
        ADD_FAILURE() << "an append of the failed commit was answered, outcome "
                      << static_cast<int>(reply.outcome);
      },
      [](caf::error& failure) {
        EXPECT_EQ(to_status(failure).code(), error_code::store_unavailable)
          << to_status(failure).to_string();
      });
  // The store stopped: a later append is refused, and the head stays at the last
  // durable position.
  self->request(world.store, caf::infinite, append_atom::value, make_append("z", id_of(9)),
                caf::actor{})
    .receive([](const command_reply&) { ADD_FAILURE() << "appended after a failed commit"; },
             [](caf::error& failure) {
               EXPECT_EQ(to_status(failure).code(), error_code::store_unavailable);
             });
  self->request(world.store, caf::infinite, status_atom::value)
    .receive(
      [](const store_status& status) {
        EXPECT_FALSE(status.available);
        EXPECT_EQ(status.head, 1u);
      },
      [](caf::error& failure) { ADD_FAILURE() << to_status(failure).to_string(); });
  EXPECT_EQ(world.journal->head(), 1u);
}
