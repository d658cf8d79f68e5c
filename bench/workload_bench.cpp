// The standard workload (../shared/workload.md) against the embedded runtime on the
// in-memory journal, and beside it, in the same process and actor system, the raw CAF
// baseline: the same clients and accounts against bare stateful actors. Runs the two
// interleaved (A B A B ...) and prints each run, the medians and their ratio.
//
// usage: workload_bench [--accounts N] [--clients C] [--commands T] [--dist uniform|zipf]
//                       [--pairs K] [--threads W] [--seed S] [--only tally|caf-raw]
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "app/load-drivers/embedded_driver.hpp"
#include "tally/runtime.hpp"

using namespace tally;
using namespace tally::load;

namespace {

struct bench_options {
  workload_parameters workload;
  std::uint64_t pairs = 5;
  std::size_t threads = 0;
  std::string only;  ///< "tally" or "caf-raw": run one side (for profiling)
};

[[noreturn]] void usage_error(const std::string& message) {
  std::fprintf(stderr, "workload_bench: %s\n", message.c_str());
  std::exit(2);
}

std::uint64_t parse_number(const char* flag, const char* text) {
  char* end = nullptr;
  errno = 0;
  auto value = std::strtoull(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0')
    usage_error(std::string{"invalid number for "} + flag + ": " + text);
  return value;
}

bench_options parse(int argc, char** argv) {
  bench_options options;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (i + 1 >= argc)
      usage_error("missing value for " + flag);
    const char* value = argv[++i];
    if (flag == "--accounts")
      options.workload.accounts = parse_number(argv[i - 1], value);
    else if (flag == "--clients")
      options.workload.clients = parse_number(argv[i - 1], value);
    else if (flag == "--commands")
      options.workload.commands = parse_number(argv[i - 1], value);
    else if (flag == "--seed")
      options.workload.seed = parse_number(argv[i - 1], value);
    else if (flag == "--pairs")
      options.pairs = parse_number(argv[i - 1], value);
    else if (flag == "--threads")
      options.threads = parse_number(argv[i - 1], value);
    else if (flag == "--only") {
      options.only = value;
      if (options.only != "tally" && options.only != "caf-raw")
        usage_error("--only must be tally or caf-raw");
    } else if (flag == "--dist") {
      auto dist = account_distribution_from_string(value);
      if (!dist)
        usage_error(std::string{"--dist must be uniform or zipf, not "} + value);
      options.workload.distribution = *dist;
    } else
      usage_error("unknown flag " + flag);
  }
  if (auto problem = validate(options.workload))
    usage_error(*problem);
  if (options.pairs < 1)
    usage_error("--pairs must be at least 1");
  return options;
}

}  // namespace

int main(int argc, char** argv) {
  auto options = parse(argc, argv);
  caf::actor_system_config config;
  runtime::configure_private(config, options.threads);
  caf::actor_system system{config};
  auto lists = generate_workload(options.workload);
  std::printf("workload: N=%llu C=%llu T=%llu dist=%s seed=%llu, %zu CAF worker threads, %llu pairs\n",
              static_cast<unsigned long long>(options.workload.accounts),
              static_cast<unsigned long long>(options.workload.clients),
              static_cast<unsigned long long>(options.workload.commands),
              std::string{to_string(options.workload.distribution)}.c_str(),
              static_cast<unsigned long long>(options.workload.seed),
              system.scheduler().num_workers(), static_cast<unsigned long long>(options.pairs));
  std::vector<double> tally_rates;
  std::vector<double> raw_rates;
  std::vector<double> ratios;
  for (std::uint64_t pair = 1; pair <= options.pairs; ++pair) {
    std::printf("pair %llu\n", static_cast<unsigned long long>(pair));
    closed_loop_result raw;
    if (options.only != "tally") {
      raw = run_caf_raw(system, lists, options.workload.accounts);
      print_run_line("caf-raw", raw);
    }
    if (options.only == "caf-raw")
      continue;
    auto started = runtime::start(system);
    if (!started)
      usage_error("runtime failed to start: " + started.error().to_string());
    auto& bank = **started;
    if (!open_accounts(bank, options.workload.accounts))
      usage_error("opening the accounts failed");
    auto before = *bank.store_health();
    auto run = run_embedded(bank, lists, options.workload.accounts);
    print_run_line("tally-mem", run);
    auto after = *bank.store_health();
    auto batches = after.batches_committed - before.batches_committed;
    std::printf("            store: %llu batches, %.1f events/batch (p50 <=%llu, max %llu)\n",
                static_cast<unsigned long long>(batches),
                batches == 0 ? 0.0
                             : static_cast<double>(after.events_committed - before.events_committed)
                                 / static_cast<double>(batches),
                static_cast<unsigned long long>(after.batch_events.quantile(0.5)),
                static_cast<unsigned long long>(after.batch_events.max()));
    if (auto stopped = bank.shutdown(); !stopped.is_ok())
      usage_error("shutdown failed: " + stopped.to_string());
    tally_rates.push_back(run.commands_per_second());
    raw_rates.push_back(raw.commands_per_second());
    if (options.only.empty())
      ratios.push_back(run.commands_per_second() / raw.commands_per_second());
  }
  if (options.only.empty())
    std::printf("median: tally-mem %.0f cmd/s, caf-raw %.0f cmd/s, ratio (median of pairs) %.3f\n",
                median(tally_rates), median(raw_rates), median(ratios));
  return 0;
}
