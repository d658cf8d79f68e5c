// The event-store actor: the single writer over a journal (spawned by the runtime;
// public so a host can run a store of its own).
#pragma once

#include <cstddef>
#include <functional>
#include <memory>

#include "caf/fwd.hpp"

#include "tally/journal.hpp"

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

/// Spawns the event store over `journal`. Protocol (include/tally/protocol.hpp):
/// - (append_atom, append_request, actor origin) -> command_reply, after the commit;
///   on a version conflict or command-id conflict it replies the rejection and sends
///   (rollback_atom, stream_id) to `origin` so the aggregate reloads its state.
/// - (outcome_atom, command_id, uint64 hash, string stream) -> command_reply (duplicate)
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
                             event_store_options options);

}  // namespace tally
