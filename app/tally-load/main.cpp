// tally-load: the load-test harness. This file dispatches and wires the targets
// together; the work itself lives in tally_load_core (workload, statistics, reports)
// and tally_load_drivers (the in-process drivers and the invariant audit), so that it
// can be tested without the binary.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "app/load-drivers/bank_driver.hpp"
#include "app/load-drivers/embedded_driver.hpp"
#include "app/load-drivers/http_driver.hpp"
#include "app/load-drivers/invariant_audit.hpp"
#include "app/load-drivers/open_loop_driver.hpp"
#include "app/tally-load/bank_check.hpp"
#include "app/tally-load/digest.hpp"
#include "app/tally-load/fsync_baseline.hpp"
#include "app/tally-load/options.hpp"
#include "app/tally-load/plots.hpp"
#include "app/tally-load/progress.hpp"
#include "app/tally-load/report.hpp"
#include "app/tally-load/workload.hpp"
#include "tally/file_journal.hpp"
#include "tally/file_system.hpp"
#include "tally/runtime.hpp"

namespace {

using namespace tally::load;

// Exit statuses, documented in usage_text().
constexpr int exit_success = 0;
constexpr int exit_failure = 1;
constexpr int exit_usage = 2;

// How long the cold read waits for a shut-down runtime's journal to release its
// directory lock (the journal's destructor may still be running on an actor's thread).
constexpr std::chrono::milliseconds journal_release_wait{std::chrono::seconds{10}};

// --vs fsync-raw measures each batch size this long: the disk's ceiling shows within a
// fraction of a second, and five or more pairs must stay affordable.
constexpr double fsync_pair_duration_per_batch_size_s = 0.5;

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

// The live progress line, drawn by a monitor thread from counters the clients bump.
// Without a terminal (or with --no-progress) there is no thread and no counters.
class progress_monitor {
public:
  progress_monitor(progress_mode mode, std::uint64_t total) : reporter_(mode), total_(total) {}
  progress_monitor(const progress_monitor&) = delete;
  progress_monitor& operator=(const progress_monitor&) = delete;
  ~progress_monitor() { stop(); }

  /// Controls for the driver: the counters when progress is shown, else none.
  run_controls controls(std::optional<double> duration_s) {
    run_controls controls;
    if (reporter_.enabled()) {
      controls.progress = &counters_;
    }
    if (duration_s) {
      controls.stop_after_ns = static_cast<std::uint64_t>(*duration_s * 1e9);
    }
    return controls;
  }

  void start() {
    if (!reporter_.enabled()) {
      return;
    }
    started_ = std::chrono::steady_clock::now();
    running_ = true;
    thread_ = std::thread([this] {
      while (running_.load()) {
        reporter_.update(snapshot());
        std::this_thread::sleep_for(std::chrono::milliseconds{100});
      }
    });
  }

  void stop() {
    if (!thread_.joinable()) {
      return;
    }
    running_ = false;
    thread_.join();
    reporter_.finish(snapshot());
  }

private:
  progress_snapshot snapshot() const {
    progress_snapshot snapshot;
    snapshot.completed = counters_.completed();
    snapshot.latency_ns_p99 = counters_.latency_ns_percentile(99.0);
    snapshot.total = total_;
    snapshot.elapsed_ns = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() -
                                                             started_)
            .count());
    return snapshot;
  }

  progress_reporter reporter_;
  std::uint64_t total_;
  progress_counters counters_;
  std::atomic<bool> running_{false};
  std::chrono::steady_clock::time_point started_;
  std::thread thread_;
};

// What one audited run against a fresh embedded runtime produced.
struct audited_run {
  closed_loop_result run;
  audit_result audit;                 ///< invariants 1-3
  std::vector<std::string> failures;  ///< every failed invariant (1-4) and shutdown problem
};

// Checks a data directory before a run: missing (the journal creates it) or empty,
// or anything with --reuse-data-dir. Returns the problem.
std::optional<std::string> check_data_directory(const std::string& directory, bool reuse) {
  std::error_code error;
  if (!std::filesystem::exists(directory, error)) {
    return std::nullopt;
  }
  if (!std::filesystem::is_directory(directory, error)) {
    return "--data-dir " + directory + " is not a directory";
  }
  if (!reuse && !std::filesystem::is_empty(directory, error)) {
    return "--data-dir " + directory +
           " is not empty (pass --reuse-data-dir to run against the journal in it)";
  }
  return std::nullopt;
}

