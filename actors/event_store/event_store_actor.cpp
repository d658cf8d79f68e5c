// The event-store actor. It is the only writer of its journal: it checks expected
// versions and command ids, assigns positions, versions and event ids, groups
// everything that arrived while the previous commit ran into the next batch (group
// commit), and after the commit acknowledges every append of the batch and publishes
// the batch to subscribers in global order. Blocking journals run on detached actors
// (their own threads), never on CAF's scheduler threads.
#include "tally/event_store.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <mutex>
#include <unordered_map>

#include "tally/assert.hpp"
#include "tally/detail/spawn.hpp"
#include "tally/detail/text_hash.hpp"
#include "tally/protocol.hpp"

namespace tally {

namespace {

// One commit's journal calls: the batch's events (shared with the subscribers that
// receive them after the commit) and the snapshots to save after them.
struct writer_job {
  event_batch events;
  std::vector<snapshot> snapshots;
};

// The answer to one append, delivered once its events are durable.
struct acknowledgement {
  caf::response_promise promise;
  command_reply reply;
};

// A closed batch on its way to the writer thread. Its appends stay with the store, in
// `ready`, which answers them once the writer reports the batch durable (or failed).
struct handed_batch {
  std::uint64_t sequence = 0;
  std::vector<recorded_event> events;
  std::vector<snapshot> snapshots;
};

// Closed batches between the store (a CAF worker) and the writer thread. The store
// hands a batch over as soon as it closes it, into the last batch still waiting while
// that one has room; the writer takes the next batch the moment its commit ends. So a
// sync never waits for the store's turn on a busy worker to start: measured on the
// 2-core machine, that wait made a batch cycle 212 us against a 127 us commit.
struct writer_handoff {
  std::mutex mutex;
  std::deque<handed_batch> waiting;  ///< oldest first; at most one has room left
  bool writer_waiting = true;        ///< the writer found nothing: the next hand-over rings
  bool stopped = false;              ///< a commit failed: the writer takes nothing more
  /// The last position the writer made durable, set before it tells the store: the
  /// store's head reports it at once, before the store has heard of the commit.
  std::atomic<std::uint64_t> durable_head{0};
};

}  // namespace
}  // namespace tally

