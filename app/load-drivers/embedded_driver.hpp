// Closed-loop drivers that run the standard workload (../shared/workload.md) inside
// one process: against the embedded Tally runtime, and against bare stateful CAF
// actors (`caf-raw`, the actor-layer ceiling the runtime is measured against). Both
// use the same client actors, command lists and clock, so their ratio is fair.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "app/load-drivers/invariant_audit.hpp"
#include "app/tally-load/progress.hpp"
#include "app/tally-load/run_stats.hpp"
#include "app/tally-load/workload.hpp"
#include "caf/fwd.hpp"

namespace tally {
class runtime;
}

namespace tally::load {

/// What a closed-loop (or open-loop, see open_loop_driver.hpp) run measured.
struct closed_loop_result {
  std::uint64_t commands = 0;  ///< commands that got a reply
  std::uint64_t elapsed_ns = 0;  ///< barrier release until the last reply
  run_stats stats;
  /// The clients' own tally per account: accepted deposits - accepted withdrawals -
  /// completed transfers out + completed transfers in (a failed transfer moves nothing).
  std::vector<std::int64_t> client_tally;
  /// Accepted commands that append an event (deposits and withdrawals).
  std::uint64_t accepted_writes = 0;
  /// What became of the transfers (completed, failed, in doubt).
  transfer_tally transfers;
  /// Highest global position any reply carried (embedded target; 0 for caf-raw).
  std::uint64_t last_position = 0;

  double commands_per_second() const {
    return elapsed_ns == 0 ? 0.0 : static_cast<double>(commands) * 1e9 / static_cast<double>(elapsed_ns);
  }
};

/// Optional controls of a run, for the CLI (progress, --duration). Defaults: none.
struct run_controls {
  /// When set, every reply and its latency is counted here too, so a monitor thread
  /// can draw progress without touching the clients' statistics.
  progress_counters* progress = nullptr;
  /// Clients send no command once this long has passed since the barrier's release;
  /// the commands left unsent are counted as dropped sends.
  std::uint64_t stop_after_ns = UINT64_MAX;
  /// Closed-loop embedded and caf-raw clients only: when false they read no clock per
  /// command and record no latency or per-second series (counts and the run's elapsed
  /// time only), so `tally-load baseline recording-cost` can measure what recording
  /// costs. Nothing else turns it off.
  bool record_latency = true;
};

/// The median of `values` (the mean of the middle two for an even count); 0 when empty.
/// Every A/B comparison reports the median of its pairs.
double median(std::vector<double> values);

/// Prints one line for a run: name, cmd/s, p50/p99/p99.9 latency, rejected and failed.
void print_run_line(const char* name, const closed_loop_result& run);

/// The account id the harness uses for workload account `index` ("acct-<index>").
std::string account_name(std::uint64_t index);

/// Opens accounts 0..accounts-1 (not timed). Returns false if any open failed
/// (an account that exists already counts as opened).
bool open_accounts(runtime& bank, std::uint64_t accounts);

/// Runs `lists` (one command list per client) closed loop against `bank`: deposits
/// and withdrawals to the account router, balance queries to the balances read model,
/// transfers to the transfer process manager (each answered once it completed or
/// failed). Command and transfer ids are unique per run (a random high half per run),
/// so a run against a store that already holds an earlier run's events is not taken
/// for a retry.
closed_loop_result run_embedded(runtime& bank, const std::vector<std::vector<workload_command>>& lists,
                                std::uint64_t accounts, const run_controls& controls = {});

/// Runs the same lists against one bare stateful actor per account that adds,
/// subtracts (refusing overdrafts) and answers balances: no store, no projection.
/// The lists must not hold transfers (caf-raw has none).
closed_loop_result run_caf_raw(caf::actor_system& system,
                               const std::vector<std::vector<workload_command>>& lists,
                               std::uint64_t accounts, const run_controls& controls = {});

/// Names of workload accounts 0..accounts-1 (account_name(i)).
std::vector<std::string> account_names(std::uint64_t accounts);

/// The transfer id of command `index` of client `client` in the run whose ids start
/// with `run_tag`: "tl-<run_tag as 16 hex digits>-<client>-<index>": at most 41 bytes
/// for any client and index below 10^10 (the workload limits keep them far below), so
/// within the 55 a transfer id may have (tally/transfer.hpp).
std::string transfer_id_for(std::uint64_t run_tag, std::uint64_t client, std::uint64_t index);

}  // namespace tally::load