// Starts a runtime on `data_directory`'s journal (or memory), opens the accounts
// (untimed), takes the audit baseline, runs the workload closed or open loop, audits
// invariants 1-3, shuts down and, for a durable journal, audits invariant 4. Returns an
// error message when the run could not happen at all.
parse_result<audited_run> run_embedded_once(caf::actor_system& system, const load_options& options,
                                            const std::vector<std::vector<workload_command>>& lists,
                                            const std::optional<std::string>& data_directory) {
  using outcome = parse_result<audited_run>;
  tally::runtime_config config;
  if (data_directory) {
    tally::file_journal_options journal_options;
    journal_options.directory = *data_directory;
    auto journal = tally::open_file_journal(tally::posix_file_system(), journal_options);
    if (!journal) {
      return outcome::failure("opening the journal in " + *data_directory +
                              " failed: " + journal.error().to_string());
    }
    config.events = std::shared_ptr<tally::journal>(std::move(*journal));
  }
  auto started = tally::runtime::start(system, std::move(config));
  if (!started) {
    return outcome::failure("the runtime failed to start: " + started.error().to_string());
  }
  tally::runtime& bank = **started;
  const std::uint64_t accounts = options.workload.accounts;
  if (!tally::load::open_accounts(bank, accounts)) {
    return outcome::failure("opening the accounts failed");
  }
  runtime_audit_source source{bank};
  audit_expectations expected;
  expected.account_names = account_names(accounts);
  auto baseline = take_audit_baseline(source, expected.account_names);
  if (!baseline) {
    return outcome::failure("reading the store before the run failed: " +
                            baseline.error().to_string());
  }
  expected.baseline = std::move(*baseline);

  audited_run out;
  {
    progress_monitor progress{options.progress, options.workload.commands};
    run_controls controls = progress.controls(options.duration_s);
    controls.record_latency = options.record_latency;
    progress.start();
    if (options.rate_per_s) {
      open_loop_config open;
      open.rate_per_s = *options.rate_per_s;
      open.in_flight_max_per_client = options.in_flight_per_client;
      open.controls = controls;
      out.run = run_embedded_open_loop(bank, lists, accounts, open);
    } else {
      out.run = run_embedded(bank, lists, accounts, controls);
    }
  }
  expected.client_tally = out.run.client_tally;
  expected.accepted_writes = out.run.accepted_writes;
  expected.transfers = out.run.transfers;
  out.audit = audit_invariants(source, expected);
  out.failures = out.audit.failures;
  if (const tally::status stopped = bank.shutdown(); !stopped.is_ok()) {
    out.failures.push_back("shutdown failed: " + stopped.to_string());
  }
  started->reset();
  if (data_directory) {
    // The store's actors let go of the journal (and its directory lock) as they
    // terminate, which shutdown() does not wait for; the cold read needs the lock.
    if (!wait_for_directory_unlocked(*data_directory, journal_release_wait)) {
      out.failures.push_back("invariant 4: the journal in " + *data_directory +
                             " was still locked " + std::to_string(journal_release_wait.count()) +
                             " ms after shutdown");
    }
    for (std::string& failure : audit_durable_directory(*data_directory, expected, out.audit)) {
      out.failures.push_back(std::move(failure));
    }
  }
  return outcome::success(std::move(out));
}

// The harness's view of its transfers for the report, when the mix has any.
std::optional<transfer_outcomes> report_transfers(const load_options& options,
                                                  const transfer_tally& transfers) {
  if (options.workload.mix.percent[index_of(operation::transfer)] == 0) {
    return std::nullopt;
  }
  return transfer_outcomes{transfers.completed, transfers.failed, transfers.in_doubt};
}

// What the audit checked, for the JSON report.
nlohmann::json audit_json(const audit_result& audit) {
  const run_event_counts& events = audit.run_events;
  return {{"head_position", audit.head},
          {"accounts_checked", audit.accounts_checked},
          {"money_in_flight", audit.money_in_flight},
          {"transfers_in_progress", audit.transfers_in_progress},
          {"run_events",
           {{"deposits_and_withdrawals", events.deposits_and_withdrawals},
            {"transfer_debits", events.debits},
            {"transfer_credits", events.credits},
            {"transfer_refunds", events.refunds},
            {"transfer_settlements", events.settles},
            {"transfers_requested", events.requested},
            {"transfers_completed", events.completed},
            {"transfers_failed", events.failed}}},
          {"elapsed_s", audit.elapsed_s}};
}

run_report make_report(const load_options& options, std::string target, std::string journal) {
  run_report report;
  report.configuration.target = std::move(target);
  report.configuration.journal = std::move(journal);
  report.configuration.workload = options.workload;
  report.configuration.rate_per_s = options.rate_per_s;
  report.configuration.duration_s = options.duration_s;
  report.machine = collect_machine_info();
  return report;
}

