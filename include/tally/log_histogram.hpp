// A compact log-linear histogram for runtime metrics (batch sizes, commit latencies):
// 4 sub-buckets per power of two (values within ~19 %), fixed size, copyable into
// messages. The load harness has its own finer histogram for client-side latency.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

namespace tally {

class log_histogram {
public:
  static constexpr std::size_t sub_buckets = 4;
  static constexpr std::size_t bucket_count = 64 * sub_buckets;

  /// Index of the bucket holding `value` (0 holds 0).
  static std::size_t bucket_of(std::uint64_t value) noexcept {
    if (value < sub_buckets)
      return static_cast<std::size_t>(value);
    auto exponent = 63 - static_cast<std::size_t>(__builtin_clzll(value));  // >= 2
    auto fraction = static_cast<std::size_t>((value >> (exponent - 2)) & (sub_buckets - 1));
    return exponent * sub_buckets + fraction - (2 * sub_buckets - sub_buckets);
  }

  /// Largest value that falls into bucket `index`.
  static std::uint64_t upper_bound_of(std::size_t index) noexcept {
    if (index < sub_buckets)
      return index;
    auto shifted = index + sub_buckets;  // undo the offset of bucket_of()
    auto exponent = shifted / sub_buckets;
    auto fraction = shifted % sub_buckets;
    auto low = (std::uint64_t{1} << exponent) + (static_cast<std::uint64_t>(fraction) << (exponent - 2));
    return low + (std::uint64_t{1} << (exponent - 2)) - 1;
  }

  void record(std::uint64_t value) noexcept {
    ++counts_[bucket_of(value)];
    ++count_;
    sum_ += value;
    if (value > max_)
      max_ = value;
  }

  std::uint64_t count() const noexcept { return count_; }
  std::uint64_t sum() const noexcept { return sum_; }
  std::uint64_t max() const noexcept { return max_; }

  /// Upper bound of the bucket holding the value at `quantile` (0..1), nearest rank.
  std::uint64_t quantile(double quantile) const noexcept {
    if (count_ == 0)
      return 0;
    auto rank = static_cast<std::uint64_t>(quantile * static_cast<double>(count_));
    if (rank < 1)
      rank = 1;
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < bucket_count; ++i) {
      seen += counts_[i];
      if (seen >= rank)
        return upper_bound_of(i) < max_ ? upper_bound_of(i) : max_;
    }
    return max_;
  }

  /// Non-empty buckets as (upper bound, count) pairs, ascending: for Prometheus output.
  std::vector<std::pair<std::uint64_t, std::uint64_t>> buckets() const {
    std::vector<std::pair<std::uint64_t, std::uint64_t>> out;
    for (std::size_t i = 0; i < bucket_count; ++i)
      if (counts_[i] != 0)
        out.emplace_back(upper_bound_of(i), counts_[i]);
    return out;
  }

  template <class Inspector>
  friend typename Inspector::result_type inspect(Inspector& f, log_histogram& x) {
    return f(x.counts_, x.count_, x.sum_, x.max_);
  }

private:
  std::array<std::uint64_t, bucket_count> counts_{};
  std::uint64_t count_ = 0;
  std::uint64_t sum_ = 0;
  std::uint64_t max_ = 0;
};

}  // namespace tally
