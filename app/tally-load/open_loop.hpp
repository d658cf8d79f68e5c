// Open-loop pacing without coordinated omission. In an open-loop run commands arrive
// at a fixed rate R whatever the system does: command g of the whole run is intended
// to leave at start + g/R. Latency is measured from that intended time, not from
// the moment the harness managed to send, so a slow system cannot hide its queueing
// delay by slowing the harness down (Gil Tene's "coordinated omission").
//
// The total rate is shared by the clients round-robin: client c of C sends its i-th
// command (global index g = i*C + c) at start + (i*C + c)/R, i.e. at rate R/C with
// the clients' phases spread evenly.
#pragma once

#include <cstdint>
#include <functional>

namespace tally::load {

/// Sends later than this after their intended time count as late by default (1 ms).
inline constexpr std::uint64_t late_send_threshold_ns_default = 1'000'000;

/// Rates are bounded so that intended times stay exact in double arithmetic.
inline constexpr double open_loop_rate_per_s_max = 1e9;

/// The intended send times of one client's commands and which of them are due.
/// Times are nanoseconds since the run's start. Not thread-safe: one per client.
class open_loop_schedule {
public:
  /// `rate_per_s` is the total rate over all `client_count` clients (> 0 and
  /// <= open_loop_rate_per_s_max); this schedule covers client `client_index`'s
  /// `command_count` commands.
  open_loop_schedule(double rate_per_s, std::uint64_t client_index, std::uint64_t client_count,
                     std::uint64_t command_count, std::uint64_t late_threshold_ns =
                                                      late_send_threshold_ns_default);

  /// Intended send time of this client's command `index`: (index*C + c) * 1e9 / R.
  std::uint64_t intended_send_ns(std::uint64_t index) const noexcept;

  /// Commands [first, end) that are due at `now_ns` and not yet taken; take_due()
  /// marks them taken. The range is empty when nothing is due.
  struct due_range {
    std::uint64_t first = 0;
    std::uint64_t end = 0;
    bool empty() const noexcept { return first == end; }
    std::uint64_t size() const noexcept { return end - first; }
  };
  due_range take_due(std::uint64_t now_ns) noexcept;

  /// Records that command `index` was actually sent at `sent_ns`; returns how late
  /// that was (0 when on time or early) and counts it in late_sends() when it exceeds
  /// the threshold.
  std::uint64_t record_send(std::uint64_t index, std::uint64_t sent_ns) noexcept;

  /// Intended time of the next command not yet taken; meaningless once done().
  std::uint64_t next_due_ns() const noexcept { return intended_send_ns(next_index_); }
  /// True when every command has been taken.
  bool done() const noexcept { return next_index_ >= command_count_; }

  std::uint64_t command_count() const noexcept { return command_count_; }
  std::uint64_t late_threshold_ns() const noexcept { return late_threshold_ns_; }
  std::uint64_t late_sends() const noexcept { return late_sends_; }
  std::uint64_t lateness_ns_max() const noexcept { return lateness_ns_max_; }

private:
  double rate_per_s_;
  std::uint64_t client_index_;
  std::uint64_t client_count_;
  std::uint64_t command_count_;
  std::uint64_t late_threshold_ns_;
  std::uint64_t next_index_ = 0;
  std::uint64_t late_sends_ = 0;
  std::uint64_t lateness_ns_max_ = 0;
};

/// The time source of run_open_loop(): the steady clock in production, a virtual
/// clock in tests.
class pacing_clock {
public:
  virtual ~pacing_clock() = default;
  /// Nanoseconds since the run's start; monotonic.
  virtual std::uint64_t now_ns() = 0;
  /// Blocks until now_ns() >= `deadline_ns` (returns at once when already past).
  virtual void sleep_until_ns(std::uint64_t deadline_ns) = 0;
};

/// pacing_clock over std::chrono::steady_clock, starting at construction.
class steady_pacing_clock final : public pacing_clock {
public:
  steady_pacing_clock();
  std::uint64_t now_ns() override;
  void sleep_until_ns(std::uint64_t deadline_ns) override;

private:
  std::int64_t start_ns_;
};

/// One send that run_open_loop() asks for.
struct open_loop_send {
  std::uint64_t index = 0;             ///< the client's command index
  std::uint64_t intended_send_ns = 0;  ///< when it should have left
  std::uint64_t sent_ns = 0;           ///< when it leaves (now)
  std::uint64_t lateness_ns = 0;       ///< sent_ns - intended_send_ns, or 0 if early
};

/// Called once per command by run_open_loop(): sends the command and returns when its
/// reply arrived. The latency to record is (reply time - intended_send_ns).
using open_loop_send_function = std::function<void(const open_loop_send& send)>;

/// Drives one synchronous open-loop client (one command in flight, e.g. one HTTP/1.1
/// connection): sleeps until each command's intended time, sends it through `send`,
/// and when the target is slower than the schedule sends the overdue commands back to
/// back, recording each one's lateness in `schedule`. The schedule never shifts, so
/// latencies measured from the intended time include the queueing delay. Stops after
/// the last command, or before sending any command whose intended time is at or after
/// `stop_ns`; returns the number of commands not sent because of `stop_ns`.
std::uint64_t run_open_loop(open_loop_schedule& schedule, pacing_clock& clock,
                            const open_loop_send_function& send,
                            std::uint64_t stop_ns = UINT64_MAX);

}  // namespace tally::load
