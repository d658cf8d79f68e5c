#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "support/seed.hpp"
#include "tally/log_histogram.hpp"

using tally::log_histogram;

TEST(log_histogram, every_value_lands_in_a_bucket_that_bounds_it_within_a_fifth) {
  tally::test_support::splitmix64 random{11};
  for (int i = 0; i < 100000; ++i) {
    std::uint64_t value = random.next() >> random.below(64);
    auto bucket = log_histogram::bucket_of(value);
    ASSERT_LT(bucket, log_histogram::bucket_count);
    ASSERT_GE(log_histogram::upper_bound_of(bucket), value);
    if (bucket > 0) {
      ASSERT_LT(log_histogram::upper_bound_of(bucket - 1), value);
    }
    if (value >= 4) {
      ASSERT_LE(log_histogram::upper_bound_of(bucket) - value, value / 4);
    }
  }
}

TEST(log_histogram, quantiles_bound_the_exact_nearest_rank_values) {
  tally::test_support::splitmix64 random{5};
  log_histogram histogram;
  std::vector<std::uint64_t> values;
  for (int i = 0; i < 10000; ++i) {
    auto value = 1 + random.below(100000);
    values.push_back(value);
    histogram.record(value);
  }
  std::sort(values.begin(), values.end());
  for (double q : {0.5, 0.9, 0.99, 0.999}) {
    auto exact = values[static_cast<std::size_t>(q * values.size()) - 1];
    auto estimate = histogram.quantile(q);
    EXPECT_GE(estimate, exact);
    EXPECT_LE(estimate - exact, exact / 4);
  }
  EXPECT_EQ(histogram.quantile(1.0), values.back());
  EXPECT_EQ(histogram.count(), 10000u);
}
