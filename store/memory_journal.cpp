// The in-memory journal: the reference backend for tests and the in-memory benchmark.
// Same contract as every other backend (include/tally/journal.hpp), minus durability.
// It copies each event, compactly, into memory prepared ahead of its use
// (store/prepared_memory.hpp), and indexes them by position, stream version and
// command id, with the file journal's open addressing tables (store/journal_index.hpp):
// no allocation per command, and growth in steps.
//
// Why a copy rather than the store's shared batches themselves (as until 2026-11-30):
// kept for ever, every batch was fresh memory, and the appender (on a CAF scheduler
// thread) waited for the kernel to clear its pages, 9 % of all samples of the in-memory
// runtime on the VM of docs/benchmarks.md. Kept here, an event takes about 130 bytes
// instead of 184 plus its strings; the arena's chunks are cleared ahead on a thread of
// their own, and the batches go back to the allocator once the subscribers are done.
#include <cstring>
#include <mutex>
#include <new>
#include <shared_mutex>
#include <type_traits>
#include <unordered_map>

#include "store/journal_index.hpp"
#include "store/prepared_memory.hpp"
#include "tally/assert.hpp"
#include "tally/journal.hpp"

namespace tally {

namespace {

class memory_journal final : public journal {
public:
  status append_batch(const std::vector<recorded_event>& events) override {
    TALLY_ASSERT(!events.empty() && events.size() <= append_batch_events_max);
    std::unique_lock guard{mutex_};
    TALLY_ASSERT(events.front().position == head_ + 1);
    commands_.reserve(commands_.size() + events.size());
    // Streams first, starting to load the end of each one's positions, so that the
    // appends below overlap their cache misses instead of waiting for one at a time.
    batch_streams_.clear();
    for (const auto& event : events) {
      const std::uint32_t stream =
        streams_.intern(event.stream_id, store::stream_table::hash(event.stream_id));
      streams_.prefetch_append(stream);
      batch_streams_.push_back(stream);
    }
    for (std::size_t index = 0; index < events.size(); ++index) {
      const auto& event = events[index];
      TALLY_ASSERT(event.position == head_ + 1);
      const std::uint32_t stream = batch_streams_[index];
      auto& positions = streams_[stream].positions;
      TALLY_ASSERT(event.stream_version == positions.size() + 1);
      positions.push_back(event.position);
      keep(event);
      ++head_;
      if (event.command.is_nil())
        continue;  // no command, no dedup record (same as the file journal)
      const auto hash = store::command_table::hash(event.command);
      std::size_t slot = 0;
      if (commands_.find(event.command, hash, &slot) != nullptr) {
        // A command's next event: they are contiguous in one stream (a single append).
        auto* known = commands_.find(event.command, hash);
        TALLY_ASSERT(known->stream == stream);
        TALLY_ASSERT(known->last_position() + 1 == event.position);
        ++known->events;
        continue;
      }
      auto& added = commands_.insert_at(event.command, slot);
      added.command_hash = event.command_hash;
      added.first_position = event.position;
      added.events = 1;
      added.stream = stream;
    }
    return status::ok();
  }

  result<std::vector<recorded_event>> read_stream(std::string_view stream_id,
                                                  std::uint64_t from_version,
                                                  std::size_t max_count) const override {
    TALLY_ASSERT(max_count <= read_events_max);
    std::shared_lock guard{mutex_};
    std::vector<recorded_event> out;
    const auto* found = streams_.positions(stream_id);
    if (found == nullptr)
      return out;
    const auto& positions = *found;
    std::uint64_t first = from_version == 0 ? 1 : from_version;
    for (std::uint64_t version = first; version <= positions.size() && out.size() < max_count;
         ++version)
      out.push_back(at(positions[version - 1]));
    return out;
  }

  result<std::vector<recorded_event>> read_all(std::uint64_t from_position,
                                               std::size_t max_count) const override {
    TALLY_ASSERT(max_count <= read_events_max);
    std::shared_lock guard{mutex_};
    std::vector<recorded_event> out;
    std::uint64_t first = from_position == 0 ? 1 : from_position;
    for (std::uint64_t position = first; position <= head_ && out.size() < max_count; ++position)
      out.push_back(at(position));
    return out;
  }

  std::uint64_t head() const override {
    std::shared_lock guard{mutex_};
    return head_;
  }

  std::uint64_t stream_version(std::string_view stream_id) const override {
    std::shared_lock guard{mutex_};
    const auto* positions = streams_.positions(stream_id);
    return positions == nullptr ? 0 : positions->size();
  }

  void prefetch_checks(const std::vector<append_check_key>& keys) const override {
    std::shared_lock guard{mutex_};
    store::prefetch_checks(streams_, commands_, keys);
  }

  std::optional<command_record> find_command(const command_id& command) const override {
    std::shared_lock guard{mutex_};
    if (command.is_nil())
      return std::nullopt;
    const auto* found = commands_.find(command, store::command_table::hash(command));
    if (found == nullptr)
      return std::nullopt;
    return store::command_record_of(streams_, *found);
  }

