// Deterministic simulation of the whole bank: account router and actors, event store
// on the durable file journal, projections with file checkpoints, all on CAF's test
// coordinator (the next job and the next timer are chosen by a seeded generator) over
// the fault-injecting in-memory file system. Simulated clients issue a seeded mix of
// valid and invalid commands while I/O errors, power losses, process kills and clean
// restarts hit the server; afterwards every invariant of ../shared/workload.md is
// checked. One seed decides everything, so a failing seed replays exactly.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tally::simulation {

/// Figures of one or more simulated runs (summed over seeds).
struct simulation_figures {
  std::uint64_t seeds = 0;
  std::uint64_t commands = 0;         ///< commands the clients issued (each to a final answer)
  std::uint64_t attempts = 0;         ///< sends, retries included
  std::uint64_t accepted = 0;         ///< final answers: accepted (first time)
  std::uint64_t queries = 0;          ///< read-your-writes queries after accepted commands
  std::uint64_t duplicates = 0;       ///< accepted replies marked duplicate (retries)
  std::uint64_t rejected = 0;         ///< final answers: a rule refused the command
  std::uint64_t in_doubt = 0;         ///< failures and lost replies, each retried
  std::uint64_t io_faults_injected = 0;
  std::uint64_t store_failures = 0;   ///< fail-stops of the event store
  std::uint64_t projection_failures = 0;
  std::uint64_t power_losses = 0;     ///< unsynced bytes dropped or torn
  std::uint64_t process_kills = 0;    ///< restarts without a power loss
  std::uint64_t clean_restarts = 0;
  std::uint64_t crashes_during_recovery = 0;
  std::uint64_t recovery_actions = 0;  ///< torn tails cut, leftovers removed at open
  std::uint64_t events = 0;           ///< events in the final journals
  std::uint64_t steps = 0;            ///< actor jobs run
  std::uint64_t simulated_ms = 0;     ///< simulated time that passed

  void add(const simulation_figures& other);
  std::string to_string() const;
};

struct simulation_result {
  std::string parameters;               ///< what the seed chose, one line
  std::vector<std::string> violations;  ///< empty: every invariant held
  simulation_figures figures;
};

/// Runs the bank under seed `seed` and checks every invariant at the end.
simulation_result run_bank_simulation(std::uint64_t seed);

}  // namespace tally::simulation
