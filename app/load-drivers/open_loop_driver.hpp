// Open-loop driver for in-process targets: commands arrive at a fixed total rate R
// whatever the target does (open_loop.hpp), and each command's latency is measured
// from its *intended* send time, so a slow target cannot hide its queueing delay by
// slowing the harness down (no coordinated omission).
//
// How: the calling thread (a plain thread, never a CAF scheduler thread) is the pacer.
// It walks the merged schedule of all clients (global index g = i*C + c at g/R) and at
// each intended time tells client c's sender actor "send command i, intended at t".
// The sender sends at once, without waiting for earlier replies, and records how late
// the send left (send lateness) and, on the reply, the latency from the intended time.
// A client holds at most `in_flight_max_per_client` commands without reply; a command
// due beyond that bound is not sent and counts as a dropped send, so an overloaded
// target cannot grow the harness's memory without bound.
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

#include "app/load-drivers/embedded_driver.hpp"
#include "app/tally-load/open_loop.hpp"
#include "caf/actor.hpp"

namespace tally::load {

struct open_loop_config {
  /// Total arrival rate over all clients, commands per second (> 0).
  double rate_per_s = 1000.0;
  /// Commands one client may have without reply; more due at once are dropped.
  std::uint64_t in_flight_max_per_client = 1024;
  /// Sends later than this after their intended time count as late sends.
  std::uint64_t late_threshold_ns = late_send_threshold_ns_default;
  /// Progress counter and --duration (commands intended at or after stop_after_ns
  /// are not sent and count as dropped sends).
  run_controls controls;
};

/// The actors an open-loop run talks to, speaking the embedded runtime's protocol.
struct open_loop_actors {
  /// Takes command_envelope<bank::account_command>, replies command_reply.
  caf::actor router;
  /// Takes (query_atom, balance_query, uint64 min_position, uint64 wait_ms), replies
  /// balance_view.
  caf::actor balances;
  /// Takes bank::transfer_money, replies transfer_reply; only needed when the lists
  /// hold transfers.
  caf::actor transfers;
};

/// Runs `lists` open loop against `actors`. Blocks the calling thread, which must not
/// be a CAF scheduler thread of `system`, until every sent command got its reply.
///
/// The result's elapsed_ns runs from the start of the schedule to the last reply;
/// stats hold the latencies from the intended send times, the send lateness, late and
/// dropped sends.
closed_loop_result run_open_loop_actors(caf::actor_system& system, const open_loop_actors& actors,
                                        const std::vector<std::vector<workload_command>>& lists,
                                        std::uint64_t accounts, const open_loop_config& config);

/// run_open_loop_actors() against the embedded runtime `bank`.
closed_loop_result run_embedded_open_loop(runtime& bank,
                                          const std::vector<std::vector<workload_command>>& lists,
                                          std::uint64_t accounts, const open_loop_config& config);

}  // namespace tally::load
