// The live progress line: "rate, p99 so far, elapsed/remaining", redrawn about once a
// second with '\r' on stderr. Shown only when stderr is a terminal and --no-progress
// was not given, so logs and CI output stay clean.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "app/tally-load/options.hpp"

namespace tally::load {

/// What the clients report for the live progress line: replies so far and their
/// latencies, counted in the buckets of latency_histogram (0.4 % precision) as relaxed
/// atomics, so a monitor thread can read a p99 while the clients record. The clients'
/// own histograms stay private to them and are merged only at the end. A snapshot may
/// lag the clients by a few replies; that is all a progress line needs.
class progress_counters {
public:
  progress_counters();

  /// Counts one reply and its latency. Thread-safe, lock-free, no allocation.
  void record_reply(std::uint64_t latency_ns) noexcept;

  /// Replies counted so far.
  std::uint64_t completed() const noexcept { return completed_.load(std::memory_order_relaxed); }

  /// Nearest-rank percentile of the latencies counted so far (the middle of its
  /// bucket); 0 when none. Thread-safe; O(buckets).
  std::uint64_t latency_ns_percentile(double percentile) const noexcept;

private:
  std::atomic<std::uint64_t> completed_{0};
  std::unique_ptr<std::atomic<std::uint64_t>[]> bucket_counts_;
};

/// One progress sample.
struct progress_snapshot {
  std::uint64_t completed = 0;       ///< replies so far
  std::uint64_t total = 0;           ///< commands in the run
  std::uint64_t elapsed_ns = 0;      ///< since the barrier's release
  std::uint64_t latency_ns_p99 = 0;  ///< p99 of the replies so far (0 if unknown)
};

/// Formats the line (without '\r'), e.g.
/// "  412345/1000000  41.2%  98765 cmd/s  p99 1234 us  elapsed 4.2 s  remaining 5.9 s".
/// The rate is the average since the start; remaining is extrapolated from it.
std::string format_progress_line(const progress_snapshot& snapshot);

class progress_reporter {
public:
  /// Enabled when `mode` is automatic and `descriptor` (stderr by default) is a TTY.
  explicit progress_reporter(progress_mode mode, int descriptor = 2);

  /// Creates a reporter with an explicit decision (tests, forced output).
  progress_reporter(bool enabled, int descriptor);

  bool enabled() const noexcept { return enabled_; }

  /// Redraws the line when enabled and at least update_interval_ns passed since the
  /// last redraw (measured on snapshot.elapsed_ns), so it may be called often. Call
  /// from one thread (e.g. a monitor thread), never from a client's hot loop.
  void update(const progress_snapshot& snapshot);

  /// Redraws the final state unconditionally and ends the line with '\n' when
  /// anything was drawn.
  void finish(const progress_snapshot& snapshot);

  /// Minimum interval between redraws.
  static constexpr std::uint64_t update_interval_ns = 1'000'000'000;

private:
  void draw(const progress_snapshot& snapshot);

  bool enabled_;
  int descriptor_;
  bool drawn_ = false;
  std::uint64_t last_draw_ns_ = 0;
  std::size_t last_line_size_ = 0;
};

}  // namespace tally::load