  status save_snapshot(const snapshot& saved) override {
    std::unique_lock guard{mutex_};
    const auto* positions = streams_.positions(saved.stream_id);
    TALLY_ASSERT(positions != nullptr && saved.stream_version <= positions->size());
    snapshots_[saved.stream_id] = saved;
    return status::ok();
  }

  std::optional<snapshot> load_snapshot(std::string_view stream_id) const override {
    std::shared_lock guard{mutex_};
    auto it = snapshots_.find(std::string{stream_id});
    if (it == snapshots_.end())
      return std::nullopt;
    return it->second;
  }

  bool blocks_on_io() const override { return false; }

  std::string describe() const override { return "memory"; }

private:
  // How the journal keeps an event: its fixed fields, then the bytes of its stream id,
  // type and payload right after. No checksum and no byte order: it never leaves the
  // process (the file journal's record encoding cost 6 % of the in-memory runtime's
  // time, a third of it the CRC).
  struct kept_event {
    std::uint64_t position;
    std::uint64_t stream_version;
    command_id event_id;
    command_id command;
    command_id correlation;
    std::uint64_t command_hash;
    std::int64_t timestamp_ns;
    std::uint32_t payload_bytes;
    std::uint16_t schema_version;
    std::uint16_t stream_id_bytes;
    std::uint16_t type_bytes;
  };
  static_assert(std::is_trivially_copyable_v<kept_event>);
  static_assert(std::is_trivially_destructible_v<kept_event>);

  // Copies `event` (the next position) into the arena; the caller holds the lock.
  void keep(const recorded_event& event) {
    TALLY_ASSERT(event.position == head_ + 1);
    TALLY_ASSERT(event.stream_id.size() <= UINT16_MAX && event.type.size() <= UINT16_MAX
                 && event.payload.size() <= UINT32_MAX);
    const std::size_t bytes =
      sizeof(kept_event) + event.stream_id.size() + event.type.size() + event.payload.size();
    auto* kept = new (memory_.allocate(bytes, alignof(kept_event))) kept_event{
      event.position,
      event.stream_version,
      event.event_id,
      event.command,
      event.correlation,
      event.command_hash,
      event.timestamp_ns,
      static_cast<std::uint32_t>(event.payload.size()),
      event.schema_version,
      static_cast<std::uint16_t>(event.stream_id.size()),
      static_cast<std::uint16_t>(event.type.size())};
    char* text = reinterpret_cast<char*>(kept + 1);
    for (const std::string* part : {&event.stream_id, &event.type, &event.payload}) {
      if (!part->empty())
        std::memcpy(text, part->data(), part->size());
      text += part->size();
    }
    TALLY_ASSERT(text == reinterpret_cast<char*>(kept) + bytes);
    const auto index = static_cast<std::size_t>(head_);
    if (index % events_per_block == 0)
      event_blocks_.push_back(static_cast<const kept_event**>(
        memory_.allocate(events_per_block * sizeof(const kept_event*), alignof(const kept_event*))));
    TALLY_ASSERT(event_blocks_.size() == index / events_per_block + 1);
    event_blocks_.back()[index % events_per_block] = kept;
  }

  // The event at `position` (1..head_); the caller holds the lock.
  recorded_event at(std::uint64_t position) const {
    TALLY_ASSERT(position >= 1 && position <= head_);
    const auto index = static_cast<std::size_t>(position - 1);
    const kept_event& kept = *event_blocks_[index / events_per_block][index % events_per_block];
    TALLY_ASSERT(kept.position == position);
    const char* text = reinterpret_cast<const char*>(&kept + 1);
    recorded_event out;
    out.position = kept.position;
    out.stream_id.assign(text, kept.stream_id_bytes);
    text += kept.stream_id_bytes;
    out.stream_version = kept.stream_version;
    out.event_id = kept.event_id;
    out.type.assign(text, kept.type_bytes);
    text += kept.type_bytes;
    out.schema_version = kept.schema_version;
    out.payload.assign(text, kept.payload_bytes);
    out.command = kept.command;
    out.correlation = kept.correlation;
    out.command_hash = kept.command_hash;
    out.timestamp_ns = kept.timestamp_ns;
    return out;
  }

  mutable std::shared_mutex mutex_;
  std::uint64_t head_ = 0;
  // The events, and where each one is: position p's in
  // event_blocks_[(p - 1) / events_per_block][(p - 1) % events_per_block]; the blocks
  // come from the arena too, so nothing of this is ever copied as it grows.
  static constexpr std::size_t events_per_block = 4096;
  store::prepared_arena memory_;
  std::vector<const kept_event**> event_blocks_;
  store::stream_table streams_;    // stream id -> positions by version
  store::command_table commands_;  // command id -> its events
  std::vector<std::uint32_t> batch_streams_;  // scratch of append_batch: stream numbers
  std::unordered_map<std::string, snapshot> snapshots_;
};

}  // namespace

std::unique_ptr<journal> make_memory_journal() {
  return std::make_unique<memory_journal>();
}

}  // namespace tally
