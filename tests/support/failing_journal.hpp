// A journal that delegates to the memory journal and fails on demand: the n-th
// append_batch (and every one after it, like a real fail-stop journal) returns
// store_unavailable. Also counts calls, so tests can see batching and snapshot use.
#pragma once

#include <atomic>
#include <memory>

#include "tally/journal.hpp"

namespace tally::test_support {

class failing_journal final : public journal {
public:
  explicit failing_journal(std::uint64_t fail_at_append = 0, bool blocks = false)
    : inner_(make_memory_journal()), fail_at_append_(fail_at_append), blocks_(blocks) {}

  status append_batch(const std::vector<recorded_event>& events) override {
    auto call = ++appends_;
    if (failed_ || (fail_at_append_ != 0 && call >= fail_at_append_)) {
      failed_ = true;
      return status{error_code::store_unavailable, "injected write failure"};
    }
    return inner_->append_batch(events);
  }
  result<std::vector<recorded_event>> read_stream(std::string_view stream_id, std::uint64_t from_version,
                                                  std::size_t max_count) const override {
    ++stream_reads_;
    if (from_version > 1)
      ++stream_reads_after_snapshot_;
    return inner_->read_stream(stream_id, from_version, max_count);
  }
  result<std::vector<recorded_event>> read_all(std::uint64_t from_position,
                                               std::size_t max_count) const override {
    return inner_->read_all(from_position, max_count);
  }
  std::uint64_t head() const override { return inner_->head(); }
  std::uint64_t stream_version(std::string_view stream_id) const override {
    return inner_->stream_version(stream_id);
  }
  std::optional<command_record> find_command(const command_id& command) const override {
    return inner_->find_command(command);
  }
  status save_snapshot(const snapshot& saved) override {
    ++snapshots_saved_;
    return inner_->save_snapshot(saved);
  }
  std::optional<snapshot> load_snapshot(std::string_view stream_id) const override {
    return inner_->load_snapshot(stream_id);
  }
  bool blocks_on_io() const override { return blocks_; }
  std::string describe() const override { return "failing(memory)"; }

  std::uint64_t appends() const { return appends_; }
  std::uint64_t snapshots_saved() const { return snapshots_saved_; }
  std::uint64_t stream_reads() const { return stream_reads_; }
  std::uint64_t stream_reads_after_snapshot() const { return stream_reads_after_snapshot_; }

private:
  std::unique_ptr<journal> inner_;
  std::uint64_t fail_at_append_;
  bool blocks_;
  std::atomic<bool> failed_{false};
  std::atomic<std::uint64_t> appends_{0};
  std::atomic<std::uint64_t> snapshots_saved_{0};
  mutable std::atomic<std::uint64_t> stream_reads_{0};
  mutable std::atomic<std::uint64_t> stream_reads_after_snapshot_{0};
};

}  // namespace tally::test_support