namespace tally {

namespace {

std::int64_t wall_clock_ns() {
  using namespace std::chrono;
  return duration_cast<nanoseconds>(system_clock::now().time_since_epoch()).count();
}

// Runs the journal calls of one commit: events, then snapshots. Used inline and by
// the writer thread.
status write_job(journal& target, const writer_job& job) {
  if (job.events && !job.events->empty())
    if (auto failure = target.append_batch(*job.events))
      return failure;
  for (const auto& saved : job.snapshots)
    if (auto failure = target.save_snapshot(saved))
      return failure;
  return status::ok();
}

result<loaded_stream> read_for_load(const journal& source, const std::string& stream_id,
                                    bool use_snapshot) {
  loaded_stream loaded;
  std::uint64_t from_version = 1;
  if (use_snapshot) {
    if (auto latest = source.load_snapshot(stream_id)) {
      loaded.has_snapshot = true;
      loaded.latest_snapshot = std::move(*latest);
      from_version = loaded.latest_snapshot.stream_version + 1;
    }
  }
  auto events = source.read_stream(stream_id, from_version, read_events_max);
  if (!events)
    return events.error();
  loaded.events = std::move(*events);
  loaded.complete = loaded.events.size() < read_events_max;
  return loaded;
}

// The reader: serves reads of committed data on its own thread for blocking journals.
caf::behavior journal_reader(caf::event_based_actor*, std::shared_ptr<journal> source) {
  return {
    [source](load_atom, const std::string& stream_id,
             bool use_snapshot) -> caf::result<loaded_stream> {
      auto loaded = read_for_load(*source, stream_id, use_snapshot);
      if (!loaded)
        return make_caf_error(loaded.error());
      return std::move(*loaded);
    },
    [source](rehydrate_atom, const std::string& stream_id,
             bool use_snapshot) -> caf::result<loaded_stream, handed_back_commands> {
      // The store sends a rehydration here only when it has no commands to hand back.
      auto loaded = read_for_load(*source, stream_id, use_snapshot);
      if (!loaded)
        return make_caf_error(loaded.error());
      return caf::result<loaded_stream, handed_back_commands>{std::move(*loaded),
                                                              handed_back_commands{}};
    },
    [source](read_stream_atom, const std::string& stream_id, std::uint64_t from_version,
             std::uint64_t max_count) -> caf::result<std::vector<recorded_event>> {
      auto events = source->read_stream(stream_id, from_version, max_count);
      if (!events)
        return make_caf_error(events.error());
      return std::move(*events);
    },
    [source](read_all_atom, std::uint64_t from_position,
             std::uint64_t max_count) -> caf::result<std::vector<recorded_event>> {
      auto events = source->read_all(from_position, max_count);
      if (!events)
        return make_caf_error(events.error());
      return std::move(*events);
    },
  };
}

std::uint64_t steady_ns() {
  using namespace std::chrono;
  return static_cast<std::uint64_t>(
    duration_cast<nanoseconds>(steady_clock::now().time_since_epoch()).count());
}

// The writer: on the store's doorbell it commits the handed-over batches one at a time,
// on its own thread, until none is left. After each it tells the store the batch's
// sequence, its events, the failure text (empty on success) and how long the write and
// sync took; the store answers the batch's appends, on the worker where their callers
// run (answered from the writer's thread, every answer cost the worker a few cache
// misses across cores: 5 % of uniform durable throughput, docs/benchmarks.md). It stops
// at the first failure (fail-stop).
caf::behavior journal_writer(caf::event_based_actor* self, std::shared_ptr<journal> target,
                             std::shared_ptr<writer_handoff> handoff) {
  return {
    [self, target, handoff](append_atom) {
      auto store = caf::actor_cast<caf::actor>(self->current_sender());
      for (;;) {
        handed_batch next;
        {
          std::lock_guard<std::mutex> guard{handoff->mutex};
          if (handoff->stopped || handoff->waiting.empty()) {
            handoff->writer_waiting = true;
            return;
          }
          next = std::move(handoff->waiting.front());
          handoff->waiting.pop_front();
        }
        // The commit time of every event of the batch.
        auto now = wall_clock_ns();
        for (auto& event : next.events)
          event.timestamp_ns = now;
        event_batch events = std::make_shared<const std::vector<recorded_event>>(
          std::move(next.events));
        auto started = steady_ns();
        auto result = write_job(*target, writer_job{events, std::move(next.snapshots)});
        auto took = steady_ns() - started;
        if (result.is_ok()) {
          if (!events->empty())
            handoff->durable_head.store(events->back().position, std::memory_order_release);
          self->send(store, committed_atom::value, next.sequence, std::move(events),
                     std::string{}, took);
          continue;
        }
        {
          std::lock_guard<std::mutex> guard{handoff->mutex};
          handoff->stopped = true;
        }
        // The store answers this batch's appends and everyone else's store_unavailable.
        auto failure_text = result.detail_under(error_code::store_unavailable);
        self->send(store, committed_atom::value, next.sequence, std::move(events),
                   std::move(failure_text), took);
        return;
      }
    },
  };
}

// A group-commit batch, from the first append to the delivery of its replies.
struct batch {
  std::uint64_t sequence = 0;
  std::vector<recorded_event> events;
  event_batch frozen;  // `events` once committed, shared with the subscribers
  std::vector<snapshot> snapshots;
  std::vector<acknowledgement> acknowledgements;
  std::vector<std::function<void()>> after_commit;  // deferred reads and replies
};

// The stream tables' inline hash (std::hash<std::string> is an out-of-line call).
struct stream_id_hash {
  std::size_t operator()(const std::string& stream_id) const noexcept {
    return static_cast<std::size_t>(detail::hash_text(stream_id));
  }
};

struct pending_version {
  std::uint64_t version = 0;
  std::uint64_t batch_sequence = 0;
};

struct pending_command {
  command_record record;
  std::uint64_t batch_sequence = 0;
};

struct event_store_state {
  static inline const char* name = "tally.event_store";

  std::shared_ptr<journal> store;
  event_store_options options;
  bool io_thread = false;
  caf::actor writer;
  caf::actor reader;
  std::shared_ptr<writer_handoff> handoff;  ///< with the writer thread (io_thread only)

  std::uint64_t committed_head = 0;
  std::uint64_t assigned_head = 0;
  std::uint64_t next_batch_sequence = 1;
  std::uint64_t pending_events = 0;
  batch current;
  // Closed and not committed yet, oldest first. With the writer thread their events
  // are in `handoff` or at the writer, and a batch merged into the one before it takes
  // that one's place (and its own, later, sequence).
  std::deque<batch> ready;
  bool flush_scheduled = false;

  // Appends assigned but not committed yet, so checks see them.
  std::unordered_map<std::string, pending_version, stream_id_hash> pending_versions;
  std::unordered_map<command_id, pending_command> pending_commands;

  // Streams whose aggregate was told to reload (one rollback) because the store refused
  // one of its decidable commands, with the commands handed back to it since, in the
  // order it decided them. Until the aggregate asks for them (rehydrate_atom,
  // handed_back_atom), every decidable command of the stream joins them, whatever its
  // version: none may overtake a command decided before it. Each list holds at most what
  // the aggregate decided before it handled the rollback.
  std::unordered_map<std::string, handed_back_commands> reloads_pending;

  std::shared_ptr<append_queue> queue;  ///< commands from local aggregates (may be null)
  std::vector<queued_command> drained;  ///< reused buffer for absorb_queue()
  std::vector<append_check_key> check_keys;  ///< reused buffer for absorb_queue()

