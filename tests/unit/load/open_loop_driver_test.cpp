// The open-loop driver against a deliberately slow target: the schedule holds (sends
// leave on time although replies lag), latency is measured from the intended send
// time (so the target's queueing delay shows), and sends beyond the in-flight bound
// are counted as dropped instead of being held back.
#include "app/load-drivers/open_loop_driver.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "caf/all.hpp"
#include "tally/runtime.hpp"
#include "tally/detail/spawn.hpp"

namespace tally::load {
namespace {

constexpr auto slow_service_time = std::chrono::milliseconds{2};

// The slow fake target: takes deposits, withdrawals and balance queries like the
// runtime's router and balances model, but needs `slow_service_time` for each. It is
// a detached actor (a thread of its own), so its sleeping never blocks the scheduler.
struct slow_target_state {
  static inline const char* name = "tally.test.slow_target";
  std::uint64_t position = 0;
};

caf::behavior slow_target(caf::stateful_actor<slow_target_state>* self) {
  return {
    [self](const command_envelope<bank::account_command>&) {
      std::this_thread::sleep_for(slow_service_time);
      command_reply reply;
      reply.position = ++self->state.position;
      reply.stream_version = 1;
      return reply;
    },
    [](query_atom, const balance_query&, std::uint64_t, std::uint64_t) {
      std::this_thread::sleep_for(slow_service_time);
      return balance_view{};
    },
    // Transfers of an even amount complete, of an odd amount fail.
    [self](const bank::transfer_money& request) {
      std::this_thread::sleep_for(slow_service_time);
      transfer_reply reply;
      reply.position = ++self->state.position;
      reply.status = request.amount % 2 == 0 ? bank::transfer_status::completed
                                             : bank::transfer_status::failed;
      if (reply.status == bank::transfer_status::failed)
        reply.reason = error_code::insufficient_funds;
      return reply;
    },
  };
}

// `count` deposits, spread over `clients` lists.
std::vector<std::vector<workload_command>> deposits(std::uint64_t clients, std::uint64_t count) {
  std::vector<std::vector<workload_command>> lists(clients);
  for (std::uint64_t i = 0; i < count; ++i)
    lists[i % clients].push_back(workload_command{operation::deposit, i % 10, 1, 0});
  return lists;
}

class open_loop_driver_test : public ::testing::Test {
protected:
  open_loop_driver_test() : system_(make_config()) {}

  static caf::actor_system_config& make_config() {
    static caf::actor_system_config config;
    static bool configured = false;
    if (!configured) {
      runtime::configure_private(config, 2);
      configured = true;
    }
    return config;
  }

