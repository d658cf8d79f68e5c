// Closed-loop drivers that run the standard workload (../shared/workload.md) inside
// one process: against the embedded Tally runtime, and against bare stateful CAF
// actors (`caf-raw`, the actor-layer ceiling the runtime is measured against). Both
// use the same client actors, command lists and clock, so their ratio is fair.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "app/tally-load/run_stats.hpp"
#include "app/tally-load/workload.hpp"
#include "caf/fwd.hpp"

namespace tally {
class runtime;
}

namespace tally::load {

/// What a closed-loop run measured.
struct closed_loop_result {
  std::uint64_t commands = 0;
  std::uint64_t elapsed_ns = 0;  ///< barrier release until the last reply
  run_stats stats;
  /// The clients' own tally per account: accepted deposits - accepted withdrawals.
  std::vector<std::int64_t> client_tally;
  /// Accepted commands that append an event (deposits and withdrawals).
  std::uint64_t accepted_writes = 0;
  /// Highest global position any reply carried (embedded target; 0 for caf-raw).
  std::uint64_t last_position = 0;

  double commands_per_second() const {
    return elapsed_ns == 0 ? 0.0 : static_cast<double>(commands) * 1e9 / static_cast<double>(elapsed_ns);
  }
};

/// The account id the harness uses for workload account `index` ("acct-<index>").
std::string account_name(std::uint64_t index);

/// Opens accounts 0..accounts-1 (not timed). Returns false if any open failed
/// (an account that exists already counts as opened).
bool open_accounts(runtime& bank, std::uint64_t accounts);

/// Runs `lists` (one command list per client) closed loop against `bank`: deposits
/// and withdrawals to the account router, balance queries to the balances read model.
closed_loop_result run_embedded(runtime& bank, const std::vector<std::vector<workload_command>>& lists,
                                std::uint64_t accounts);

/// Runs the same lists against one bare stateful actor per account that adds,
/// subtracts (refusing overdrafts) and answers balances: no store, no projection.
closed_loop_result run_caf_raw(caf::actor_system& system,
                               const std::vector<std::vector<workload_command>>& lists,
                               std::uint64_t accounts);

}  // namespace tally::load