// Writes the JSON report and the plots (as asked) and prints the summary. Returns
// false when a file could not be written.
bool publish(const load_options& options, const run_report& report, const run_stats& stats,
             nlohmann::json extra) {
  bool ok = true;
  std::fputs(format_summary(report, stats).c_str(), stdout);
  if (options.json_path) {
    nlohmann::json document = make_report_json(report, stats);
    for (auto& [key, value] : extra.items()) {
      document[key] = value;
    }
    if (const std::optional<std::string> error = write_report_file(*options.json_path, document)) {
      std::fprintf(stderr, "tally-load: %s\n", error->c_str());
      ok = false;
    } else {
      std::printf("report: %s\n", options.json_path->c_str());
    }
  }
  if (options.plots_directory) {
    const std::string title = report.configuration.target + " " +
                              std::string{to_string(report.configuration.workload.distribution)} +
                              " N=" + std::to_string(report.configuration.workload.accounts) +
                              " C=" + std::to_string(report.configuration.workload.clients) +
                              " T=" + std::to_string(report.configuration.workload.commands);
    const parse_result<std::vector<std::string>> written =
        write_plots(*options.plots_directory, stats, title);
    if (!written) {
      std::fprintf(stderr, "tally-load: %s\n", written.error().c_str());
      ok = false;
    } else {
      for (const std::string& path : written.value()) {
        std::printf("plot: %s\n", path.c_str());
      }
    }
  }
  std::fflush(stdout);
  return ok;
}

// One baseline run for --vs: its throughput, or an error.
parse_result<double> run_baseline_once(caf::actor_system& system, const load_options& options,
                                       const std::vector<std::vector<workload_command>>& lists) {
  if (options.versus == baseline_kind::caf_raw) {
    const closed_loop_result raw = run_caf_raw(system, lists, options.workload.accounts);
    return parse_result<double>::success(raw.commands_per_second());
  }
  fsync_baseline_config fsync = options.fsync;
  fsync.directory = *options.data_dir;
  fsync.duration_per_batch_size_s = fsync_pair_duration_per_batch_size_s;
  const parse_result<std::vector<fsync_baseline_result>> results = run_fsync_baseline(fsync);
  if (!results) {
    return parse_result<double>::failure("fsync-raw: " + results.error());
  }
  double best = 0.0;
  for (const fsync_baseline_result& result : results.value()) {
    best = std::max(best, result.events_per_s);
  }
  return parse_result<double>::success(best);
}

int run_embedded_target(const load_options& options) {
  if (options.data_dir) {
    if (const auto problem = check_data_directory(*options.data_dir, options.reuse_data_dir)) {
      std::fprintf(stderr, "tally-load: %s\n", problem->c_str());
      return exit_usage;
    }
  }
  caf::actor_system_config system_config;
  tally::runtime::configure_private(system_config);
  caf::actor_system system{system_config};
  // Generated before anything is timed, once for every run of this invocation.
  const std::vector<std::vector<workload_command>> lists = generate_workload(options.workload);
  const std::string journal =
      options.data_dir ? "durable (" + *options.data_dir + ")" : std::string{"memory"};
  run_report report = make_report(options, "embedded", journal);
  nlohmann::json extra = nlohmann::json::object();

  std::optional<audited_run> last;
  std::vector<std::string> failures;
  if (!options.versus) {
    parse_result<audited_run> run = run_embedded_once(system, options, lists, options.data_dir);
    if (!run) {
      std::fprintf(stderr, "tally-load: %s\n", run.error().c_str());
      return exit_failure;
    }
    last = std::move(run).value();
    failures = last->failures;
  } else {
    if (options.data_dir) {
      std::error_code error;
      std::filesystem::create_directories(*options.data_dir, error);
      if (error) {
        std::fprintf(stderr, "tally-load: cannot create %s: %s\n", options.data_dir->c_str(),
                     error.message().c_str());
        return exit_failure;
      }
    }
    const std::string kind{to_string(*options.versus)};
    std::vector<double> tally_rates;
    std::vector<double> baseline_rates;
    std::vector<double> ratios;
    nlohmann::json pairs = nlohmann::json::array();
    for (std::uint32_t pair = 1; pair <= options.pairs; ++pair) {
      const parse_result<double> baseline = run_baseline_once(system, options, lists);
      if (!baseline) {
        std::fprintf(stderr, "tally-load: %s\n", baseline.error().c_str());
        return exit_failure;
      }
      std::optional<std::string> directory;
      if (options.data_dir) {
        directory = *options.data_dir + "/run-" + std::to_string(pair);
      }
      parse_result<audited_run> run = run_embedded_once(system, options, lists, directory);
      if (!run) {
        std::fprintf(stderr, "tally-load: %s\n", run.error().c_str());
        return exit_failure;
      }
      last = std::move(run).value();
      for (const std::string& failure : last->failures) {
        failures.push_back("run " + std::to_string(pair) + ": " + failure);
      }
      const double tally_rate = last->run.commands_per_second();
      const double ratio = baseline.value() > 0.0 ? tally_rate / baseline.value() : 0.0;
      tally_rates.push_back(tally_rate);
      baseline_rates.push_back(baseline.value());
      ratios.push_back(ratio);
      pairs.push_back({{"baseline_per_s", baseline.value()},
                       {"throughput_cmd_per_s", tally_rate},
                       {"ratio", ratio},
                       {"invariants_ok", last->failures.empty()}});
      std::printf("pair %u: %s %.0f /s, tally %.0f cmd/s, ratio %.3f%s\n", pair, kind.c_str(),
                  baseline.value(), tally_rate, ratio,
                  last->failures.empty() ? "" : " (invariants FAILED)");
      std::fflush(stdout);
    }
    report.baseline_kind = kind;
    report.baseline_per_s = median(baseline_rates);
    report.ratio_median = median(ratios);
    extra["pairs"] = std::move(pairs);
    extra["throughput_cmd_per_s_median"] = median(tally_rates);
  }
  report.elapsed_ns = last->run.elapsed_ns;
  report.invariants_ok = failures.empty();
  report.invariant_failures = failures;
  extra["dropped_sends"] = last->run.stats.dropped_sends();
  report.transfers = report_transfers(options, last->run.transfers);
  extra["audit"] = audit_json(last->audit);
  const bool published = publish(options, report, last->run.stats, std::move(extra));
  if (!report.invariants_ok || !published) {
    return exit_failure;
  }
  return exit_success;
}

