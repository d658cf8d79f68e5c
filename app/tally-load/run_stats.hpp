// What one load run measured: per-operation and overall latency histograms, accepted
// and rejected counts (rejections per reason), a per-second throughput series, and the
// open-loop send lateness. One run_stats per client thread, recorded without locks and
// merged at the end.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "app/tally-load/latency_histogram.hpp"
#include "app/tally-load/workload.hpp"

namespace tally::load {

/// What became of one command.
enum class command_outcome : std::uint8_t {
  accepted,  ///< applied (or, for a query, answered)
  rejected,  ///< refused by a rule of the bank, e.g. insufficient_funds
  failed,    ///< the system failed (timeout, unavailable): applied or not is unknown
};

/// Longest run the throughput series covers; later completions land in the last
/// second. Bounds the series at 8 bytes per second (about 0.7 MiB for a day).
inline constexpr std::uint64_t throughput_series_seconds_max = 86'400;

class run_stats {
public:
  run_stats();

  /// Records the reply to one command. `latency_ns` is measured from the send (closed
  /// loop) or from the intended send time (open loop). `completed_ns` is the time of
  /// the reply since the run's start (the barrier's release) and selects the
  /// throughput second. `reason` names the rule for rejections and the failure for
  /// failures (e.g. "insufficient_funds", "timeout") and is ignored for accepted
  /// commands. Allocates only the first time a reason is seen and once per new second
  /// of the series; not thread-safe.
  void record_reply(operation op, std::uint64_t latency_ns, std::uint64_t completed_ns,
                    command_outcome outcome, std::string_view reason = {});

  /// Counts one reply's outcome only, without latency or throughput series: what
  /// record_reply() does besides the timing, for runs that measure the cost of the
  /// timing itself (run_controls::record_latency off).
  void record_outcome(operation op, command_outcome outcome, std::string_view reason = {});

  /// Records how late an open-loop send left relative to its intended send time.
  /// Sends later than `late_threshold_ns` also count in late_sends().
  void record_send_lateness(std::uint64_t lateness_ns, std::uint64_t late_threshold_ns);

  /// Counts an open-loop command that was never sent (e.g. the run's duration ended
  /// before its intended time could be met).
  void record_dropped_send() noexcept { dropped_sends_ += 1; }

  /// Adds everything `other` recorded to this one.
  void merge(const run_stats& other);

  /// Latencies of one operation, and of all operations together.
  const latency_histogram& latency(operation op) const noexcept {
    return per_operation_latency_[index_of(op)];
  }
  /// All operations together: merged from the per-operation histograms when asked (a
  /// reply records into one histogram only; see record_reply()). Not thread-safe.
  const latency_histogram& overall_latency() const noexcept;

  std::uint64_t accepted(operation op) const noexcept { return accepted_[index_of(op)]; }
  std::uint64_t rejected(operation op) const noexcept { return rejected_[index_of(op)]; }
  std::uint64_t failed(operation op) const noexcept { return failed_[index_of(op)]; }
  std::uint64_t accepted_total() const noexcept;
  std::uint64_t rejected_total() const noexcept;
  std::uint64_t failed_total() const noexcept;
  /// Replies recorded (accepted + rejected + failed).
  std::uint64_t completed_total() const noexcept {
    return accepted_total() + rejected_total() + failed_total();
  }

  /// Rejections per reason, in the order reasons were first seen.
  const std::vector<std::pair<std::string, std::uint64_t>>& rejected_by_reason() const noexcept {
    return rejected_by_reason_;
  }
  /// Failures per reason, in the order reasons were first seen.
  const std::vector<std::pair<std::string, std::uint64_t>>& failed_by_reason() const noexcept {
    return failed_by_reason_;
  }

  /// Replies completed in each second since the run's start (index = second).
  const std::vector<std::uint64_t>& completed_per_second() const noexcept {
    return completed_per_second_;
  }

  /// Open-loop send lateness (empty for closed-loop runs), late and dropped sends.
  const latency_histogram& send_lateness() const noexcept { return send_lateness_; }
  std::uint64_t late_sends() const noexcept { return late_sends_; }
  std::uint64_t dropped_sends() const noexcept { return dropped_sends_; }

private:
  static void count_reason(std::vector<std::pair<std::string, std::uint64_t>>& counts,
                           std::string_view reason, std::uint64_t amount);

  std::array<latency_histogram, operation_count> per_operation_latency_;
  mutable latency_histogram overall_latency_;  ///< valid when !overall_stale_
  mutable bool overall_stale_ = false;
  std::array<std::uint64_t, operation_count> accepted_{};
  std::array<std::uint64_t, operation_count> rejected_{};
  std::array<std::uint64_t, operation_count> failed_{};
  // A handful of reasons at most: a vector searched linearly beats a map here and
  // does not allocate per lookup.
  std::vector<std::pair<std::string, std::uint64_t>> rejected_by_reason_;
  std::vector<std::pair<std::string, std::uint64_t>> failed_by_reason_;
  std::vector<std::uint64_t> completed_per_second_;
  // The second of the series the last reply fell into, [start, end) in ns: the next
  // reply almost always falls into it too, and then costs no division.
  std::uint64_t series_second_ = 0;
  std::uint64_t series_second_start_ns_ = 0;
  std::uint64_t series_second_end_ns_ = 0;
  latency_histogram send_lateness_;
  std::uint64_t late_sends_ = 0;
  std::uint64_t dropped_sends_ = 0;
};

}  // namespace tally::load
