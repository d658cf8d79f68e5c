// The journal: where committed events live. Backends: memory (tests, benchmarks),
// the embedded file journal (durable default), later PostgreSQL. All backends pass
// the same conformance suite (tests/unit/store/journal_conformance_test.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tally/error.hpp"
#include "tally/event.hpp"

namespace tally {

/// Upper bounds the journal interface promises to respect and callers must respect.
inline constexpr std::size_t append_batch_events_max = 65536;
inline constexpr std::size_t read_events_max = 65536;

/// A saved aggregate state: rehydration loads it and replays only the events after
/// `stream_version`. `format_version` is the aggregate's state encoding version; a
/// mismatch makes the loader fall back to a full replay.
struct snapshot {
  std::string stream_id;
  std::uint64_t stream_version = 0;
  std::uint16_t format_version = 0;
  std::string state;

  friend bool operator==(const snapshot& a, const snapshot& b) {
    return a.stream_id == b.stream_id && a.stream_version == b.stream_version
           && a.format_version == b.format_version && a.state == b.state;
  }
};

/// What the event store is about to check for one append: the stream's version and
/// whether the command id is known (journal::prefetch_checks).
struct append_check_key {
  std::string_view stream_id;
  command_id command;
};

/// Durable, ordered storage of events.
///
/// Threads: exactly one thread calls append_batch() at a time (the event store's
/// writer). The read functions (read_stream, read_all, head, stream_version,
/// find_command) may be called from other threads concurrently with an append; they
/// see either none or all of a batch. Implementations synchronize internally.
///
/// Failures: a failed append_batch() leaves the journal unusable (fail-stop): it
/// returns store_unavailable for every later append, and nothing of the failed
/// batch is visible to readers. Callers never retry.
class journal {
public:
  virtual ~journal() = default;

  /// Appends `events` atomically and durably (for durable backends, synced before
  /// return). Preconditions, asserted: 1 <= size <= append_batch_events_max;
  /// positions are head()+1, head()+2, ... in order; for each stream, versions
  /// continue that stream's current version without gaps. The caller (the event
  /// store) has already checked expected versions and command ids.
  /// Returns ok, or store_unavailable (and the journal stays failed).
  virtual status append_batch(const std::vector<recorded_event>& events) = 0;

  /// Returns up to `max_count` (<= read_events_max) events of `stream_id` with
  /// stream_version >= `from_version`, in version order. Unknown stream: empty.
  virtual result<std::vector<recorded_event>>
  read_stream(std::string_view stream_id, std::uint64_t from_version,
              std::size_t max_count) const = 0;

  /// Returns up to `max_count` (<= read_events_max) events with position >=
  /// `from_position`, in position order.
  virtual result<std::vector<recorded_event>>
  read_all(std::uint64_t from_position, std::size_t max_count) const = 0;

  /// Position of the last committed event, 0 when empty.
  virtual std::uint64_t head() const = 0;

  /// Current version of `stream_id` (its last event's version), 0 when unknown.
  virtual std::uint64_t stream_version(std::string_view stream_id) const = 0;

  /// What the journal knows of a command id (nullopt when it produced no events).
  virtual std::optional<command_record> find_command(const command_id& command) const = 0;

  /// A hint, before the store checks a batch of appends one by one: the journal may
  /// start loading what stream_version() and find_command() will read for `keys`, so
  /// that the cache misses of a batch overlap instead of following one another.
  /// Changes no result. Same threads as the read functions.
  virtual void prefetch_checks(const std::vector<append_check_key>& keys) const { (void)keys; }

  /// Stores `saved` durably, replacing older snapshots of its stream. Called by
  /// the same thread as append_batch(). Precondition: saved.stream_version <=
  /// stream_version(saved.stream_id). Errors: store_unavailable.
  virtual status save_snapshot(const snapshot& saved) = 0;

  /// Latest snapshot of `stream_id`, nullopt when there is none.
  virtual std::optional<snapshot> load_snapshot(std::string_view stream_id) const = 0;

  /// True when calls block on I/O, so the event store runs them on a thread of
  /// their own instead of a CAF scheduler thread.
  virtual bool blocks_on_io() const = 0;

  /// A short description for logs and /health, e.g. "memory" or "file:/var/lib/tally".
  virtual std::string describe() const = 0;
};

/// Creates the in-memory journal: not durable, never blocks.
std::unique_ptr<journal> make_memory_journal();

}  // namespace tally