int run_caf_raw_baseline(const load_options& options) {
  caf::actor_system_config system_config;
  tally::runtime::configure_private(system_config);
  caf::actor_system system{system_config};
  const std::vector<std::vector<workload_command>> lists = generate_workload(options.workload);
  closed_loop_result raw;
  {
    progress_monitor progress{options.progress, options.workload.commands};
    const run_controls controls = progress.controls(std::nullopt);
    progress.start();
    raw = run_caf_raw(system, lists, options.workload.accounts, controls);
  }
  run_report report = make_report(options, "caf-raw", "none");
  report.elapsed_ns = raw.elapsed_ns;
  // Bare actors keep no log and no read model: the only view is the clients' tally.
  report.invariants_ok = true;
  nlohmann::json extra = {{"audit", {{"performed", false}}}};
  return publish(options, report, raw.stats, std::move(extra)) ? exit_success : exit_failure;
}

// baseline recording-cost: the closed loop with latency recording off and on,
// alternating (A B B A ...), against caf-raw (the fastest target, so the largest relative cost) and
// against the embedded in-memory runtime (audited). The cost is 1 - median(on / off).
int run_recording_cost(const load_options& given) {
  load_options options = given;
  options.progress = progress_mode::off;  // the progress counters would be a cost too
  caf::actor_system_config system_config;
  tally::runtime::configure_private(system_config);
  caf::actor_system system{system_config};
  const std::vector<std::vector<workload_command>> lists = generate_workload(options.workload);
  nlohmann::json document = {{"command", "baseline recording-cost"},
                             {"workload",
                              {{"accounts", options.workload.accounts},
                               {"clients", options.workload.clients},
                               {"commands", options.workload.commands},
                               {"seed", options.workload.seed},
                               {"dist", to_string(options.workload.distribution)}}},
                             {"machine", machine_info_json(collect_machine_info())}};
  std::vector<std::string> failures;
  for (const std::string target : {"caf-raw", "embedded"}) {
    std::vector<double> ratios;
    nlohmann::json pairs = nlohmann::json::array();
    for (std::uint32_t pair = 1; pair <= options.pairs; ++pair) {
      double rates[2] = {0.0, 0.0};  // [0] off, [1] on
      // Off first in odd pairs, on first in even ones (A B B A ...), so that a drift
      // of the machine over the run does not favour either side.
      const bool off_first = pair % 2 == 1;
      for (const bool record : {!off_first, off_first}) {
        double rate = 0.0;
        if (target == "caf-raw") {
          run_controls controls;
          controls.record_latency = record;
          rate = run_caf_raw(system, lists, options.workload.accounts, controls)
                     .commands_per_second();
        } else {
          options.record_latency = record;
          parse_result<audited_run> run = run_embedded_once(system, options, lists, std::nullopt);
          if (!run) {
            std::fprintf(stderr, "tally-load: %s\n", run.error().c_str());
            return exit_failure;
          }
          for (const std::string& failure : run.value().failures) {
            failures.push_back("embedded pair " + std::to_string(pair) + ": " + failure);
          }
          rate = run.value().run.commands_per_second();
        }
        rates[record ? 1 : 0] = rate;
      }
      const double ratio = rates[0] > 0.0 ? rates[1] / rates[0] : 0.0;
      ratios.push_back(ratio);
      pairs.push_back({{"off_cmd_per_s", rates[0]}, {"on_cmd_per_s", rates[1]}, {"ratio", ratio}});
      std::printf("%s pair %u: recording off %.0f cmd/s, on %.0f cmd/s, ratio %.3f\n",
                  target.c_str(), pair, rates[0], rates[1], ratio);
      std::fflush(stdout);
    }
    const double ratio_median = median(ratios);
    std::printf("%s: median ratio on/off %.3f, recording cost %.1f %%\n", target.c_str(),
                ratio_median, (1.0 - ratio_median) * 100.0);
    document[target] = {{"ratio_median", ratio_median},
                        {"cost_percent", (1.0 - ratio_median) * 100.0},
                        {"pairs", std::move(pairs)}};
  }
  document["invariants_ok"] = failures.empty();
  document["invariant_failures"] = failures;
  for (const std::string& failure : failures) {
    std::fprintf(stderr, "tally-load: %s\n", failure.c_str());
  }
  if (options.json_path) {
    if (const std::optional<std::string> error = write_report_file(*options.json_path, document)) {
      std::fprintf(stderr, "tally-load: %s\n", error->c_str());
      return exit_failure;
    }
    std::printf("report: %s\n", options.json_path->c_str());
  }
  return failures.empty() ? exit_success : exit_failure;
}

