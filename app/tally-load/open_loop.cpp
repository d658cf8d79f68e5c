#include "app/tally-load/open_loop.hpp"

#include <chrono>
#include <cmath>
#include <thread>

#include "app/tally-load/check.hpp"

namespace tally::load {

namespace {

std::int64_t steady_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

open_loop_schedule::open_loop_schedule(double rate_per_s, std::uint64_t client_index,
                                       std::uint64_t client_count, std::uint64_t command_count,
                                       std::uint64_t late_threshold_ns)
    : rate_per_s_(rate_per_s),
      client_index_(client_index),
      client_count_(client_count),
      command_count_(command_count),
      late_threshold_ns_(late_threshold_ns) {
  TALLY_LOAD_CHECK(rate_per_s > 0.0 && rate_per_s <= open_loop_rate_per_s_max);
  TALLY_LOAD_CHECK(client_count >= 1 && client_index < client_count);
}

std::uint64_t open_loop_schedule::intended_send_ns(std::uint64_t index) const noexcept {
  // Computed from the index, never by accumulating intervals, so rounding errors do
  // not drift the schedule over a long run.
  const double global_index =
      static_cast<double>(index) * static_cast<double>(client_count_) +
      static_cast<double>(client_index_);
  return static_cast<std::uint64_t>(std::llround(global_index * 1e9 / rate_per_s_));
}

open_loop_schedule::due_range open_loop_schedule::take_due(std::uint64_t now_ns) noexcept {
  due_range range{next_index_, next_index_};
  while (range.end < command_count_ && intended_send_ns(range.end) <= now_ns) {
    ++range.end;
  }
  next_index_ = range.end;
  return range;
}

std::uint64_t open_loop_schedule::record_send(std::uint64_t index,
                                              std::uint64_t sent_ns) noexcept {
  const std::uint64_t intended_ns = intended_send_ns(index);
  const std::uint64_t lateness_ns = sent_ns > intended_ns ? sent_ns - intended_ns : 0;
  if (lateness_ns > late_threshold_ns_) {
    late_sends_ += 1;
  }
  if (lateness_ns > lateness_ns_max_) {
    lateness_ns_max_ = lateness_ns;
  }
  return lateness_ns;
}

steady_pacing_clock::steady_pacing_clock() : start_ns_(steady_now_ns()) {}

std::uint64_t steady_pacing_clock::now_ns() {
  return static_cast<std::uint64_t>(steady_now_ns() - start_ns_);
}

void steady_pacing_clock::sleep_until_ns(std::uint64_t deadline_ns) {
  const auto deadline = std::chrono::steady_clock::time_point{std::chrono::nanoseconds{
      start_ns_ + static_cast<std::int64_t>(deadline_ns)}};
  std::this_thread::sleep_until(deadline);
}

std::uint64_t run_open_loop(open_loop_schedule& schedule, pacing_clock& clock,
                            const open_loop_send_function& send, std::uint64_t stop_ns) {
  while (!schedule.done()) {
    const std::uint64_t next_ns = schedule.next_due_ns();
    if (next_ns >= stop_ns) {
      break;
    }
    clock.sleep_until_ns(next_ns);
    const open_loop_schedule::due_range due = schedule.take_due(clock.now_ns());
    for (std::uint64_t index = due.first; index < due.end; ++index) {
      open_loop_send request;
      request.index = index;
      request.intended_send_ns = schedule.intended_send_ns(index);
      if (request.intended_send_ns >= stop_ns) {
        // Due only because a slow reply took us past the stop time.
        return (due.end - index) + schedule.take_due(UINT64_MAX).size();
      }
      request.sent_ns = clock.now_ns();
      request.lateness_ns = schedule.record_send(index, request.sent_ns);
      send(request);
    }
  }
  return schedule.take_due(UINT64_MAX).size();
}

}  // namespace tally::load
