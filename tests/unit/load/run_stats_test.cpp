#include "app/tally-load/run_stats.hpp"

#include <gtest/gtest.h>

namespace tally::load {
namespace {

constexpr std::uint64_t second_ns = 1'000'000'000;

TEST(run_stats, counts_outcomes_per_operation_and_rejections_per_reason) {
  run_stats stats;
  stats.record_reply(operation::deposit, 10'000, 0, command_outcome::accepted);
  stats.record_reply(operation::withdraw, 20'000, 1, command_outcome::rejected, "insufficient_funds");
  stats.record_reply(operation::withdraw, 30'000, 2, command_outcome::rejected, "insufficient_funds");
  stats.record_reply(operation::withdraw, 30'000, 3, command_outcome::accepted);
  stats.record_reply(operation::balance, 5'000, 4, command_outcome::failed, "timeout");
  EXPECT_EQ(stats.accepted(operation::deposit), 1u);
  EXPECT_EQ(stats.accepted(operation::withdraw), 1u);
  EXPECT_EQ(stats.rejected(operation::withdraw), 2u);
  EXPECT_EQ(stats.failed(operation::balance), 1u);
  EXPECT_EQ(stats.accepted_total(), 2u);
  EXPECT_EQ(stats.rejected_total(), 2u);
  EXPECT_EQ(stats.failed_total(), 1u);
  EXPECT_EQ(stats.completed_total(), 5u);
  ASSERT_EQ(stats.rejected_by_reason().size(), 1u);
  EXPECT_EQ(stats.rejected_by_reason()[0].first, "insufficient_funds");
  EXPECT_EQ(stats.rejected_by_reason()[0].second, 2u);
  ASSERT_EQ(stats.failed_by_reason().size(), 1u);
  EXPECT_EQ(stats.failed_by_reason()[0].first, "timeout");
  EXPECT_EQ(stats.latency(operation::withdraw).count(), 3u);
  EXPECT_EQ(stats.overall_latency().max_ns(), 30'000u);
  EXPECT_EQ(stats.overall_latency().min_ns(), 5'000u);
}

TEST(run_stats, builds_a_per_second_throughput_series) {
  run_stats stats;
  stats.record_reply(operation::deposit, 1, 0, command_outcome::accepted);
  stats.record_reply(operation::deposit, 1, second_ns - 1, command_outcome::accepted);
  stats.record_reply(operation::deposit, 1, 3 * second_ns + 5, command_outcome::accepted);
  const std::vector<std::uint64_t> expected{2, 0, 0, 1};
  EXPECT_EQ(stats.completed_per_second(), expected);
}

TEST(run_stats, the_throughput_series_is_bounded) {
  run_stats stats;
  stats.record_reply(operation::deposit, 1, ~std::uint64_t{0}, command_outcome::accepted);
  EXPECT_EQ(stats.completed_per_second().size(), throughput_series_seconds_max);
  EXPECT_EQ(stats.completed_per_second().back(), 1u);
}

TEST(run_stats, merge_adds_everything) {
  run_stats first;
  run_stats second;
  first.record_reply(operation::deposit, 1'000, 0, command_outcome::accepted);
  first.record_reply(operation::withdraw, 2'000, 0, command_outcome::rejected, "insufficient_funds");
  second.record_reply(operation::withdraw, 3'000, 2 * second_ns, command_outcome::rejected,
                      "insufficient_funds");
  second.record_reply(operation::withdraw, 4'000, 2 * second_ns, command_outcome::rejected,
                      "account_closed");
  second.record_send_lateness(5'000'000, 1'000'000);
  second.record_send_lateness(10, 1'000'000);
  second.record_dropped_send();
  first.merge(second);
  EXPECT_EQ(first.completed_total(), 4u);
  EXPECT_EQ(first.rejected_total(), 3u);
  ASSERT_EQ(first.rejected_by_reason().size(), 2u);
  EXPECT_EQ(first.rejected_by_reason()[0].second, 2u);
  EXPECT_EQ(first.rejected_by_reason()[1].first, "account_closed");
  const std::vector<std::uint64_t> expected{2, 0, 2};
  EXPECT_EQ(first.completed_per_second(), expected);
  EXPECT_EQ(first.latency(operation::withdraw).count(), 3u);
  EXPECT_EQ(first.late_sends(), 1u);
  EXPECT_EQ(first.dropped_sends(), 1u);
  EXPECT_EQ(first.send_lateness().count(), 2u);
}

TEST(run_stats, rejection_without_reason_is_counted_as_unspecified) {
  run_stats stats;
  stats.record_reply(operation::deposit, 1, 0, command_outcome::rejected);
  ASSERT_EQ(stats.rejected_by_reason().size(), 1u);
  EXPECT_EQ(stats.rejected_by_reason()[0].first, "unspecified");
}

}  // namespace
}  // namespace tally::load