// Opening accounts over HTTP uses at most this many connections at once.
constexpr std::uint64_t http_open_connections_max = 64;

int run_http_target(const load_options& options) {
  if (options.versus) {
    std::fprintf(stderr, "tally-load: --vs runs only with --target embedded (the baselines "
                         "run in process)\n");
    return exit_usage;
  }
  http_target target;
  target.host = options.http_host;
  target.port = options.http_port;
  if (options.token_file) {
    const parse_result<std::string> token = read_token_file(*options.token_file);
    if (!token) {
      std::fprintf(stderr, "tally-load: %s\n", token.error().c_str());
      return exit_usage;
    }
    target.token = token.value();
  }
  if (const parse_result<std::uint64_t> probed = probe_http_target(target); !probed) {
    std::fprintf(stderr, "tally-load: target %s: %s\n", options.target.c_str(),
                 probed.error().c_str());
    return exit_failure;
  }
  const std::vector<std::vector<workload_command>> lists = generate_workload(options.workload);
  const std::uint64_t accounts = options.workload.accounts;
  if (const auto problem = http_open_accounts(
          target, accounts, std::min(options.workload.clients, http_open_connections_max))) {
    std::fprintf(stderr, "tally-load: target %s: %s\n", options.target.c_str(), problem->c_str());
    return exit_failure;
  }
  http_audit_source source{target};
  audit_expectations expected;
  expected.account_names = account_names(accounts);
  auto baseline = take_audit_baseline(source, expected.account_names);
  if (!baseline) {
    std::fprintf(stderr, "tally-load: reading the accounts before the run failed: %s\n",
                 baseline.error().to_string().c_str());
    return exit_failure;
  }
  expected.baseline = std::move(*baseline);
  closed_loop_result run;
  {
    progress_monitor progress{options.progress, options.workload.commands};
    const run_controls controls = progress.controls(options.duration_s);
    progress.start();
    run = run_http(target, lists, accounts, options.rate_per_s, controls);
  }
  expected.client_tally = run.client_tally;
  expected.accepted_writes = run.accepted_writes;
  expected.transfers = run.transfers;
  const audit_result audit = audit_invariants(source, expected);
  run_report report = make_report(options, options.target, "remote");
  report.elapsed_ns = run.elapsed_ns;
  report.invariants_ok = audit.ok();
  report.invariant_failures = audit.failures;
  nlohmann::json extra = nlohmann::json::object();
  extra["dropped_sends"] = run.stats.dropped_sends();
  report.transfers = report_transfers(options, run.transfers);
  extra["audit"] = audit_json(audit);
  const bool published = publish(options, report, run.stats, std::move(extra));
  if (run.stats.failed_total() > 0 && run.stats.failed_total() == run.stats.completed_total()) {
    std::fprintf(stderr, "tally-load: every command failed: target %s unreachable?\n",
                 options.target.c_str());
    return exit_failure;
  }
  return audit.ok() && published ? exit_success : exit_failure;
}

// -- bank mode ----------------------------------------------------------------------------

std::string format_percentiles_us(const latency_histogram& histogram) {
  char text[160];
  std::snprintf(text, sizeof(text), "p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f us",
                static_cast<double>(histogram.percentile_ns(50)) / 1e3,
                static_cast<double>(histogram.percentile_ns(90)) / 1e3,
                static_cast<double>(histogram.percentile_ns(99)) / 1e3,
                static_cast<double>(histogram.percentile_ns(99.9)) / 1e3,
                static_cast<double>(histogram.max_ns()) / 1e3);
  return text;
}

