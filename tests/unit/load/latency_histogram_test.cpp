#include "app/tally-load/latency_histogram.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

namespace tally::load {
namespace {

constexpr double percentiles[] = {0.0, 1.0, 10.0, 25.0, 50.0, 75.0, 90.0, 99.0, 99.9, 99.99, 100.0};

// Exact nearest-rank percentile of sorted values: rank ceil(p/100 * n), at least 1.
std::uint64_t exact_percentile(const std::vector<std::uint64_t>& sorted, double percentile) {
  const double exact_rank = percentile / 100.0 * static_cast<double>(sorted.size());
  auto rank = static_cast<std::size_t>(std::ceil(exact_rank - 1e-9));
  rank = std::clamp<std::size_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

void expect_within_one_percent(std::vector<std::uint64_t> values, const std::string& name) {
  latency_histogram histogram;
  for (std::uint64_t value : values) {
    histogram.record_ns(value);
  }
  std::sort(values.begin(), values.end());
  ASSERT_EQ(histogram.count(), values.size());
  EXPECT_EQ(histogram.min_ns(), values.front());
  EXPECT_EQ(histogram.max_ns(), values.back());
  for (double percentile : percentiles) {
    const double exact = static_cast<double>(exact_percentile(values, percentile));
    const double estimate = static_cast<double>(histogram.percentile_ns(percentile));
    EXPECT_LE(std::fabs(estimate - exact), 0.01 * exact)
        << name << " p" << percentile << ": exact " << exact << " estimate " << estimate;
  }
  double sum = 0;
  for (std::uint64_t value : values) {
    sum += static_cast<double>(value);
  }
  EXPECT_NEAR(histogram.mean_ns(), sum / static_cast<double>(values.size()), 1e-6 * sum);
}

TEST(latency_histogram, percentiles_of_uniform_data_are_within_one_percent) {
  const std::uint32_t seed = 20240101;
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 random{seed};
  std::uniform_int_distribution<std::uint64_t> uniform{1'000, 50'000'000};
  std::vector<std::uint64_t> values(200'000);
  for (auto& value : values) value = uniform(random);
  expect_within_one_percent(values, "uniform");
}

TEST(latency_histogram, percentiles_of_exponential_data_are_within_one_percent) {
  const std::uint32_t seed = 7;
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 random{seed};
  std::exponential_distribution<double> exponential{1.0 / 250'000.0};  // mean 250 µs
  std::vector<std::uint64_t> values(200'000);
  for (auto& value : values) value = static_cast<std::uint64_t>(exponential(random)) + 1;
  expect_within_one_percent(values, "exponential");
}

TEST(latency_histogram, percentiles_of_bimodal_data_are_within_one_percent) {
  // A fast path around 40 µs and a slow path (the fsync) around 4 ms, 5 % of requests.
  const std::uint32_t seed = 99;
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 random{seed};
  std::normal_distribution<double> fast{40'000.0, 5'000.0};
  std::normal_distribution<double> slow{4'000'000.0, 600'000.0};
  std::bernoulli_distribution is_slow{0.05};
  std::vector<std::uint64_t> values(200'000);
  for (auto& value : values) {
    value = static_cast<std::uint64_t>(std::max(1.0, is_slow(random) ? slow(random) : fast(random)));
  }
  expect_within_one_percent(values, "bimodal");
}

TEST(latency_histogram, small_values_are_exact) {
  latency_histogram histogram;
  for (std::uint64_t value = 0; value < 256; ++value) {
    histogram.record_ns(value);
  }
  EXPECT_EQ(histogram.percentile_ns(50.0), 127u);
  EXPECT_EQ(histogram.percentile_ns(0.0), 0u);
  EXPECT_EQ(histogram.percentile_ns(100.0), 255u);
}

TEST(latency_histogram, buckets_tile_the_range_without_gaps) {
  for (std::size_t index = 0; index + 1 < latency_histogram::bucket_count; ++index) {
    ASSERT_EQ(latency_histogram::bucket_highest_ns(index) + 1,
              latency_histogram::bucket_lowest_ns(index + 1))
        << "index " << index;
    ASSERT_EQ(latency_histogram::bucket_index(latency_histogram::bucket_lowest_ns(index)), index);
    ASSERT_EQ(latency_histogram::bucket_index(latency_histogram::bucket_highest_ns(index)), index);
  }
  EXPECT_EQ(latency_histogram::bucket_index(latency_histogram::latency_ns_max),
            latency_histogram::bucket_count - 1);
  EXPECT_EQ(latency_histogram::bucket_highest_ns(latency_histogram::bucket_count - 1),
            latency_histogram::latency_ns_max);
}

TEST(latency_histogram, edge_values) {
  latency_histogram empty;
  EXPECT_EQ(empty.count(), 0u);
  EXPECT_EQ(empty.percentile_ns(99.0), 0u);
  EXPECT_EQ(empty.min_ns(), 0u);
  EXPECT_EQ(empty.max_ns(), 0u);
  EXPECT_EQ(empty.mean_ns(), 0.0);

  latency_histogram one;
  one.record_ns(123'456'789);
  for (double percentile : percentiles) {
    EXPECT_EQ(one.percentile_ns(percentile), 123'456'789u) << percentile;
  }

  // One hour is tracked with full precision; beyond the limit values saturate but the
  // max stays exact.
  latency_histogram large;
  const std::uint64_t one_hour_ns = 3'600'000'000'000ULL;
  large.record_ns(0);
  large.record_ns(one_hour_ns);
  EXPECT_EQ(large.saturated_count(), 0u);
  EXPECT_EQ(large.percentile_ns(100.0), one_hour_ns);
  const double p75 = static_cast<double>(large.percentile_ns(75.0));
  EXPECT_NEAR(p75, static_cast<double>(one_hour_ns), 0.01 * static_cast<double>(one_hour_ns));
  large.record_ns(~std::uint64_t{0});
  EXPECT_EQ(large.saturated_count(), 1u);
  EXPECT_EQ(large.max_ns(), ~std::uint64_t{0});
  EXPECT_EQ(large.min_ns(), 0u);

  // Out-of-range percentiles are clamped.
  EXPECT_EQ(large.percentile_ns(-5.0), 0u);
  EXPECT_EQ(large.percentile_ns(250.0), ~std::uint64_t{0});
  EXPECT_EQ(large.percentile_ns(std::nan("")), 0u);
}

TEST(latency_histogram, nearest_rank_of_a_thousand_distinct_values) {
  latency_histogram histogram;
  for (std::uint64_t value = 1; value <= 1000; ++value) {
    histogram.record_ns(value * 1000);
  }
  // Nearest rank: p99.9 of 1000 values is the 999th; p50 the 500th.
  EXPECT_NEAR(static_cast<double>(histogram.percentile_ns(99.9)), 999'000.0, 999'000.0 * 0.005);
  EXPECT_NEAR(static_cast<double>(histogram.percentile_ns(50.0)), 500'000.0, 500'000.0 * 0.005);
}

TEST(latency_histogram, merging_equals_recording_everything_in_one) {
  std::mt19937_64 random{5};
  std::lognormal_distribution<double> lognormal{11.0, 1.5};
  latency_histogram all;
  std::vector<latency_histogram> parts(8);
  for (int i = 0; i < 80'000; ++i) {
    const auto value = static_cast<std::uint64_t>(lognormal(random));
    all.record_ns(value);
    parts[static_cast<std::size_t>(i) % parts.size()].record_ns(value);
  }
  latency_histogram merged;
  for (const latency_histogram& part : parts) {
    merged.merge(part);
  }
  merged.merge(latency_histogram{});  // merging an empty one changes nothing
  EXPECT_EQ(merged.count(), all.count());
  EXPECT_EQ(merged.min_ns(), all.min_ns());
  EXPECT_EQ(merged.max_ns(), all.max_ns());
  EXPECT_DOUBLE_EQ(merged.mean_ns(), all.mean_ns());
  for (double percentile : percentiles) {
    EXPECT_EQ(merged.percentile_ns(percentile), all.percentile_ns(percentile)) << percentile;
  }
  merged.clear();
  EXPECT_EQ(merged.count(), 0u);
  EXPECT_EQ(merged.percentile_ns(50.0), 0u);
}

TEST(latency_histogram, merge_into_empty_takes_the_other_min) {
  latency_histogram target;
  latency_histogram source;
  source.record_ns(5'000);
  source.record_ns(9'000);
  target.merge(source);
  EXPECT_EQ(target.min_ns(), 5'000u);
  EXPECT_EQ(target.max_ns(), 9'000u);
}

}  // namespace
}  // namespace tally::load
