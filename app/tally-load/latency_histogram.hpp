// A log-linear latency histogram in the manner of HdrHistogram: values below 256 are
// counted exactly, every larger power-of-two range [2^e, 2^(e+1)) is split into 128
// equal sub-buckets. The reported value of a bucket is its midpoint, clamped to the
// recorded min and max, so any percentile is within 1/256 (0.4 %) of the exact
// nearest-rank value. Recording is O(1) and never allocates, so a client can record
// in its hot loop; per-client histograms are merged at the end.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace tally::load {

class latency_histogram {
public:
  /// Values counted exactly: 0 .. linear_values_count - 1.
  static constexpr std::uint64_t linear_values_count = 256;
  /// Sub-buckets per power-of-two range above the linear range.
  static constexpr std::uint64_t sub_buckets_per_range = linear_values_count / 2;
  /// Largest value tracked with full precision: 2^42 - 1 ns, about 73 minutes, so any
  /// latency up to an hour is tracked. Larger values are counted as this value (and
  /// in saturated_count()); max_ns() still reports the true maximum.
  static constexpr std::uint64_t latency_ns_max = (std::uint64_t{1} << 42) - 1;
  static_assert(latency_ns_max >= 3'600'000'000'000ULL, "must track one hour in ns");

  /// Number of buckets: the linear range plus one range per power of two from 2^8 to
  /// 2^41.
  static constexpr std::size_t bucket_count = linear_values_count + (42 - 8) * sub_buckets_per_range;

  /// Creates an empty histogram (allocates its buckets once, about 37 KiB).
  latency_histogram();

  /// Records one latency. O(1), no allocation, not thread-safe (one histogram per
  /// recording thread; merge them afterwards).
  void record_ns(std::uint64_t latency_ns) noexcept;

  /// Adds every value recorded in `other` to this histogram.
  void merge(const latency_histogram& other) noexcept;

  /// Forgets every value.
  void clear() noexcept;

  /// Number of values recorded.
  std::uint64_t count() const noexcept { return count_; }
  /// Number of values above latency_ns_max (counted as latency_ns_max).
  std::uint64_t saturated_count() const noexcept { return saturated_count_; }
  /// Exact smallest and largest recorded value; 0 when empty.
  std::uint64_t min_ns() const noexcept { return count_ == 0 ? 0 : min_ns_; }
  std::uint64_t max_ns() const noexcept { return max_ns_; }
  /// Exact mean of the recorded values; 0 when empty.
  double mean_ns() const noexcept;

  /// Nearest-rank percentile: the value of rank ceil(percentile/100 * count) (at
  /// least rank 1) in sorted order, within the histogram's precision. `percentile` is
  /// clamped to [0, 100]; 100 returns max_ns() exactly. Returns 0 when empty.
  std::uint64_t percentile_ns(double percentile) const noexcept;

  /// Bucket of `value_ns` (exposed for tests).
  static std::size_t bucket_index(std::uint64_t value_ns) noexcept;
  /// Smallest and largest value falling into bucket `index`.
  static std::uint64_t bucket_lowest_ns(std::size_t index) noexcept;
  static std::uint64_t bucket_highest_ns(std::size_t index) noexcept;

private:
  std::vector<std::uint64_t> counts_;
  std::uint64_t count_ = 0;
  std::uint64_t saturated_count_ = 0;
  std::uint64_t min_ns_ = 0;
  std::uint64_t max_ns_ = 0;
  // Sum of the (unclamped) values; saturates instead of wrapping. 2^64 ns is 584
  // years of summed latency, far beyond any run.
  std::uint64_t sum_ns_ = 0;
};

}  // namespace tally::load