nlohmann::json latency_percentiles_json(const latency_histogram& histogram) {
  return {{"count", histogram.count()},
          {"p50", static_cast<double>(histogram.percentile_ns(50)) / 1e3},
          {"p90", static_cast<double>(histogram.percentile_ns(90)) / 1e3},
          {"p99", static_cast<double>(histogram.percentile_ns(99)) / 1e3},
          {"p999", static_cast<double>(histogram.percentile_ns(99.9)) / 1e3},
          {"max", static_cast<double>(histogram.max_ns()) / 1e3}};
}

std::string format_reasons(const std::vector<std::pair<std::string, std::uint64_t>>& reasons) {
  std::string text;
  for (const auto& [reason, count] : reasons) {
    text += (text.empty() ? "" : ", ") + reason + " " + std::to_string(count);
  }
  return text;
}

nlohmann::json reasons_json(const std::vector<std::pair<std::string, std::uint64_t>>& reasons) {
  nlohmann::json document = nlohmann::json::object();
  for (const auto& [reason, count] : reasons) {
    document[reason] = count;
  }
  return document;
}

// Everything a bank run found, for the summary and the JSON report.
struct bank_outcome {
  bank_setup setup;
  bank_run_result run;
  audit_result audit;
  std::vector<std::string> audit_failures;  ///< invariants 1-5 and shutdown problems
};

bool bank_passed(const bank_outcome& outcome, const bank_parameters& parameters) {
  // A run that checked no read proved nothing about reads (unless none were asked for).
  const bool reads_ok = parameters.read_percent == 0 || outcome.run.checker.reads_checked() > 0;
  return outcome.run.ok() && outcome.audit_failures.empty() && reads_ok;
}

std::string format_bank_summary(const load_options& options, const std::string& journal,
                                const bank_outcome& outcome) {
  const bank_parameters& parameters = options.bank;
  const bank_run_result& run = outcome.run;
  const double elapsed_s = static_cast<double>(run.elapsed_ns) / 1e9;
  const double per_s = elapsed_s > 0 ? static_cast<double>(run.transfers_sent) / elapsed_s : 0.0;
  char line[256];
  std::string text = "tally-load bank: target=" + options.target + " journal=" + journal +
                     " accounts=" + std::to_string(parameters.accounts) +
                     " total=" + std::to_string(parameters.total) +
                     " clients=" + std::to_string(parameters.clients) +
                     " transfers=" + std::to_string(parameters.transfers) +
                     " read-percent=" + std::to_string(parameters.read_percent) +
                     " seed=" + std::to_string(parameters.seed) + "\n";
  std::snprintf(line, sizeof(line), "transfers: %llu in %.3f s (%.0f /s): completed %llu, failed %llu",
                static_cast<unsigned long long>(run.transfers_sent), elapsed_s, per_s,
                static_cast<unsigned long long>(run.transfers.completed),
                static_cast<unsigned long long>(run.transfers.failed));
  text += line;
  if (!run.failed_by_reason.empty()) {
    text += " (" + format_reasons(run.failed_by_reason) + ")";
  }
  text += ", rejected " + std::to_string(run.transfers_rejected);
  if (!run.rejected_by_reason.empty()) {
    text += " (" + format_reasons(run.rejected_by_reason) + ")";
  }
  text += ", in doubt " + std::to_string(run.transfers.in_doubt);
  if (run.resolved_after_run > 0) {
    text += " (" + std::to_string(run.resolved_after_run) + " resolved after the run)";
  }
  text += "\n";
  std::snprintf(line, sizeof(line),
                "reads: %llu checked (%.0f /s; each the totals and %llu balances at P), failed %llu\n",
                static_cast<unsigned long long>(run.checker.reads_checked()),
                elapsed_s > 0 ? static_cast<double>(run.checker.reads_checked()) / elapsed_s : 0.0,
                static_cast<unsigned long long>(parameters.accounts),
                static_cast<unsigned long long>(run.reads_failed));
  text += line;
  if (!run.errors_by_reason.empty()) {
    text += "errors: " + format_reasons(run.errors_by_reason) + "\n";
  }
  text += "latency transfer: " + format_percentiles_us(run.transfer_latency) + "\n";
  if (run.read_latency.count() > 0) {
    text += "latency read:     " + format_percentiles_us(run.read_latency) + "\n";
  }
  text += format_violations(run.checker);
  if (run.final_failures.empty()) {
    text += "at rest: ok (T in balances matching the harness's tally, nothing in flight)\n";
  } else {
    text += "at rest: FAILED\n";
    for (const std::string& failure : run.final_failures) {
      text += "  " + failure + "\n";
    }
  }
  if (outcome.audit_failures.empty()) {
    text += "invariants: ok\n";
  } else {
    text += "invariants: FAILED (" + std::to_string(outcome.audit_failures.size()) + ")\n";
    for (const std::string& failure : outcome.audit_failures) {
      text += "  " + failure + "\n";
    }
  }
  if (parameters.read_percent > 0 && run.checker.reads_checked() == 0) {
    text += "no read was checked: the run shows nothing about reads\n";
  }
  text += bank_passed(outcome, parameters) ? "bank: ok\n" : "bank: FAILED\n";
  return text;
}

