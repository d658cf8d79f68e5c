#include "app/tally-load/open_loop.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <thread>
#include <vector>

#include "app/tally-load/run_stats.hpp"

namespace tally::load {
namespace {

constexpr std::uint64_t millisecond_ns = 1'000'000;

// A clock that only moves when the test (or the fake target) moves it.
class virtual_clock final : public pacing_clock {
public:
  std::uint64_t now_ns() override { return now_ns_; }
  void sleep_until_ns(std::uint64_t deadline_ns) override {
    now_ns_ = std::max(now_ns_, deadline_ns);
  }
  void advance_ns(std::uint64_t duration_ns) { now_ns_ += duration_ns; }

private:
  std::uint64_t now_ns_ = 0;
};

TEST(open_loop_schedule, intended_times_are_index_over_rate_shared_by_clients) {
  // 4 clients at 1000/s in total: together they send at exactly every millisecond.
  std::set<std::uint64_t> all_times;
  for (std::uint64_t client = 0; client < 4; ++client) {
    const open_loop_schedule schedule{1000.0, client, 4, 25};
    for (std::uint64_t i = 0; i < 25; ++i) {
      EXPECT_EQ(schedule.intended_send_ns(i), (i * 4 + client) * millisecond_ns);
      all_times.insert(schedule.intended_send_ns(i));
    }
  }
  ASSERT_EQ(all_times.size(), 100u);
  EXPECT_EQ(*all_times.rbegin(), 99 * millisecond_ns);
}

TEST(open_loop_schedule, intended_times_do_not_drift_over_a_long_run) {
  const open_loop_schedule schedule{3.0, 0, 1, 10'000'000};
  // 9,999,999 / 3 s = 3,333,333.000 s exactly: no accumulated rounding.
  EXPECT_EQ(schedule.intended_send_ns(9'999'999), 3'333'333'000'000'000ULL);
}

TEST(open_loop_schedule, take_due_returns_every_command_whose_time_has_come) {
  open_loop_schedule schedule{1000.0, 0, 1, 10};
  EXPECT_EQ(schedule.take_due(0).size(), 1u);  // command 0 is due at 0
  EXPECT_TRUE(schedule.take_due(500'000).empty());
  const auto due = schedule.take_due(4 * millisecond_ns + 1);  // commands 1..4
  EXPECT_EQ(due.first, 1u);
  EXPECT_EQ(due.end, 5u);
  EXPECT_EQ(schedule.next_due_ns(), 5 * millisecond_ns);
  EXPECT_EQ(schedule.take_due(~std::uint64_t{0}).size(), 5u);
  EXPECT_TRUE(schedule.done());
}

TEST(open_loop_schedule, record_send_measures_lateness_against_the_threshold) {
  open_loop_schedule schedule{1000.0, 0, 1, 10, millisecond_ns};
  EXPECT_EQ(schedule.record_send(3, 3 * millisecond_ns - 10), 0u);  // early counts as on time
  EXPECT_EQ(schedule.record_send(3, 3 * millisecond_ns + 10), 10u);
  EXPECT_EQ(schedule.late_sends(), 0u);
  EXPECT_EQ(schedule.record_send(3, 5 * millisecond_ns), 2 * millisecond_ns);
  EXPECT_EQ(schedule.late_sends(), 1u);
  EXPECT_EQ(schedule.lateness_ns_max(), 2 * millisecond_ns);
}

// Runs `commands` commands at 1000/s against a target that serves one command at a
// time in `service_ns`; returns the stats with latencies taken from the intended time.
run_stats run_against_fake_target(std::uint64_t service_ns, std::uint64_t commands,
                                  open_loop_schedule& schedule, run_stats& closed_loop_view) {
  virtual_clock clock;
  run_stats stats;
  std::vector<std::uint64_t> intended_times;
  const auto send = [&](const open_loop_send& request) {
    EXPECT_EQ(request.sent_ns, clock.now_ns());
    intended_times.push_back(request.intended_send_ns);
    stats.record_send_lateness(request.lateness_ns, schedule.late_threshold_ns());
    clock.advance_ns(service_ns);  // the slow target
    const std::uint64_t reply_ns = clock.now_ns();
    stats.record_reply(operation::deposit, reply_ns - request.intended_send_ns, reply_ns,
                       command_outcome::accepted);
    // What a harness with coordinated omission would have measured.
    closed_loop_view.record_reply(operation::deposit, reply_ns - request.sent_ns, reply_ns,
                                  command_outcome::accepted);
  };
  EXPECT_EQ(run_open_loop(schedule, clock, send), 0u);
  // The schedule never moves: command i was intended at exactly i ms.
  EXPECT_EQ(intended_times.size(), commands);
  for (std::uint64_t i = 0; i < intended_times.size(); ++i) {
    EXPECT_EQ(intended_times[i], i * millisecond_ns);
  }
  return stats;
}

TEST(open_loop, a_slow_target_shows_its_queueing_delay_in_the_latency) {
  // Service 2 ms at 1 command/ms: command i leaves at 2i ms, i ms late, and its reply
  // comes at 2(i+1) ms, so its latency from the intended time is (i + 2) ms.
  constexpr std::uint64_t commands = 100;
  open_loop_schedule schedule{1000.0, 0, 1, commands, millisecond_ns};
  run_stats closed_loop_view;
  const run_stats stats =
      run_against_fake_target(2 * millisecond_ns, commands, schedule, closed_loop_view);
  EXPECT_EQ(stats.completed_total(), commands);
  EXPECT_EQ(stats.overall_latency().min_ns(), 2 * millisecond_ns);
  EXPECT_EQ(stats.overall_latency().max_ns(), (commands - 1 + 2) * millisecond_ns);
  EXPECT_NEAR(static_cast<double>(stats.overall_latency().percentile_ns(50.0)),
              51.0 * millisecond_ns, 0.01 * 51.0 * millisecond_ns);
  // Lateness grows by 1 ms per command; sends 2..99 are more than 1 ms late.
  EXPECT_EQ(schedule.late_sends(), commands - 2);
  EXPECT_EQ(stats.late_sends(), commands - 2);
  EXPECT_EQ(schedule.lateness_ns_max(), (commands - 1) * millisecond_ns);
  // Measured from the actual send the delay disappears: every command "took 2 ms".
  EXPECT_EQ(closed_loop_view.overall_latency().max_ns(), 2 * millisecond_ns);
}

TEST(open_loop, a_fast_target_is_served_exactly_on_schedule) {
  constexpr std::uint64_t commands = 50;
  open_loop_schedule schedule{1000.0, 0, 1, commands, millisecond_ns};
  run_stats closed_loop_view;
  const run_stats stats =
      run_against_fake_target(millisecond_ns / 2, commands, schedule, closed_loop_view);
  EXPECT_EQ(schedule.late_sends(), 0u);
  EXPECT_EQ(schedule.lateness_ns_max(), 0u);
  EXPECT_EQ(stats.overall_latency().max_ns(), millisecond_ns / 2);
  EXPECT_EQ(stats.overall_latency().min_ns(), millisecond_ns / 2);
}

TEST(open_loop, stop_time_leaves_the_remaining_commands_unsent) {
  virtual_clock clock;
  open_loop_schedule schedule{1000.0, 0, 1, 100};
  std::uint64_t sent = 0;
  const std::uint64_t not_sent = run_open_loop(
      schedule, clock, [&](const open_loop_send&) { ++sent; }, 10 * millisecond_ns);
  EXPECT_EQ(sent, 10u);  // commands 0..9 are intended before 10 ms
  EXPECT_EQ(not_sent, 90u);
  EXPECT_TRUE(schedule.done());
}

TEST(open_loop, real_clock_keeps_the_schedule_against_a_sleeping_target) {
  // 2000/s against a target that needs at least 1 ms per command: the harness falls
  // behind, and the latencies from the intended times grow with the backlog.
  constexpr std::uint64_t commands = 60;
  open_loop_schedule schedule{2000.0, 0, 1, commands, millisecond_ns};
  steady_pacing_clock clock;
  latency_histogram latency_from_intended;
  std::uint64_t previous_intended_ns = 0;
  const auto send = [&](const open_loop_send& request) {
    EXPECT_GE(request.sent_ns, request.intended_send_ns);
    EXPECT_EQ(request.intended_send_ns, request.index * millisecond_ns / 2);
    EXPECT_GE(request.intended_send_ns, previous_intended_ns);
    previous_intended_ns = request.intended_send_ns;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    latency_from_intended.record_ns(clock.now_ns() - request.intended_send_ns);
  };
  EXPECT_EQ(run_open_loop(schedule, clock, send), 0u);
  EXPECT_EQ(latency_from_intended.count(), commands);
  // The last command was intended at 29.5 ms but cannot leave before 59 ms of service.
  EXPECT_GE(latency_from_intended.max_ns(), 29 * millisecond_ns);
  EXPECT_GT(schedule.late_sends(), commands / 2);
}

}  // namespace
}  // namespace tally::load
