// The closed-loop clients with latency recording off (the "off" side of
// `tally-load baseline recording-cost`): every reply is still counted and the run has
// its elapsed time, so its throughput is comparable with a recorded run's; only the
// latencies and the per-second series are missing.
#include "app/load-drivers/embedded_driver.hpp"

#include <gtest/gtest.h>

#include "caf/all.hpp"
#include "tally/runtime.hpp"

namespace tally::load {
namespace {

// 2,000 commands over 8 clients and 20 accounts: deposits, withdrawals (some refused)
// and balance queries, as the standard mix has them.
std::vector<std::vector<workload_command>> mixed_lists() {
  std::vector<std::vector<workload_command>> lists(8);
  for (std::uint64_t i = 0; i < 2000; ++i) {
    const auto op = i % 3 == 0 ? operation::deposit
                    : i % 3 == 1 ? operation::withdraw
                                 : operation::balance;
    lists[i % 8].push_back(workload_command{op, i % 20, static_cast<std::int64_t>(1 + i % 7), 0});
  }
  return lists;
}

TEST(closed_loop_driver, counts_every_reply_with_and_without_latency_recording) {
  caf::actor_system_config config;
  runtime::configure_private(config, 2);
  caf::actor_system system{config};
  const auto lists = mixed_lists();
  for (const bool record : {true, false}) {
    run_controls controls;
    controls.record_latency = record;
    const closed_loop_result run = run_caf_raw(system, lists, 20, controls);
    SCOPED_TRACE(record ? "recording on" : "recording off");
    EXPECT_EQ(run.commands, 2000u);
    EXPECT_EQ(run.stats.completed_total(), 2000u);
    EXPECT_EQ(run.stats.accepted_total() + run.stats.rejected_total(), 2000u);
    EXPECT_GT(run.stats.rejected_total(), 0u);  // withdrawals beyond the balance
    EXPECT_GT(run.elapsed_ns, 0u);
    EXPECT_GT(run.commands_per_second(), 0.0);
    EXPECT_EQ(run.stats.overall_latency().count(), record ? 2000u : 0u);
    EXPECT_EQ(run.stats.completed_per_second().empty(), !record);
  }
}

}  // namespace
}  // namespace tally::load
