// The in-memory journal: the reference backend for tests and the in-memory benchmark.
// Same contract as every other backend (include/tally/journal.hpp), minus durability.
// It keeps the store's shared batches themselves (no copy of any event) and indexes
// them by position, stream version and command id.
#include <algorithm>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>

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
    for (const auto& event : events) {
      TALLY_ASSERT(event.position == head_ + 1);
      auto& positions = streams_[event.stream_id];
      TALLY_ASSERT(event.stream_version == positions.size() + 1);
      positions.push_back(event.position);
      ++head_;
      if (event.command.is_nil())
        continue;  // no command, no dedup record (same as the file journal)
      auto [it, inserted] = commands_.try_emplace(event.command);
      auto& record = it->second;
      if (inserted) {
        record.stream_id = event.stream_id;
        record.command_hash = event.command_hash;
        record.first_version = event.stream_version;
        record.first_position = event.position;
      } else {
        // One command's events are contiguous in one stream (a single append).
        TALLY_ASSERT(record.stream_id == event.stream_id);
        TALLY_ASSERT(record.last_position + 1 == event.position);
      }
      record.last_version = event.stream_version;
      record.last_position = event.position;
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
    auto it = streams_.find(std::string{stream_id});
    if (it == streams_.end())
      return out;
    const auto& positions = it->second;
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
    auto it = streams_.find(std::string{stream_id});
    return it == streams_.end() ? 0 : it->second.size();
  }

  std::optional<command_record> find_command(const command_id& command) const override {
    std::shared_lock guard{mutex_};
    auto it = commands_.find(command);
    if (it == commands_.end())
      return std::nullopt;
    return it->second;
  }

  status save_snapshot(const snapshot& saved) override {
    std::unique_lock guard{mutex_};
    auto it = streams_.find(saved.stream_id);
    TALLY_ASSERT(it != streams_.end() && saved.stream_version <= it->second.size());
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
  std::unordered_map<std::string, std::vector<std::uint64_t>> streams_;  // version-1 -> position
  std::unordered_map<command_id, command_record> commands_;
  std::unordered_map<std::string, snapshot> snapshots_;
};

}  // namespace

std::unique_ptr<journal> make_memory_journal() {
  return std::make_unique<memory_journal>();
}

}  // namespace tally
