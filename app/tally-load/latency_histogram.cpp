#include "app/tally-load/latency_histogram.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "app/tally-load/check.hpp"

namespace tally::load {

namespace {

constexpr unsigned linear_bits = 8;  // log2(linear_values_count)
static_assert((std::uint64_t{1} << linear_bits) == latency_histogram::linear_values_count);

unsigned highest_bit(std::uint64_t value) noexcept {
  return 63u - static_cast<unsigned>(__builtin_clzll(value));
}

std::uint64_t saturating_add(std::uint64_t a, std::uint64_t b) noexcept {
  std::uint64_t sum = 0;
  return __builtin_add_overflow(a, b, &sum) ? std::numeric_limits<std::uint64_t>::max() : sum;
}

}  // namespace

latency_histogram::latency_histogram() : counts_(bucket_count, 0) {}

std::size_t latency_histogram::bucket_index(std::uint64_t value_ns) noexcept {
  if (value_ns < linear_values_count) {
    return static_cast<std::size_t>(value_ns);
  }
  value_ns = std::min(value_ns, latency_ns_max);
  const unsigned exponent = highest_bit(value_ns);           // 8 .. 41
  const unsigned shift = exponent - (linear_bits - 1);        // keeps 8 significant bits
  const std::uint64_t sub_bucket = (value_ns >> shift) - sub_buckets_per_range;  // 0..127
  return static_cast<std::size_t>(linear_values_count +
                                  (exponent - linear_bits) * sub_buckets_per_range +
                                  sub_bucket);
}

std::uint64_t latency_histogram::bucket_lowest_ns(std::size_t index) noexcept {
  if (index < linear_values_count) {
    return index;
  }
  const std::uint64_t offset = index - linear_values_count;
  const unsigned exponent = static_cast<unsigned>(offset / sub_buckets_per_range) + linear_bits;
  const std::uint64_t sub_bucket = offset % sub_buckets_per_range;
  const unsigned shift = exponent - (linear_bits - 1);
  return (sub_buckets_per_range + sub_bucket) << shift;
}

std::uint64_t latency_histogram::bucket_highest_ns(std::size_t index) noexcept {
  if (index < linear_values_count) {
    return index;
  }
  const std::uint64_t offset = index - linear_values_count;
  const unsigned exponent = static_cast<unsigned>(offset / sub_buckets_per_range) + linear_bits;
  const unsigned shift = exponent - (linear_bits - 1);
  return bucket_lowest_ns(index) + (std::uint64_t{1} << shift) - 1;
}

void latency_histogram::record_ns(std::uint64_t latency_ns) noexcept {
  const std::size_t index = bucket_index(latency_ns);
  counts_[index] += 1;
  if (latency_ns > latency_ns_max) {
    saturated_count_ += 1;
  }
  if (count_ == 0 || latency_ns < min_ns_) {
    min_ns_ = latency_ns;
  }
  max_ns_ = std::max(max_ns_, latency_ns);
  sum_ns_ = saturating_add(sum_ns_, latency_ns);
  count_ += 1;
}

void latency_histogram::merge(const latency_histogram& other) noexcept {
  if (other.count_ == 0) {
    return;
  }
  TALLY_LOAD_CHECK(counts_.size() == other.counts_.size());
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    counts_[i] += other.counts_[i];
  }
  min_ns_ = count_ == 0 ? other.min_ns_ : std::min(min_ns_, other.min_ns_);
  max_ns_ = std::max(max_ns_, other.max_ns_);
  sum_ns_ = saturating_add(sum_ns_, other.sum_ns_);
  count_ += other.count_;
  saturated_count_ += other.saturated_count_;
}

void latency_histogram::clear() noexcept {
  std::fill(counts_.begin(), counts_.end(), 0);
  count_ = 0;
  saturated_count_ = 0;
  min_ns_ = 0;
  max_ns_ = 0;
  sum_ns_ = 0;
}

double latency_histogram::mean_ns() const noexcept {
  return count_ == 0 ? 0.0 : static_cast<double>(sum_ns_) / static_cast<double>(count_);
}

std::uint64_t latency_histogram::percentile_ns(double percentile) const noexcept {
  if (count_ == 0) {
    return 0;
  }
  if (!(percentile > 0.0)) {  // also catches NaN
    percentile = 0.0;
  }
  if (percentile >= 100.0) {
    return max_ns_;
  }
  // Nearest rank: the smallest rank r with r >= p/100 * n, and at least 1. The small
  // tolerance keeps p = 99.9 of n = 1000 at rank 999 despite 99.9/100 * 1000 being
  // 999.0000000000001 in binary floating point.
  const double exact_rank = percentile / 100.0 * static_cast<double>(count_);
  auto rank = static_cast<std::uint64_t>(std::ceil(exact_rank - 1e-9));
  rank = std::clamp<std::uint64_t>(rank, 1, count_);
  std::uint64_t cumulative = 0;
  for (std::size_t index = 0; index < counts_.size(); ++index) {
    cumulative += counts_[index];
    if (cumulative >= rank) {
      const std::uint64_t lowest = bucket_lowest_ns(index);
      const std::uint64_t midpoint = lowest + (bucket_highest_ns(index) - lowest) / 2;
      return std::clamp(midpoint, min_ns(), max_ns_);
    }
  }
  return max_ns_;
}

}  // namespace tally::load