nlohmann::json bank_report_json(const load_options& options, const std::string& journal,
                                const bank_outcome& outcome) {
  const bank_parameters& parameters = options.bank;
  const bank_run_result& run = outcome.run;
  const machine_info machine = collect_machine_info();
  const double elapsed_s = static_cast<double>(run.elapsed_ns) / 1e9;
  nlohmann::json config = {{"target", options.target},
                           {"journal", journal},
                           {"accounts", parameters.accounts},
                           {"total", parameters.total},
                           {"clients", parameters.clients},
                           {"transfers", parameters.transfers},
                           {"read_percent", parameters.read_percent},
                           {"seed", parameters.seed}};
  if (options.duration_s) {
    config["duration_s"] = *options.duration_s;
  }
  return {{"schema_version", 1},
          {"tool", "tally-load"},
          {"mode", "bank"},
          {"config", std::move(config)},
          {"machine",
           {{"cores", machine.cores},
            {"cpu_model", machine.cpu_model},
            {"os", machine.os},
            {"kernel", machine.kernel},
            {"architecture", machine.architecture},
            {"hostname", machine.hostname}}},
          {"elapsed_s", elapsed_s},
          {"expected_total", outcome.setup.expected_total},
          {"total_before_setup", outcome.setup.total_before},
          {"transfers",
           {{"sent", run.transfers_sent},
            {"completed", run.transfers.completed},
            {"failed", run.transfers.failed},
            {"failed_by_reason", reasons_json(run.failed_by_reason)},
            {"rejected", run.transfers_rejected},
            {"rejected_by_reason", reasons_json(run.rejected_by_reason)},
            {"in_doubt", run.transfers.in_doubt},
            {"resolved_after_run", run.resolved_after_run},
            {"per_s", elapsed_s > 0 ? static_cast<double>(run.transfers_sent) / elapsed_s : 0.0}}},
          {"reads",
           {{"checked", run.checker.reads_checked()},
            {"failed", run.reads_failed},
            {"balances_read", run.balances_read},
            {"per_s", elapsed_s > 0 ? static_cast<double>(run.checker.reads_checked()) / elapsed_s
                                    : 0.0}}},
          {"errors_by_reason", reasons_json(run.errors_by_reason)},
          {"latency_us",
           {{"transfer", latency_percentiles_json(run.transfer_latency)},
            {"read", latency_percentiles_json(run.read_latency)}}},
          {"violations", violations_json(run.checker)},
          {"at_rest_failures", run.final_failures},
          {"invariants_ok", outcome.audit_failures.empty()},
          {"invariant_failures", outcome.audit_failures},
          {"audit", audit_json(outcome.audit)},
          {"ok", bank_passed(outcome, options.bank)}};
}

// The bank run against `target`, audited through `source`: setup, baseline, clients,
// the check at rest and the invariant audit. Returns an error when the run could not
// happen at all.
parse_result<bank_outcome> run_bank_on(const load_options& options, bank_target& target,
                                       audit_source& source) {
  using result_type = parse_result<bank_outcome>;
  parse_result<bank_setup> setup = setup_bank(target, options.bank);
  if (!setup) {
    return result_type::failure("bank setup: " + setup.error());
  }
  bank_outcome outcome;
  outcome.setup = std::move(setup).value();
  audit_expectations expected;
  expected.account_names = outcome.setup.account_names;
  auto baseline = take_audit_baseline(source, expected.account_names);
  if (!baseline) {
    return result_type::failure("reading the store before the run failed: " +
                                baseline.error().to_string());
  }
  expected.baseline = std::move(*baseline);
  {
    progress_monitor progress{options.progress, options.bank.transfers};
    const run_controls controls = progress.controls(options.duration_s);
    progress.start();
    outcome.run = run_bank_clients(target, options.bank, outcome.setup, controls);
  }
  final_check_at_rest(target, options.bank, outcome.setup, outcome.run);
  expected.client_tally = outcome.run.client_tally;
  expected.transfers = outcome.run.transfers;
  outcome.audit = audit_invariants(source, expected);
  outcome.audit_failures = outcome.audit.failures;
  return result_type::success(std::move(outcome));
}

