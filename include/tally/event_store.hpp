// The event-store actor: the single writer over a journal (spawned by the runtime;
// public so a host can run a store of its own).
#pragma once

#include <cstddef>
#include <functional>
#include <memory>

#include <mutex>
#include <variant>
#include <vector>

#include "caf/fwd.hpp"
#include "caf/actor_addr.hpp"
#include "caf/allowed_unsafe_message_type.hpp"
#include "caf/message.hpp"
#include "caf/response_promise.hpp"

#include "tally/journal.hpp"
#include "tally/protocol.hpp"

namespace tally {

/// Where the store runs journal calls.
enum class journal_io_mode {
  automatic,         ///< a dedicated thread when journal::blocks_on_io(), else inline
  inline_calls,      ///< on the store's own (scheduler) thread: only for non-blocking journals
  dedicated_thread,  ///< on detached writer and reader actors (own threads)
};

struct event_store_options {
  /// Events per commit (group commit batch); a fuller batch is closed early.
  std::size_t batch_events_max = 4096;
  /// Events one command may append.
  std::size_t command_events_max = 256;
  /// Appends accepted but not yet committed; beyond it appends get limit_exceeded
  /// (backpressure instead of an unbounded queue).
  std::size_t pending_events_max = 1 << 20;
  journal_io_mode io_mode = journal_io_mode::automatic;
  /// Called once, on the store's thread, when the journal fails and the store stops
  /// (fail-stop). tallyd uses it to log why and exit non-zero.
  std::function<void(const status&)> on_failure;
};

/// One decided command handed to the store through an append_queue: its append, or the
/// lookup of its outcome when the aggregate did not append it. Both travel the same
/// queue, so the store sees an aggregate's commands in the order it decided them.
struct queued_command {
  std::variant<append_request, outcome_request> request;
  caf::response_promise promise;  ///< answers the command's caller
  caf::actor_addr origin;         ///< the aggregate, told to reload on a refusal
};

/// A command the store handed back to its aggregate instead of answering it: the
/// aggregate decided it on a state that ran ahead of the stream (an earlier append of
/// its own was refused), so the decision does not stand. The aggregate decides it again
/// on its reloaded state and answers `promise`. Local only (a promise is no data).
struct handed_back_command {
  caf::message envelope;          ///< the command_envelope as the aggregate received it
  caf::response_promise promise;  ///< the caller's
  std::uint32_t decisions = 0;    ///< how often it was decided so far
};

/// Handed-back commands of one stream, in the order the aggregate decided them.
using handed_back_commands = std::vector<handed_back_command>;

/// Appends from local aggregates to the store without a message each: aggregates
/// push, and the one whose push finds the queue empty rings the doorbell (sends
/// appended_atom), after which the store takes everything queued at once. This turns
/// one mailbox message per command into one per batch: the store's mailbox is the
/// throughput wall of a per-command design (design.md section 8).
/// Threads: push() from any thread; drain() from the store only.
class append_queue {
public:
  /// Adds `item`; returns true when the queue was empty, i.e. the caller must ring.
  bool push(queued_command&& item) {
    std::lock_guard guard{mutex_};
    items_.push_back(std::move(item));
    return items_.size() == 1;
  }

  /// Moves everything queued into `out` (which must be empty), oldest first.
  void drain(std::vector<queued_command>& out) {
    std::lock_guard guard{mutex_};
    out.swap(items_);
  }

private:
  std::mutex mutex_;
  std::vector<queued_command> items_;
};

/// Spawns the event store over `journal`. Protocol (include/tally/protocol.hpp):
/// - (appended_atom): `queue` has commands (the doorbell); each is handled like:
/// - (append_atom, append_request, actor origin) -> command_reply, after the commit;
///   an append it refuses (backpressure, a command id it has, a version conflict)
///   makes it send (rollback_atom, stream_id) to `origin` so the aggregate reloads its
///   state. A conflict is the answer only for an append without a decidable_command:
///   one with it is handed back (see below) and answered by the aggregate.
/// - (outcome_atom, outcome_request, actor origin) -> the original outcome when the id
///   was applied, else the request's refusal, or the command is handed back
/// - (outcome_atom, command_id, uint64 hash, string stream) -> command_reply (duplicate)
/// - (rehydrate_atom, string stream, bool use_snapshot) -> (loaded_stream,
///   handed_back_commands): what load_atom answers, plus the commands handed back to
///   the stream's aggregate since it last asked. From the first refusal until this
///   request, every decidable command of the stream is handed back (none overtakes
///   another), and `origin` gets one rollback.
/// - (handed_back_atom, string stream) -> handed_back_commands, without a load (an
///   aggregate that stops asks, so no handed-back command is left without an answer)
/// - (load_atom, string stream, bool use_snapshot) -> loaded_stream (sees every append
///   the store received before it)
/// - (read_stream_atom, string stream, uint64 from_version, uint64 max) -> vector<recorded_event>
/// - (read_all_atom, uint64 from_position, uint64 max) -> vector<recorded_event>
/// - (head_atom) -> uint64 durable head: every event up to it is durable, so an
///   answered append's position is never above it (subscribers may receive the last
///   batches a moment later)
/// - (subscribe_atom, actor) -> uint64 head; then event_batch messages after that head
/// - (unsubscribe_atom, actor)
/// - (snapshot_atom, snapshot): saved after every append received before it commits
/// - (drain_atom) -> bool, once everything received before it is committed
/// - (status_atom) -> store_status
caf::actor spawn_event_store(caf::actor_system& system, std::shared_ptr<journal> journal,
                             event_store_options options,
                             std::shared_ptr<append_queue> queue = nullptr);

}  // namespace tally

// Handed-back commands carry response promises: they travel between local actors only.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(tally::handed_back_commands)
