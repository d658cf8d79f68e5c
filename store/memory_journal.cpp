// The in-memory journal: the reference backend for tests and the in-memory benchmark.
// Same contract as every other backend (include/tally/journal.hpp), minus durability.
// It keeps the store's shared batches themselves (no copy of any event) and indexes
// them by position, stream version and command id, with the file journal's open
// addressing tables (store/journal_index.hpp): no allocation per command, and growth
// in steps.
#include <algorithm>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>

#include "store/journal_index.hpp"
#include "tally/assert.hpp"
#include "tally/journal.hpp"

namespace tally {

namespace {

class memory_journal final : public journal {
public:
  status append_batch(const std::vector<recorded_event>& events) override {
    return append_shared(std::make_shared<const std::vector<recorded_event>>(events));
  }

  status append_shared(const event_batch& batch) override {
    const auto& events = *batch;
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
    batch_first_positions_.push_back(events.front().position);
    batches_.push_back(batch);
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
  // The event at `position` (1..head_); the caller holds the lock.
  const recorded_event& at(std::uint64_t position) const {
    auto after = std::upper_bound(batch_first_positions_.begin(), batch_first_positions_.end(),
                                  position);
    auto index = static_cast<std::size_t>(after - batch_first_positions_.begin()) - 1;
    const auto& event = (*batches_[index])[position - batch_first_positions_[index]];
    TALLY_ASSERT(event.position == position);
    return event;
  }

  mutable std::shared_mutex mutex_;
  std::uint64_t head_ = 0;
  std::vector<event_batch> batches_;                   // in position order
  std::vector<std::uint64_t> batch_first_positions_;  // first position of batches_[i]
  store::stream_table streams_;    // stream id -> positions by version
  store::command_table commands_;  // command id -> its events
  std::vector<std::uint32_t> batch_streams_;  // scratch of append_shared: stream numbers
  std::unordered_map<std::string, snapshot> snapshots_;
};

}  // namespace

std::unique_ptr<journal> make_memory_journal() {
  return std::make_unique<memory_journal>();
}

}  // namespace tally
