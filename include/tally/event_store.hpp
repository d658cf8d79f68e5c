// The event-store actor: the single writer over a journal (spawned by the runtime;
// public so a host can run a store of its own).
#pragma once

#include <cstddef>
#include <functional>
#include <memory>

#include <mutex>
#include <vector>

#include "caf/fwd.hpp"
#include "caf/actor_addr.hpp"
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

/// One command's append handed to the store through an append_queue.
struct queued_append {
  append_request request;
  caf::response_promise promise;  ///< answers the command's caller after the commit
  caf::actor_addr origin;         ///< the aggregate, told to reload on a conflict
};

/// Appends from local aggregates to the store without a message each: aggregates
/// push, and the one whose push finds the queue empty rings the doorbell (sends
/// appended_atom), after which the store takes everything queued at once. This turns
/// one mailbox message per command into one per batch: the store's mailbox is the
/// throughput wall of a per-command design (design.md section 8).
/// Threads: push() from any thread; drain() from the store only.
class append_queue {
public:
  /// Adds `item`; returns true when the queue was empty, i.e. the caller must ring.
  bool push(queued_append&& item) {
    std::lock_guard guard{mutex_};
    items_.push_back(std::move(item));
    return items_.size() == 1;
  }

  /// Moves everything queued into `out` (which must be empty), oldest first.
  void drain(std::vector<queued_append>& out) {
    std::lock_guard guard{mutex_};
    out.swap(items_);
  }

private:
  std::mutex mutex_;
  std::vector<queued_append> items_;
};

/// Spawns the event store over `journal`. Protocol (include/tally/protocol.hpp):
/// - (appended_atom): `queue` has appends (the doorbell); each is answered like:
/// - (append_atom, append_request, actor origin) -> command_reply, after the commit;
///   on a version conflict or command-id conflict it replies the rejection and sends
///   (rollback_atom, stream_id) to `origin` so the aggregate reloads its state.
/// - (outcome_atom, command_id, uint64 hash, string stream) -> command_reply (duplicate)
/// - (outcome_atom, command_id, uint64 hash, string stream, command_reply if_unknown)
///   -> the original outcome when the id was applied, otherwise `if_unknown`
/// - (load_atom, string stream, bool use_snapshot) -> loaded_stream (sees every append
///   the store received before it)
/// - (read_stream_atom, string stream, uint64 from_version, uint64 max) -> vector<recorded_event>
/// - (read_all_atom, uint64 from_position, uint64 max) -> vector<recorded_event>
/// - (head_atom) -> uint64 committed head
/// - (subscribe_atom, actor) -> uint64 head; then event_batch messages after that head
/// - (unsubscribe_atom, actor)
/// - (snapshot_atom, snapshot): saved after every append received before it commits
/// - (drain_atom) -> bool, once everything received before it is committed
/// - (status_atom) -> store_status
caf::actor spawn_event_store(caf::actor_system& system, std::shared_ptr<journal> journal,
                             event_store_options options,
                             std::shared_ptr<append_queue> queue = nullptr);

}  // namespace tally