int finish_bank(const load_options& options, const std::string& journal,
                const bank_outcome& outcome) {
  std::fputs(format_bank_summary(options, journal, outcome).c_str(), stdout);
  bool written = true;
  if (options.json_path) {
    if (const std::optional<std::string> error =
            write_report_file(*options.json_path, bank_report_json(options, journal, outcome))) {
      std::fprintf(stderr, "tally-load: %s\n", error->c_str());
      written = false;
    } else {
      std::printf("report: %s\n", options.json_path->c_str());
    }
  }
  std::fflush(stdout);
  return bank_passed(outcome, options.bank) && written ? exit_success : exit_failure;
}

int run_bank_mode(const load_options& options) {
  if (!options.is_embedded()) {
    http_target target;
    target.host = options.http_host;
    target.port = options.http_port;
    if (options.token_file) {
      const parse_result<std::string> token = read_token_file(*options.token_file);
      if (!token) {
        std::fprintf(stderr, "tally-load: %s\n", token.error().c_str());
        return exit_usage;
      }
      target.token = token.value();
    }
    if (const parse_result<std::uint64_t> probed = probe_http_target(target); !probed) {
      std::fprintf(stderr, "tally-load: target %s: %s\n", options.target.c_str(),
                   probed.error().c_str());
      return exit_failure;
    }
    const std::unique_ptr<bank_target> bank = make_http_bank_target(target);
    http_audit_source source{target};
    parse_result<bank_outcome> outcome = run_bank_on(options, *bank, source);
    if (!outcome) {
      std::fprintf(stderr, "tally-load: target %s: %s\n", options.target.c_str(),
                   outcome.error().c_str());
      return exit_failure;
    }
    return finish_bank(options, "remote", outcome.value());
  }

  if (options.data_dir) {
    if (const auto problem = check_data_directory(*options.data_dir, false)) {
      std::fprintf(stderr, "tally-load: %s\n", problem->c_str());
      return exit_usage;
    }
  }
  caf::actor_system_config system_config;
  tally::runtime::configure_private(system_config);
  caf::actor_system system{system_config};
  tally::runtime_config config;
  if (options.data_dir) {
    tally::file_journal_options journal_options;
    journal_options.directory = *options.data_dir;
    auto journal = tally::open_file_journal(tally::posix_file_system(), journal_options);
    if (!journal) {
      std::fprintf(stderr, "tally-load: opening the journal in %s failed: %s\n",
                   options.data_dir->c_str(), journal.error().to_string().c_str());
      return exit_failure;
    }
    config.events = std::shared_ptr<tally::journal>(std::move(*journal));
  }
  auto started = tally::runtime::start(system, std::move(config));
  if (!started) {
    std::fprintf(stderr, "tally-load: the runtime failed to start: %s\n",
                 started.error().to_string().c_str());
    return exit_failure;
  }
  const std::string journal =
      options.data_dir ? "durable (" + *options.data_dir + ")" : std::string{"memory"};
  parse_result<bank_outcome> outcome = parse_result<bank_outcome>::failure("not run");
  {
    const std::unique_ptr<bank_target> bank = make_embedded_bank_target(**started);
    runtime_audit_source source{**started};
    outcome = run_bank_on(options, *bank, source);
  }
  if (!outcome) {
    std::fprintf(stderr, "tally-load: %s\n", outcome.error().c_str());
    return exit_failure;
  }
  if (const tally::status stopped = (*started)->shutdown(); !stopped.is_ok()) {
    outcome.value().audit_failures.push_back("shutdown failed: " + stopped.to_string());
  }
  started->reset();
  if (options.data_dir) {
    // As in run_embedded_once(): the cold read needs the journal's directory lock.
    if (!wait_for_directory_unlocked(*options.data_dir, journal_release_wait)) {
      outcome.value().audit_failures.push_back(
          "invariant 4: the journal in " + *options.data_dir + " was still locked " +
          std::to_string(journal_release_wait.count()) + " ms after shutdown");
    }
    audit_expectations expected;
    expected.account_names = outcome.value().setup.account_names;
    for (std::string& failure :
         audit_durable_directory(*options.data_dir, expected, outcome.value().audit)) {
      outcome.value().audit_failures.push_back(std::move(failure));
    }
  }
  return finish_bank(options, journal, outcome.value());
}

int run_target(const load_options& options) {
  if (options.is_embedded()) {
    return run_embedded_target(options);
  }
  return run_http_target(options);
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
    case load_command::caf_baseline:
      return run_caf_raw_baseline(options.value());
    case load_command::run:
      return run_target(options.value());
    case load_command::bank:
      return run_bank_mode(options.value());
    case load_command::recording_cost:
      return run_recording_cost(options.value());
  }
  return exit_failure;
}
