// The file journal's in-memory indexes, built for recovery speed: a scan of 10 M events
// does one hash probe per stream lookup and one per command, and allocates nothing per
// event (the per-stream position vectors grow geometrically).
//
//   stream_table:  stream id -> dense stream number -> {id, positions by version}.
//                  Open addressing over 64-bit slots (32 hash bits | number + 1), looked
//                  up by string_view: no std::string is built to find a stream.
//   command_table: command id -> {command hash, first position, event count, stream}.
//                  Open addressing with the 40-byte entries inline, the nil id marking
//                  empty slots (nil commands are never indexed), and beside them one tag
//                  byte per slot (0: empty; else 8 bits of the id's hash): a probe reads
//                  the tags, 64 slots per cache line, and an entry only where its tag
//                  matches, so looking up a new id (nearly every append) usually costs
//                  one line of a table 41 times smaller than the entries. A command's
//                  events are contiguous in one stream, so its
//                  versions and last position follow from these fields. It grows in
//                  steps: after a doubling, every insert moves a few entries of the
//                  previous table over, so no append waits for millions of moves at
//                  once (140 ms at 1 M commands when it moved them all in one go);
//                  and a large table's successor is allocated and its pages touched
//                  on a thread of its own before the doubling needs it.
//
// Not thread-safe: the journal guards them with its shared mutex.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "store/prepared_memory.hpp"
#include "tally/assert.hpp"
#include "tally/detail/prefetch.hpp"
#include "tally/event.hpp"
#include "tally/ids.hpp"
#include "tally/journal.hpp"

namespace tally::store {

class stream_table {
public:
  static constexpr std::uint32_t npos = UINT32_MAX;

  struct stream {
    std::string id;
    std::vector<std::uint64_t> positions;  ///< positions[version - 1]
    std::uint64_t hash = 0;
    // Scratch of the batch check (appender only): the version this stream reached
    // earlier in batch number `check_batch`.
    std::uint64_t check_batch = 0;
    std::uint64_t check_version = 0;
  };

  static std::uint64_t hash(std::string_view id) noexcept;

  std::uint32_t find(std::string_view id, std::uint64_t hash) const noexcept;
  std::uint32_t find(std::string_view id) const noexcept { return find(id, hash(id)); }
  /// Starts loading the slot a probe for `hash` reads first.
  void prefetch_slot(std::uint64_t hash) const noexcept;
  /// Once that slot is loaded: starts loading the stream it names, if its tag matches
  /// (the probe compares that stream's id and reads its positions' size).
  void prefetch_stream(std::uint64_t hash) const noexcept;
  /// Starts loading, for writing, where the next position of stream `number` goes.
  void prefetch_append(std::uint32_t number) const noexcept {
    const auto& positions = streams_[number].positions;
    tally::detail::prefetch(positions.data() + positions.size());
  }
  /// The number of `id`, added (with no positions) when unknown.
  std::uint32_t intern(std::string_view id, std::uint64_t hash);

  stream& operator[](std::uint32_t number) noexcept { return streams_[number]; }
  const stream& operator[](std::uint32_t number) const noexcept { return streams_[number]; }
  std::size_t size() const noexcept { return streams_.size(); }
  /// Positions (version - 1 -> position) of `id`, nullptr when unknown.
  const std::vector<std::uint64_t>* positions(std::string_view id) const noexcept {
    std::uint32_t number = find(id);
    return number == npos ? nullptr : &streams_[number].positions;
  }

private:
  void grow();

  std::vector<std::uint64_t> slots_;  // 0: empty; else (hash >> 32) << 32 | (number + 1)
  std::vector<stream> streams_;
};

class command_table {
public:
  struct entry {
    std::uint64_t high = 0;  ///< command id; high == low == 0 marks an empty slot
    std::uint64_t low = 0;
    std::uint64_t command_hash = 0;
    std::uint64_t first_position = 0;
    std::uint32_t events = 0;
    std::uint32_t stream = 0;

    std::uint64_t last_position() const noexcept { return first_position + events - 1; }
  };
  static_assert(sizeof(entry) == 40);

  static std::uint64_t hash(const command_id& id) noexcept;

  command_table() = default;
  ~command_table() {
    preparer_.cancel();
    release(memory_);
    release(previous_memory_);
  }
  command_table(const command_table&) = delete;
  command_table& operator=(const command_table&) = delete;