  std::vector<caf::actor> subscribers;
  status failure;
  std::uint64_t batches_committed = 0;
  std::uint64_t events_committed = 0;
  log_histogram batch_events;
  log_histogram commit_latency_us;
};

using store_actor = caf::stateful_actor<event_store_state>;

constexpr std::size_t pending_entries_expected = 1024;

std::uint64_t current_version(event_store_state& st, const std::string& stream_id) {
  if (auto it = st.pending_versions.find(stream_id); it != st.pending_versions.end())
    return it->second.version;
  return st.store->stream_version(stream_id);
}

// The newest batch not yet committed: actions attached to it run after everything
// the store received so far is committed.
batch* newest_uncommitted(event_store_state& st) {
  if (!st.current.events.empty() || !st.current.snapshots.empty()
      || !st.current.after_commit.empty())
    return &st.current;
  if (!st.ready.empty())
    return &st.ready.back();
  return nullptr;
}

// Every event up to it is durable. With the writer thread that can be ahead of
// committed_head (what the store has published to subscribers so far).
std::uint64_t durable_head(const event_store_state& st) {
  if (!st.handoff)
    return st.committed_head;
  return std::max(st.committed_head, st.handoff->durable_head.load(std::memory_order_acquire));
}

void schedule_flush(store_actor* self) {
  if (!self->state.flush_scheduled) {
    self->state.flush_scheduled = true;
    // Queued behind the messages already in the mailbox: they join this batch.
    self->send(self, flush_atom::value);
  }
}

// Runs `action` once everything received so far is committed (or failed).
void after_commit(store_actor* self, std::function<void()> action) {
  auto& st = self->state;
  if (auto* newest = newest_uncommitted(st)) {
    newest->after_commit.push_back(std::move(action));
    if (newest == &st.current)
      schedule_flush(self);
  } else {
    action();
  }
}

void hand_over(store_actor* self, batch closing);

// Closes the current batch: with the writer thread it is handed over at once, else it
// waits in `ready` for commit_inline().
void close_current(store_actor* self) {
  auto& st = self->state;
  if (st.current.events.empty() && st.current.snapshots.empty() && st.current.after_commit.empty())
    return;
  auto closing = std::move(st.current);
  st.current = batch{};
  st.current.sequence = st.next_batch_sequence++;
  // Under steady load one batch is about as large as the last, give or take a half:
  // sized once, the vectors do not regrow (and move every event) a few times per batch.
  auto expected_size = [&](std::size_t last) {
    return std::min<std::size_t>(st.options.batch_events_max, last + last / 2 + 16);
  };
  st.current.events.reserve(expected_size(closing.events.size()));
  st.current.acknowledgements.reserve(expected_size(closing.acknowledgements.size()));
  if (st.io_thread) {
    hand_over(self, std::move(closing));
    return;
  }
  auto now = wall_clock_ns();
  for (auto& event : closing.events)
    event.timestamp_ns = now;
  closing.frozen = std::make_shared<const std::vector<recorded_event>>(std::move(closing.events));
  closing.events.clear();
  st.ready.push_back(std::move(closing));
}

// Gives a closed batch to the writer thread: merged into the last batch still waiting
// there when it fits (the writer has not started on it, so nothing of it is committed),
// else queued behind it. Rings the writer when it waits for work.
void hand_over(store_actor* self, batch closing) {
  auto& st = self->state;
  bool merged = false;
  bool ring = false;
  {
    std::lock_guard<std::mutex> guard{st.handoff->mutex};
    auto& waiting = st.handoff->waiting;
    if (!waiting.empty()
        && waiting.back().events.size() + closing.events.size() <= st.options.batch_events_max) {
      auto& into = waiting.back();
      TALLY_ASSERT(!st.ready.empty() && st.ready.back().sequence == into.sequence);
      TALLY_ASSERT(into.sequence < closing.sequence);
      into.sequence = closing.sequence;
      into.events.insert(into.events.end(), std::make_move_iterator(closing.events.begin()),
                         std::make_move_iterator(closing.events.end()));
      into.snapshots.insert(into.snapshots.end(),
                            std::make_move_iterator(closing.snapshots.begin()),
                            std::make_move_iterator(closing.snapshots.end()));
      merged = true;
    } else {
      waiting.push_back(handed_batch{closing.sequence, std::move(closing.events),
                                     std::move(closing.snapshots)});
    }
    if (st.handoff->writer_waiting) {
      st.handoff->writer_waiting = false;
      ring = true;
    }
  }
  closing.events.clear();
  closing.snapshots.clear();
  if (merged) {
    // The pending versions and command ids assigned to either batch commit with it:
    // finish() takes every one whose batch sequence is not past the committed one.
    auto& into = st.ready.back();
    into.sequence = closing.sequence;
    into.acknowledgements.insert(into.acknowledgements.end(),
                                 std::make_move_iterator(closing.acknowledgements.begin()),
                                 std::make_move_iterator(closing.acknowledgements.end()));
    into.after_commit.insert(into.after_commit.end(),
                             std::make_move_iterator(closing.after_commit.begin()),
                             std::make_move_iterator(closing.after_commit.end()));
  } else {
    st.ready.push_back(std::move(closing));
  }
  if (ring)
    self->send(st.writer, append_atom::value);
}

void fail(store_actor* self, const status& failure);

void finish(store_actor* self, batch& done, std::uint64_t commit_ns) {
  auto& st = self->state;
  const auto& events = *done.frozen;
  if (!events.empty()) {
    st.batch_events.record(events.size());
    st.commit_latency_us.record(commit_ns / 1000);
  }
  if (!events.empty()) {
    TALLY_ASSERT(events.front().position == st.committed_head + 1);
    st.committed_head = events.back().position;
    st.pending_events -= events.size();
    st.events_committed += events.size();
    for (const auto& event : events) {
      // A later batch may have assigned the stream (or id) again: that one stays.
      if (auto it = st.pending_versions.find(event.stream_id);
          it != st.pending_versions.end() && it->second.batch_sequence <= done.sequence)
        st.pending_versions.erase(it);
      if (auto it = st.pending_commands.find(event.command);
          it != st.pending_commands.end() && it->second.batch_sequence <= done.sequence)
        st.pending_commands.erase(it);
    }
  }
  ++st.batches_committed;
  for (auto& ack : done.acknowledgements)
    ack.promise.deliver(ack.reply);
  if (!events.empty())
    for (auto& subscriber : st.subscribers)
      self->send(subscriber, done.frozen);
  for (auto& action : done.after_commit)
    action();
}

void absorb_queue(store_actor* self);

void commit_inline(store_actor* self) {
  auto& st = self->state;
  while (!st.ready.empty() && st.failure.is_ok()) {
    auto next = std::move(st.ready.front());
    st.ready.pop_front();
    writer_job job{next.frozen, next.snapshots};
    auto started = steady_ns();
    if (auto failure = write_job(*st.store, job)) {
      st.ready.push_front(std::move(next));
      fail(self, failure);
      return;
    }
    finish(self, next, steady_ns() - started);
  }
}

// Closes the current batch and starts its commit: inline, or (with the writer thread)
// the hand-over already did.
void commit_current(store_actor* self) {
  auto& st = self->state;
  if (!st.failure.is_ok())
    return;
  close_current(self);
  if (!st.io_thread)
    commit_inline(self);
}

// The writer committed batch `sequence` (the oldest handed over), or failed it.
void writer_committed(store_actor* self, std::uint64_t sequence, event_batch events,
                      const std::string& failure_text, std::uint64_t commit_ns) {
  auto& st = self->state;
  if (!st.failure.is_ok())
    return;  // everything uncommitted was answered already
  if (!failure_text.empty()) {
    fail(self, status{error_code::store_unavailable, failure_text});
    return;
  }
  TALLY_ASSERT(!st.ready.empty() && st.ready.front().sequence == sequence);
  TALLY_ASSERT(events != nullptr);
  auto done = std::move(st.ready.front());
  st.ready.pop_front();
  done.frozen = std::move(events);
  finish(self, done, commit_ns);
}

// Fail-stop: nothing of the failed batch or anything after it is acknowledged; every
// waiting caller gets store_unavailable; later appends are refused.
void fail(store_actor* self, const status& failure) {
  auto& st = self->state;
  if (st.failure.is_ok())
    st.failure = status{error_code::store_unavailable, failure.message()};
  auto error = make_caf_error(st.failure);
  auto drop = [&](batch& failed) {
    for (auto& ack : failed.acknowledgements)
      ack.promise.deliver(error);
    failed.acknowledgements.clear();
    for (auto& action : failed.after_commit)
      action();  // deferred actions check st.failure and answer with the error
    failed.after_commit.clear();
  };
  if (st.handoff) {
    // Their appends are in `ready`, answered below.
    std::lock_guard<std::mutex> guard{st.handoff->mutex};
    st.handoff->stopped = true;
    st.handoff->waiting.clear();
  }
  for (auto& failed : st.ready)
    drop(failed);
  st.ready.clear();
  drop(st.current);
  st.current = batch{};
  st.current.sequence = st.next_batch_sequence++;
  st.pending_versions.clear();
  st.pending_commands.clear();
  st.pending_events = 0;
  for (auto& [stream_id, handed_back] : st.reloads_pending)
    for (auto& command : handed_back)
      command.promise.deliver(error);
  st.reloads_pending.clear();
  if (st.options.on_failure) {
    auto notify = std::move(st.options.on_failure);
    st.options.on_failure = nullptr;
    notify(st.failure);
  }
}

command_reply duplicate_reply(const command_record& record) {
  return command_reply{error_code::none, record.last_version, record.last_position, true};
}

// Answers a retried command id from what was committed (deferred while pending).
void answer_outcome(store_actor* self, caf::response_promise promise, const command_id& command,
                    std::uint64_t command_hash, const std::string& stream_id,
                    command_reply if_unknown) {
  auto& st = self->state;
  auto answer = [self, promise, command, command_hash, stream_id, if_unknown]() mutable {
    auto& st = self->state;
    if (!st.failure.is_ok()) {
      promise.deliver(make_caf_error(st.failure));
      return;
    }
    auto record = st.store->find_command(command);
    if (!record) {
      promise.deliver(if_unknown);
      return;
    }
    if (record->stream_id != stream_id || record->command_hash != command_hash) {
      promise.deliver(command_reply{error_code::command_id_reused_with_different_payload,
                                    0, 0, false});
      return;
    }
    promise.deliver(duplicate_reply(*record));
  };
  if (st.pending_commands.count(command) != 0)
    after_commit(self, std::move(answer));
  else
    answer();
}

bool is_known(event_store_state& st, const command_id& command) {
  return st.pending_commands.count(command) != 0 || st.store->find_command(command).has_value();
}

// The aggregate of `stream_id` decided on a state that is not the stream's: it evolved
// its state with a command the store refused, or decided a command on such a state. It
// gets one rollback (it reloads and takes what was handed back meanwhile); a sender that
// cannot decide again gets one for every refusal, as before hand-backs existed.
void refused(store_actor* self, const std::string& stream_id, const caf::actor& origin,
             bool decidable) {
  auto& st = self->state;
  if (decidable) {
    bool first = st.reloads_pending.try_emplace(stream_id).second;
    if (first && origin)
      self->send(origin, rollback_atom::value, stream_id);
    return;
  }
  if (origin)
    self->send(origin, rollback_atom::value, stream_id);
}

// Hands a command back to the aggregate of `stream_id`: it was decided on a state the
// stream does not have, so its decision does not stand and the aggregate decides it
// again after its reload. Beyond command_decisions_max decisions it is answered
// limit_exceeded instead: nothing of it was appended, the caller retries.
void hand_back(store_actor* self, const std::string& stream_id, caf::message command,
               caf::response_promise promise, std::uint32_t decisions, const caf::actor& origin) {
  auto& st = self->state;
  TALLY_ASSERT(!command.empty());
  TALLY_ASSERT(decisions >= 1);
  refused(self, stream_id, origin, true);
  if (decisions >= command_decisions_max) {
    promise.deliver(make_caf_error(
      status{error_code::limit_exceeded,
             "decided " + std::to_string(decisions) + " times on a state of stream " + stream_id
               + " that ran ahead of it; nothing was appended, retry with the same command id"}));
    return;
  }
  st.reloads_pending.at(stream_id).push_back(
    handed_back_command{std::move(command), std::move(promise), decisions});
}

// Ends the refusals of `stream_id`: the aggregate reloads now and takes the commands
// handed back to it, so its next commands are decided on the stream's own state.
handed_back_commands take_handed_back(event_store_state& st, const std::string& stream_id) {
  handed_back_commands out;
  if (auto it = st.reloads_pending.find(stream_id); it != st.reloads_pending.end()) {
    out = std::move(it->second);
    st.reloads_pending.erase(it);
  }
  return out;
}

// Checks one command's append and assigns it to the current batch (or answers it:
// duplicate, conflict, failure; or hands it back). `promise` answers the caller after
// the commit.
void accept_append(store_actor* self, append_request& request, caf::response_promise promise,
                   const caf::actor& origin) {
  auto& st = self->state;
    if (!st.failure.is_ok()) {
      promise.deliver(make_caf_error(st.failure));
      return;
    }
    const bool decidable = !request.decidable_command.empty();
    const auto count = request.events.size();
    if (count == 0 || count > st.options.command_events_max) {
      promise.deliver(make_caf_error(status{error_code::limit_exceeded,
                                            "a command must append 1 to "
                                              + std::to_string(st.options.command_events_max)
                                              + " events"}));
      if (decidable)
        refused(self, request.stream_id, origin, decidable);
      return;
    }
    if (st.pending_events + count > st.options.pending_events_max) {
      promise.deliver(make_caf_error(status{error_code::limit_exceeded,
                                            "too many appends waiting for the journal"}));
      refused(self, request.stream_id, origin, decidable);
      return;
    }
    // At most once per command id: a retry gets the original outcome.
    if (is_known(st, request.command)) {
      answer_outcome(self, promise, request.command, request.command_hash, request.stream_id,
                     command_reply{error_code::wrong_expected_version, 0, 0, false});
      refused(self, request.stream_id, origin, decidable);
      return;
    }
    // A command decided behind a refused one rests on the refused one's events: it is
    // decided again, after the commands handed back before it (order per aggregate).
    if (decidable && st.reloads_pending.count(request.stream_id) != 0) {
      hand_back(self, request.stream_id, std::move(request.decidable_command), std::move(promise),
                request.decisions, origin);
      return;
    }
    auto version = current_version(st, request.stream_id);
    if (request.expected_version != version) {
      if (decidable) {
        // The aggregate's state is not the stream's (its pipeline ran ahead): whatever
        // version the caller named, the aggregate checks it again on the reloaded state.
        hand_back(self, request.stream_id, std::move(request.decidable_command),
                  std::move(promise), request.decisions, origin);
        return;
      }
      promise.deliver(command_reply{error_code::wrong_expected_version, version, 0, false});
      refused(self, request.stream_id, origin, decidable);
      return;
    }
    auto& target = st.current;
    pending_command pending{command_record{request.stream_id, request.command_hash,
                                           version + 1, version + count,
                                           st.assigned_head + 1, st.assigned_head + count},
                            target.sequence};
    for (std::size_t index = 0; index < count; ++index) {
      auto& source = request.events[index];
      recorded_event event;
      event.position = ++st.assigned_head;
      event.stream_id = request.stream_id;
      event.stream_version = version + index + 1;
      event.event_id = request.command.derive("event", index);
      event.type = std::move(source.type);
      event.schema_version = source.schema_version;
      event.payload = std::move(source.payload);
      event.command = request.command;
      event.correlation = request.correlation;
      event.command_hash = request.command_hash;
      target.events.push_back(std::move(event));
    }
    st.pending_events += count;
    st.pending_versions[request.stream_id] = pending_version{version + count, target.sequence};
    auto reply = command_reply{error_code::none, version + count, st.assigned_head, false};
    st.pending_commands.emplace(request.command, std::move(pending));
    target.acknowledgements.push_back(acknowledgement{std::move(promise), reply});
    if (target.events.size() + st.options.command_events_max > st.options.batch_events_max)
      commit_current(self);
}

// Answers a command its aggregate did not append: the original outcome when the id was
// applied, else the aggregate's refusal if that decision stands. It does not when the
// aggregate decided on a state the stream does not have (a reload is pending for the
// stream: an append ahead of it was refused; or the version it decided at is past the
// stream's), or when it had no decision of its own (a retry of an id whose append was
// refused): then the command is handed back and decided again.
void accept_lookup(store_actor* self, outcome_request& lookup, caf::response_promise promise,
                   const caf::actor& origin) {
  auto& st = self->state;
  if (!st.failure.is_ok()) {
    promise.deliver(make_caf_error(st.failure));
    return;
  }
  if (is_known(st, lookup.command)) {
    answer_outcome(self, std::move(promise), lookup.command, lookup.command_hash,
                   lookup.stream_id, lookup.refusal);
    return;
  }
  const bool stale = !lookup.decided || st.reloads_pending.count(lookup.stream_id) != 0
                     || lookup.decided_at_version > current_version(st, lookup.stream_id);
  if (stale && !lookup.decidable_command.empty()) {
    hand_back(self, lookup.stream_id, std::move(lookup.decidable_command), std::move(promise),
              lookup.decisions, origin);
    return;
  }
  promise.deliver(lookup.refusal);
}

// Takes every command the aggregates queued so far, in queue order. Called before
// handling any message whose answer must see the sender's earlier commands.
void absorb_queue(store_actor* self) {
  auto& st = self->state;
  if (!st.queue)
    return;
  st.queue->drain(st.drained);
  // The checks look up each stream and command id in the journal's indexes, which are
  // far larger than the caches: the next few appends' lookups are started while one
  // is checked, a few at a time (more would not find free miss buffers).
  constexpr std::size_t prefetch_ahead = 8;
  auto prefetch_from = [&st](std::size_t first) {
    st.check_keys.clear();
    for (std::size_t i = first; i < std::min(first + prefetch_ahead, st.drained.size()); ++i)
      if (const auto* append = std::get_if<append_request>(&st.drained[i].request))
        st.check_keys.push_back(append_check_key{append->stream_id, append->command});
    if (!st.check_keys.empty())
      st.store->prefetch_checks(st.check_keys);
    st.check_keys.clear();  // the views point into `drained`
  };
  if (st.drained.size() > 1)
    prefetch_from(0);
  for (std::size_t index = 0; index < st.drained.size(); ++index) {
    if (index % prefetch_ahead == 0 && st.drained.size() > 1)
      prefetch_from(index + prefetch_ahead);
    auto& item = st.drained[index];
    auto origin = caf::actor_cast<caf::actor>(item.origin);
    if (auto* append = std::get_if<append_request>(&item.request))
      accept_append(self, *append, std::move(item.promise), origin);
    else
      accept_lookup(self, std::get<outcome_request>(item.request), std::move(item.promise), origin);
  }
  st.drained.clear();
}

}  // namespace

caf::actor spawn_event_store(caf::actor_system& system, std::shared_ptr<journal> store,
                             event_store_options options, std::shared_ptr<append_queue> queue) {
  TALLY_ASSERT(store != nullptr);
  TALLY_ASSERT(options.batch_events_max >= options.command_events_max);
  TALLY_ASSERT(options.batch_events_max <= append_batch_events_max);
  bool io_thread = options.io_mode == journal_io_mode::dedicated_thread
                   || (options.io_mode == journal_io_mode::automatic && store->blocks_on_io());
  caf::actor writer;
  caf::actor reader;
  std::shared_ptr<writer_handoff> handoff;
  if (io_thread) {
    handoff = std::make_shared<writer_handoff>();
    writer = system.spawn<caf::detached>(journal_writer, store, handoff);
    reader = system.spawn<caf::detached>(journal_reader, store);
  }
  auto init = [=](store_actor* self) -> caf::behavior {
    auto& st = self->state;
    st.store = store;
    st.queue = queue;
    st.options = options;
    st.io_thread = io_thread;
    st.writer = writer;
    st.handoff = handoff;
    st.reader = reader;
    st.committed_head = store->head();
    st.assigned_head = st.committed_head;
    st.current.sequence = st.next_batch_sequence++;
    // Under load a few batches of appends are pending at a time: sized once, the maps
    // do not rehash while they fill and empty again.
    st.pending_versions.reserve(pending_entries_expected);
    st.pending_commands.reserve(pending_entries_expected);
    if (io_thread) {
      // The helpers die with the store (they keep no handle to it between messages).
      self->link_to(writer);
      self->link_to(reader);
    }
    self->set_down_handler([self](caf::down_msg& down) {
      auto& subscribers = self->state.subscribers;
      subscribers.erase(std::remove_if(subscribers.begin(), subscribers.end(),
                                       [&](const caf::actor& x) { return x.address() == down.source; }),
                        subscribers.end());
    });
    return {
      [self](append_atom, append_request& request, const caf::actor& origin) {
        accept_append(self, request, self->make_response_promise(), origin);
        schedule_flush(self);
      },
      [self](appended_atom) {
        // The doorbell: aggregates queued appends. Take them all and commit them (while
        // the writer syncs, they join the batch waiting for it).
        absorb_queue(self);
        commit_current(self);
      },
      [self](outcome_atom, const command_id& command, std::uint64_t command_hash,
             const std::string& stream_id) {
        absorb_queue(self);
        // Unknown: the earlier append with this id was refused (the aggregate rolled back).
        answer_outcome(self, self->make_response_promise(), command, command_hash, stream_id,
                       command_reply{error_code::wrong_expected_version, 0, 0, false});
      },
      [self](outcome_atom, outcome_request& lookup, const caf::actor& origin) {
        absorb_queue(self);
        accept_lookup(self, lookup, self->make_response_promise(), origin);
      },
      [self](committed_atom, std::uint64_t sequence, event_batch& events,
             const std::string& failure_text, std::uint64_t commit_ns) {
        writer_committed(self, sequence, std::move(events), failure_text, commit_ns);
      },
      [self](flush_atom) {
        absorb_queue(self);
        auto& st = self->state;
        st.flush_scheduled = false;
        commit_current(self);
      },
      [self](rehydrate_atom, const std::string& stream_id, bool use_snapshot) {
        absorb_queue(self);
        // Every command the aggregate sent before this request was absorbed above: the
        // ones handed back are all here, and the next ones are decided on the reload.
        auto handed_back = take_handed_back(self->state, stream_id);
        auto promise = self->make_response_promise();
        auto serve = [self, promise, stream_id, use_snapshot,
                      handed_back = std::move(handed_back)]() mutable {
          auto& st = self->state;
          auto answer_failure = [&](const caf::error& failure) {
            for (auto& command : handed_back)
              command.promise.deliver(failure);
            promise.deliver(failure);
          };
          if (!st.failure.is_ok()) {
            answer_failure(make_caf_error(st.failure));
            return;
          }
          if (st.io_thread) {
            if (st.store->stream_version(stream_id) == 0) {
              // Nothing to read (a stream without events has no snapshot either): no
              // round trip through the reader's thread for every new aggregate.
              promise.deliver(loaded_stream{}, std::move(handed_back));
              return;
            }
            if (handed_back.empty()) {
              promise.delegate(st.reader, rehydrate_atom::value, stream_id, use_snapshot);
              return;
            }
            self->request(st.reader, caf::infinite, load_atom::value, stream_id, use_snapshot)
              .then(
                [promise, handed_back](loaded_stream& loaded) mutable {
                  promise.deliver(std::move(loaded), std::move(handed_back));
                },
                [promise, handed_back](caf::error& failure) mutable {
                  for (auto& command : handed_back)
                    command.promise.deliver(failure);
                  promise.deliver(failure);
                });
            return;
          }
          auto loaded = read_for_load(*st.store, stream_id, use_snapshot);
          if (!loaded)
            answer_failure(make_caf_error(loaded.error()));
          else
            promise.deliver(std::move(*loaded), std::move(handed_back));
        };
        if (self->state.pending_versions.count(stream_id) != 0)
          after_commit(self, std::move(serve));
        else
          serve();
      },
      [self](handed_back_atom, const std::string& stream_id) -> handed_back_commands {
        // A stopping aggregate asks: a command handed back to it must not be left
        // without an answer.
        absorb_queue(self);
        return take_handed_back(self->state, stream_id);
      },
      [self](load_atom, const std::string& stream_id, bool use_snapshot) {
        absorb_queue(self);
        auto promise = self->make_response_promise();
        auto serve = [self, promise, stream_id, use_snapshot]() mutable {
          auto& st = self->state;
          if (!st.failure.is_ok()) {
            promise.deliver(make_caf_error(st.failure));
            return;
          }
          if (st.io_thread) {
            promise.delegate(st.reader, load_atom::value, stream_id, use_snapshot);
            return;
          }
          auto loaded = read_for_load(*st.store, stream_id, use_snapshot);
          if (!loaded)
            promise.deliver(make_caf_error(loaded.error()));
          else
            promise.deliver(std::move(*loaded));
        };
        if (self->state.pending_versions.count(stream_id) != 0)
          after_commit(self, std::move(serve));
        else
          serve();
      },
      [self](read_stream_atom, const std::string& stream_id, std::uint64_t from_version,
             std::uint64_t max_count) {
        absorb_queue(self);
        auto promise = self->make_response_promise();
        auto count = std::min<std::uint64_t>(max_count, read_events_max);
        auto serve = [self, promise, stream_id, from_version, count]() mutable {
          auto& st = self->state;
          if (st.io_thread) {
            promise.delegate(st.reader, read_stream_atom::value, stream_id, from_version, count);
            return;
          }
          auto events = st.store->read_stream(stream_id, from_version, count);
          if (!events)
            promise.deliver(make_caf_error(events.error()));
          else
            promise.deliver(std::move(*events));
        };
        if (self->state.pending_versions.count(stream_id) != 0)
          after_commit(self, std::move(serve));
        else
          serve();
      },
      [self](read_all_atom, std::uint64_t from_position, std::uint64_t max_count) {
        auto& st = self->state;
        auto promise = self->make_response_promise();
        auto count = std::min<std::uint64_t>(max_count, read_events_max);
        if (st.io_thread) {
          promise.delegate(st.reader, read_all_atom::value, from_position, count);
          return;
        }
        auto events = st.store->read_all(from_position, count);
        if (!events)
          promise.deliver(make_caf_error(events.error()));
        else
          promise.deliver(std::move(*events));
      },
      [self](head_atom) -> std::uint64_t { return durable_head(self->state); },
      [self](subscribe_atom, const caf::actor& subscriber) -> std::uint64_t {
        self->state.subscribers.push_back(subscriber);
        self->monitor(subscriber);
        return self->state.committed_head;
      },
      [self](unsubscribe_atom, const caf::actor& subscriber) {
        auto& subscribers = self->state.subscribers;
        subscribers.erase(std::remove(subscribers.begin(), subscribers.end(), subscriber),
                          subscribers.end());
      },
      [self](snapshot_atom, snapshot& saved) {
        absorb_queue(self);
        auto& st = self->state;
        if (!st.failure.is_ok())
          return;
        // The aggregate takes a snapshot when it decides, before this store checked
        // the append: if the store refused that append (or one before it), the snapshot
        // covers events that will never exist, and a later append can reuse its
        // version with other events. Every append the aggregate sent before it was
        // absorbed above, so the stream's version tells which: below the snapshot's
        // version means refused (bank_simulation seed 4 found this).
        if (saved.stream_version > current_version(st, saved.stream_id))
          return;
        // The current batch commits after every batch before it, so the snapshot is
        // saved only once all the events it covers are durable.
        st.current.snapshots.push_back(std::move(saved));
        schedule_flush(self);
      },
      [self](drain_atom) {
        absorb_queue(self);
        auto promise = self->make_response_promise();
        after_commit(self, [self, promise]() mutable {
          if (self->state.failure.is_ok())
            promise.deliver(true);
          else
            promise.deliver(make_caf_error(self->state.failure));
        });
      },
      [self](status_atom) -> store_status {
        auto& st = self->state;
        store_status out;
        out.available = st.failure.is_ok();
        out.failure = st.failure.message();
        out.head = durable_head(st);
        out.batches_committed = st.batches_committed;
        out.events_committed = st.events_committed;
        out.journal = st.store->describe();
        out.batch_events = st.batch_events;
        out.commit_latency_us = st.commit_latency_us;
        out.pending_events = st.pending_events;
        return out;
      },
    };
  };
  return detail::spawn_without_arguments(system, init);
}

}  // namespace tally
