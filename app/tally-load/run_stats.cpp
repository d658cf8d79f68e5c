#include "app/tally-load/run_stats.hpp"

#include <algorithm>

namespace tally::load {

namespace {

constexpr std::uint64_t nanoseconds_per_second = 1'000'000'000;

std::uint64_t sum(const std::array<std::uint64_t, operation_count>& counts) noexcept {
  std::uint64_t total = 0;
  for (std::uint64_t count : counts) {
    total += count;
  }
  return total;
}

}  // namespace

run_stats::run_stats() {
  // Most runs last well under a minute; reserving avoids reallocation in the loop.
  completed_per_second_.reserve(64);
}

void run_stats::count_reason(std::vector<std::pair<std::string, std::uint64_t>>& counts,
                             std::string_view reason, std::uint64_t amount) {
  const std::string_view name = reason.empty() ? std::string_view{"unspecified"} : reason;
  for (auto& [known, count] : counts) {
    if (known == name) {
      count += amount;
      return;
    }
  }
  counts.emplace_back(std::string{name}, amount);
}

void run_stats::record_reply(operation op, std::uint64_t latency_ns, std::uint64_t completed_ns,
                             command_outcome outcome, std::string_view reason) {
  // The hot path of every client: one histogram and one counter. The overall
  // histogram is merged from the per-operation ones only when asked for.
  per_operation_latency_[index_of(op)].record_ns(latency_ns);
  overall_stale_ = true;
  record_outcome(op, outcome, reason);
  if (completed_ns < series_second_start_ns_ || completed_ns >= series_second_end_ns_) {
    const std::uint64_t second =
        std::min(completed_ns / nanoseconds_per_second, throughput_series_seconds_max - 1);
    if (second >= completed_per_second_.size()) {
      completed_per_second_.resize(static_cast<std::size_t>(second) + 1, 0);
    }
    series_second_ = second;
    series_second_start_ns_ = second * nanoseconds_per_second;
    // The last second of the series takes every later reply.
    series_second_end_ns_ = second == throughput_series_seconds_max - 1
                                ? UINT64_MAX
                                : (second + 1) * nanoseconds_per_second;
  }
  completed_per_second_[static_cast<std::size_t>(series_second_)] += 1;
}

const latency_histogram& run_stats::overall_latency() const noexcept {
  if (overall_stale_) {
    overall_latency_.clear();
    for (const latency_histogram& histogram : per_operation_latency_) {
      overall_latency_.merge(histogram);
    }
    overall_stale_ = false;
  }
  return overall_latency_;
}

void run_stats::record_outcome(operation op, command_outcome outcome, std::string_view reason) {
  switch (outcome) {
    case command_outcome::accepted:
      accepted_[index_of(op)] += 1;
      break;
    case command_outcome::rejected:
      rejected_[index_of(op)] += 1;
      count_reason(rejected_by_reason_, reason, 1);
      break;
    case command_outcome::failed:
      failed_[index_of(op)] += 1;
      count_reason(failed_by_reason_, reason, 1);
      break;
  }
}

void run_stats::record_send_lateness(std::uint64_t lateness_ns, std::uint64_t late_threshold_ns) {
  send_lateness_.record_ns(lateness_ns);
  if (lateness_ns > late_threshold_ns) {
    late_sends_ += 1;
  }
}

void run_stats::merge(const run_stats& other) {
  for (std::size_t i = 0; i < operation_count; ++i) {
    per_operation_latency_[i].merge(other.per_operation_latency_[i]);
    overall_stale_ = true;
    accepted_[i] += other.accepted_[i];
    rejected_[i] += other.rejected_[i];
    failed_[i] += other.failed_[i];
  }
  for (const auto& [reason, count] : other.rejected_by_reason_) {
    count_reason(rejected_by_reason_, reason, count);
  }
  for (const auto& [reason, count] : other.failed_by_reason_) {
    count_reason(failed_by_reason_, reason, count);
  }
  if (other.completed_per_second_.size() > completed_per_second_.size()) {
    completed_per_second_.resize(other.completed_per_second_.size(), 0);
  }
  for (std::size_t second = 0; second < other.completed_per_second_.size(); ++second) {
    completed_per_second_[second] += other.completed_per_second_[second];
  }
  send_lateness_.merge(other.send_lateness_);
  late_sends_ += other.late_sends_;
  dropped_sends_ += other.dropped_sends_;
}

std::uint64_t run_stats::accepted_total() const noexcept { return sum(accepted_); }
std::uint64_t run_stats::rejected_total() const noexcept { return sum(rejected_); }
std::uint64_t run_stats::failed_total() const noexcept { return sum(failed_); }

}  // namespace tally::load