  caf::actor_system system_;
};

TEST_F(open_loop_driver_test, keeps_the_schedule_against_a_slow_target_and_measures_the_queueing) {
  // 400 commands at 2000/s: the schedule spans 0.2 s, the target needs 0.8 s.
  auto target = detail::spawn_without_arguments<caf::detached>(system_, slow_target);
  open_loop_config config;
  config.rate_per_s = 2000.0;
  config.in_flight_max_per_client = 1000;  // never reached: nothing is dropped
  const auto lists = deposits(4, 400);
  const auto started = std::chrono::steady_clock::now();
  const auto run =
    run_open_loop_actors(system_, open_loop_actors{target, target, target}, lists, 10, config);
  const auto wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  caf::anon_send_exit(target, caf::exit_reason::user_shutdown);

  EXPECT_EQ(run.commands, 400u);
  EXPECT_EQ(run.stats.accepted_total(), 400u);
  EXPECT_EQ(run.stats.dropped_sends(), 0u);
  EXPECT_EQ(run.accepted_writes, 400u);
  EXPECT_EQ(run.client_tally[0], 40);
  // Every send was recorded, and the sends kept to the schedule: none waited for the
  // slow replies (that would make the later ones late by up to 0.6 s). The bounds are
  // generous because the test machine is shared and may deschedule the pacer.
  EXPECT_EQ(run.stats.send_lateness().count(), 400u);
  EXPECT_LT(run.stats.send_lateness().percentile_ns(50.0), 50'000'000u);
  EXPECT_LT(run.stats.send_lateness().max_ns(), 400'000'000u);
  // The target took ~0.8 s; the last command was intended at ~0.2 s, so latency
  // measured from the intended time shows ~0.6 s of queueing.
  EXPECT_GE(wall_s, 0.75);
  EXPECT_GE(run.elapsed_ns, 750'000'000u);
  EXPECT_GE(run.stats.overall_latency().max_ns(), 500'000'000u);
  EXPECT_LE(run.stats.overall_latency().percentile_ns(1.0), 200'000'000u);
}

TEST_F(open_loop_driver_test, counts_sends_beyond_the_in_flight_bound_as_dropped) {
  auto target = detail::spawn_without_arguments<caf::detached>(system_, slow_target);
  open_loop_config config;
  config.rate_per_s = 4000.0;
  config.in_flight_max_per_client = 4;
  const auto lists = deposits(2, 200);
  const auto run =
    run_open_loop_actors(system_, open_loop_actors{target, target, target}, lists, 10, config);
  caf::anon_send_exit(target, caf::exit_reason::user_shutdown);

  EXPECT_GT(run.stats.dropped_sends(), 0u);
  EXPECT_EQ(run.stats.completed_total() + run.stats.dropped_sends(), 200u);
  EXPECT_EQ(run.accepted_writes, run.stats.completed_total());
}

TEST_F(open_loop_driver_test, reports_late_sends_and_stops_at_the_duration) {
  auto target = detail::spawn_without_arguments<caf::detached>(system_, slow_target);
  open_loop_config config;
  config.rate_per_s = 1000.0;
  config.late_threshold_ns = 0;  // any delay at all counts as late
  config.controls.stop_after_ns = 50'000'000;  // 0.05 s: about 50 of the 100 commands
  const auto lists = deposits(2, 100);
  const auto run =
    run_open_loop_actors(system_, open_loop_actors{target, target, target}, lists, 10, config);
  caf::anon_send_exit(target, caf::exit_reason::user_shutdown);

  EXPECT_EQ(run.stats.completed_total(), 50u);
  EXPECT_EQ(run.stats.dropped_sends(), 50u);
  EXPECT_GT(run.stats.late_sends(), 0u);
  EXPECT_LE(run.stats.late_sends(), 50u);
}

TEST_F(open_loop_driver_test, sends_transfers_to_the_transfer_manager_and_tallies_completed_ones) {
  auto target = detail::spawn_without_arguments<caf::detached>(system_, slow_target);
  open_loop_config config;
  config.rate_per_s = 4000.0;
  // Client 0 moves 2 from account 1 to 2 (completes) and 3 from 4 to 5 (fails).
  std::vector<std::vector<workload_command>> lists(1);
  lists[0].push_back(workload_command{operation::transfer, 1, 2, 2});
  lists[0].push_back(workload_command{operation::transfer, 4, 3, 5});
  const auto run =
    run_open_loop_actors(system_, open_loop_actors{target, target, target}, lists, 10, config);
  caf::anon_send_exit(target, caf::exit_reason::user_shutdown);

  EXPECT_EQ(run.transfers.completed, 1u);
  EXPECT_EQ(run.transfers.failed, 1u);
  EXPECT_EQ(run.transfers.in_doubt, 0u);
  EXPECT_EQ(run.stats.accepted(operation::transfer), 1u);
  EXPECT_EQ(run.stats.rejected(operation::transfer), 1u);
  EXPECT_EQ(run.accepted_writes, 0u);  // transfers are not deposits or withdrawals
  EXPECT_EQ(run.client_tally[1], -2);
  EXPECT_EQ(run.client_tally[2], 2);
  EXPECT_EQ(run.client_tally[4], 0);
  EXPECT_EQ(run.client_tally[5], 0);
  EXPECT_EQ(run.last_position, 2u);
}

}  // namespace
}  // namespace tally::load
