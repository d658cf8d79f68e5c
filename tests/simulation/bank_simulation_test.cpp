// The bank under deterministic simulation, one run per seed (tests/simulation/
// bank_simulation.hpp says what a run does and checks). Environment:
//   TALLY_SIMULATION_SEEDS=n        how many seeds (default 200): seeds 1..n
//   TALLY_SIMULATION_FIRST_SEED=s   start at seed s instead of 1 (to explore more seeds)
//   TALLY_SIMULATION_SEED=s         run exactly seed s (what a failure prints)
// A failing seed prints the one line that replays it; so does an invariant assertion
// that aborts the process in the middle of a seed.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <unistd.h>

#include "simulation/bank_simulation.hpp"

namespace {

using tally::simulation::run_bank_simulation;
using tally::simulation::simulation_figures;

constexpr std::uint64_t default_seed_count = 200;

std::uint64_t environment_number(const char* name, std::uint64_t fallback) {
  const char* text = std::getenv(name);
  if (text == nullptr || *text == '\0')
    return fallback;
  return std::strtoull(text, nullptr, 10);
}

bool environment_has(const char* name) {
  const char* text = std::getenv(name);
  return text != nullptr && *text != '\0';
}

std::string replay_command(std::uint64_t seed) {
  // TALLY_SIMULATION_BINARY: this binary's path relative to the source tree (set by
  // tests/simulation/CMakeLists.txt), so the line runs as is from the repository root.
  return "TALLY_SIMULATION_SEED=" + std::to_string(seed) + " " TALLY_SIMULATION_BINARY;
}

// What the abort handler prints: written before each seed, so the handler only calls
// write(2) (async-signal-safe) when an invariant assertion aborts mid-seed.
char abort_line[256];
std::size_t abort_line_size = 0;

extern "C" void print_replay_line_and_abort(int signal_number) {
  if (abort_line_size > 0)
    (void)!::write(STDERR_FILENO, abort_line, abort_line_size);
  std::signal(signal_number, SIG_DFL);
  std::raise(signal_number);
}

void prepare_abort_line(std::uint64_t seed) {
  auto line = "\nsimulation seed " + std::to_string(seed) + " aborted; replay with:\n"
              + replay_command(seed) + "\n";
  abort_line_size = std::min(line.size(), sizeof abort_line);
  std::memcpy(abort_line, line.data(), abort_line_size);
}

}  // namespace

TEST(bank_simulation, every_seed_keeps_every_invariant_through_crashes_and_io_errors) {
  std::uint64_t first = environment_number("TALLY_SIMULATION_FIRST_SEED", 1);
  std::uint64_t count = environment_number("TALLY_SIMULATION_SEEDS", default_seed_count);
  if (environment_has("TALLY_SIMULATION_SEED")) {
    first = environment_number("TALLY_SIMULATION_SEED", 0);
    count = 1;
  }
  ASSERT_GE(count, 1u);
  auto previous_handler = std::signal(SIGABRT, print_replay_line_and_abort);
  simulation_figures figures;
  std::uint64_t failed = 0;
  auto started = std::chrono::steady_clock::now();
  for (std::uint64_t seed = first; seed < first + count; ++seed) {
    prepare_abort_line(seed);
    auto result = run_bank_simulation(seed);
    figures.add(result.figures);
    if (result.violations.empty())
      continue;
    ++failed;
    std::string report;
    for (const auto& violation : result.violations)
      report += "\n  " + violation;
    ADD_FAILURE() << "seed " << seed << " (" << result.parameters << ") broke an invariant:"
                  << report << "\nreplay with:\n"
                  << replay_command(seed);
    if (count == 1)
      std::printf("figures: %s\n", result.figures.to_string().c_str());
  }
  abort_line_size = 0;
  std::signal(SIGABRT, previous_handler);
  auto elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::printf("simulation: %llu of %llu seeds failed in %.2f s; %s\n",
              static_cast<unsigned long long>(failed), static_cast<unsigned long long>(count),
              elapsed, figures.to_string().c_str());
  RecordProperty("seeds", std::to_string(count));
  RecordProperty("failed_seeds", std::to_string(failed));
  // The run must exercise what it claims to: faults and crashes actually happened.
  if (count >= 50) {
    EXPECT_GT(figures.store_failures, 0u);
    EXPECT_GT(figures.power_losses, 0u);
    EXPECT_GT(figures.process_kills, 0u);
    EXPECT_GT(figures.clean_restarts, 0u);
    EXPECT_GT(figures.duplicates, 0u);
    EXPECT_GT(figures.in_doubt, 0u);
  }
}
