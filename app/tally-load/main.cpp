// tally-load: the load-test harness. This file only dispatches; every piece of work
// lives in tally_load_core so that it can be tested without the binary.
#include <cstdio>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "app/tally-load/digest.hpp"
#include "app/tally-load/fsync_baseline.hpp"
#include "app/tally-load/options.hpp"
#include "app/tally-load/report.hpp"
#include "app/tally-load/workload.hpp"

namespace {

using namespace tally::load;

// Exit statuses, documented in usage_text().
constexpr int exit_success = 0;
constexpr int exit_failure = 1;
constexpr int exit_usage = 2;

int run_digest(const load_options& options) {
  const std::vector<std::vector<workload_command>> clients = generate_workload(options.workload);
  std::fputs(format_digest_table(options.workload, compute_digest(clients)).c_str(), stdout);
  return exit_success;
}

int run_compare(const load_options& options) {
  const parse_result<nlohmann::json> report_a = read_report_file(options.compare_a_path);
  if (!report_a) {
    std::fprintf(stderr, "tally-load: %s\n", report_a.error().c_str());
    return exit_failure;
  }
  const parse_result<nlohmann::json> report_b = read_report_file(options.compare_b_path);
  if (!report_b) {
    std::fprintf(stderr, "tally-load: %s\n", report_b.error().c_str());
    return exit_failure;
  }
  std::fputs(format_comparison(report_a.value(), report_b.value(), options.compare_a_path,
                               options.compare_b_path)
                 .c_str(),
             stdout);
  return exit_success;
}

int run_fsync_raw(const load_options& options) {
  const parse_result<std::vector<fsync_baseline_result>> results =
      run_fsync_baseline(options.fsync);
  if (!results) {
    std::fprintf(stderr, "tally-load: fsync-raw: %s\n", results.error().c_str());
    return exit_failure;
  }
  std::fputs(format_fsync_baseline(options.fsync, results.value()).c_str(), stdout);
  return exit_success;
}

int run_target(const load_options& options) {
  // The embedded runtime and the HTTP client are wired in separately.
  std::fprintf(stderr, "tally-load: target not yet wired: %s\n", options.target.c_str());
  return exit_usage;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> arguments(argv + 1, argv + argc);
  const parse_result<load_options> options = parse_options(arguments);
  if (!options) {
    std::fprintf(stderr, "tally-load: %s\n", options.error().c_str());
    return exit_usage;
  }
  switch (options.value().command) {
    case load_command::help:
      std::fputs(usage_text().c_str(), stdout);
      return exit_success;
    case load_command::digest:
      return run_digest(options.value());
    case load_command::compare:
      return run_compare(options.value());
    case load_command::fsync_baseline:
      return run_fsync_raw(options.value());
    case load_command::run:
      return run_target(options.value());
  }
  return exit_failure;
}