  /// The entry of `id` (not nil), or nullptr; `*slot` is set to where the probe
  /// ended: the entry's slot, or the empty slot where insert_at() may put `id`.
  /// The pointer is valid until the next insert_at(), reserve() or finish_growth(),
  /// which may move the entry: change it before calling them.
  const entry* find(const command_id& id, std::uint64_t hash, std::size_t* slot = nullptr) const
    noexcept;
  entry* find(const command_id& id, std::uint64_t hash) noexcept {
    return const_cast<entry*>(static_cast<const command_table*>(this)->find(id, hash));
  }
  /// Inserts `id` (not present, not nil), probing from `slot`: a slot find() returned
  /// since the last reserve(), or the id's home slot. Never grows; moves up to
  /// growth_moves_per_insert slots of the previous table.
  entry& insert_at(const command_id& id, std::size_t slot) noexcept;
  /// The slot probing for `hash` starts at.
  std::size_t home(std::uint64_t hash) const noexcept { return hash & mask_; }
  /// Removes every entry and frees the table.
  void clear() noexcept {
    preparer_.cancel();
    release(memory_);
    release(previous_memory_);
    slots_ = previous_ = nullptr;
    tags_ = previous_tags_ = nullptr;
    capacity_ = mask_ = size_ = previous_capacity_ = previous_mask_ = moved_ = 0;
  }
  /// Makes room for `count` entries in total without growing later: a larger table
  /// now, its entries moved over by the inserts that follow (a growth still under
  /// way is finished first).
  void reserve(std::size_t count);
  /// Moves what is left of the previous table (before slots() or a load test).
  void finish_growth() noexcept;
  /// Whether entries of a previous table are still to be moved.
  bool growing() const noexcept { return previous_ != nullptr; }
  /// Slots of the previous table each insert_at() moves: a table of C slots is moved
  /// after C / 8 inserts, well before the 3 C / 4 inserts that make it grow again.
  static constexpr std::size_t growth_moves_per_insert = 8;
  /// Starts loading the cache lines a probe for `hash` reads first (at load 0.6 an
  /// unsuccessful probe reads about 3.6 entries: usually two lines), in the previous
  /// table too while one is being moved.
  void prefetch(std::uint64_t hash) const noexcept {
    if (capacity_ != 0) {
      tally::detail::prefetch(&tags_[hash & mask_]);
      // The entry: read when the id is known, written when it is inserted.
      tally::detail::prefetch(&slots_[hash & mask_]);
    }
    if (previous_ != nullptr)  // an id not moved yet (or unknown) is probed there too
      tally::detail::prefetch(&previous_tags_[hash & previous_mask_]);
  }
  std::size_t size() const noexcept { return size_; }
  std::size_t capacity() const noexcept { return capacity_; }
  /// The capacity of the next table while it is prepared (0: none is).
  std::size_t preparing_capacity() const noexcept {
    return preparer_.preparing_bytes() / (sizeof(entry) + 1);
  }
  /// Doublings so far that took a table prepared ahead of them.
  std::size_t prepared_growths() const noexcept { return preparer_.prepared_takes(); }

  /// The slots, for writing an index checkpoint (empty slots are all zero); only
  /// after finish_growth().
  const entry* slots() const noexcept {
    TALLY_ASSERT(!growing());
    return slots_;
  }
  /// Replaces the table with `capacity` (a power of two >= 64) zeroed slots holding
  /// `size` entries that the caller writes into the returned slots (loading an index
  /// checkpoint), then calls tag_assigned(). Returns nullptr when the numbers are not
  /// a valid table.
  entry* assign_raw(std::size_t capacity, std::size_t size);
  /// Tags the entries written after assign_raw(); before it, nothing is found. False
  /// when they are not the `size` entries assign_raw() was told of.
  bool tag_assigned() noexcept;

  /// The tag of a slot holding an id of `hash`: never 0, the tag of an empty slot.
  static std::uint8_t tag_of(std::uint64_t hash) noexcept {
    auto tag = static_cast<std::uint8_t>(hash >> 56);
    return tag == 0 ? 1 : tag;
  }

private:
  // Zeroed memory straight from the kernel (no clearing pass; store/prepared_memory.hpp):
  // large tables ask for transparent huge pages, since the entries of a hash table are
  // touched at random and 4 KiB page faults would otherwise cost more than the probes
  // (10 M commands: a 640 MiB table). The tags come right after the slots.
  static std::size_t table_bytes(std::size_t capacity) noexcept {
    return capacity * (sizeof(entry) + 1);
  }
  /// Moves previous-table slots [moved_, end) into the current table, at most `count`.
  void move_previous(std::size_t count) noexcept;
  /// Places `moving` (not in the current table; tagged `tag`) at its first free slot
  /// from its home.
  void place(const entry& moving, std::uint8_t tag) noexcept;

  zeroed_memory memory_;
  entry* slots_ = nullptr;
  std::uint8_t* tags_ = nullptr;
  std::size_t capacity_ = 0;  // a power of two, or 0
  std::size_t mask_ = 0;
  std::size_t size_ = 0;  // entries in both tables together (each is in one)
  // The table before the last doubling while its entries move over: find() looks here
  // after the current table; slots below moved_ were moved (copies left behind are
  // never found: the current table is searched first).
  zeroed_memory previous_memory_;
  entry* previous_ = nullptr;
  std::uint8_t* previous_tags_ = nullptr;
  std::size_t previous_capacity_ = 0;
  std::size_t previous_mask_ = 0;
  std::size_t moved_ = 0;
  // The next table, made ready ahead of the growth that needs it: a growth otherwise
  // starts with the first touches of a table twice the size, which land at random on
  // all of its pages at once (86 MiB at 1 M commands: on the 2-core VM of
  // docs/benchmarks.md one append waited 50-130 ms while the kernel cleared them, and
  // the 63 other clients with it). From load 5/8 a thread of its own allocates the
  // table and touches its pages while the appender goes on (tables of at least
  // mapped_bytes_min); the growth at load 3/4 waits for it if it is still at work, and
  // allocates as before when the table needed is another size or the preparation
  // failed.
  memory_preparer preparer_;
};

/// The record of an indexed command: its versions follow from its stream's positions,
/// since a command's events are contiguous in one stream.
command_record command_record_of(const stream_table& streams, const command_table::entry& found);

/// journal::prefetch_checks() of a journal indexed by `streams` and `commands` (the
/// caller holds the journal's lock): the slots of every key first, then the streams
/// those slots name, so the misses of the whole batch overlap.
void prefetch_checks(const stream_table& streams, const command_table& commands,
                     const std::vector<append_check_key>& keys) noexcept;

}  // namespace tally::store
