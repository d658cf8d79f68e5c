// The report of a load run: a JSON document for machines (and --compare), and a short
// human summary for stdout. The JSON layout is documented field by field in
// make_report_json(); figures carry their unit last in the name.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "app/tally-load/parse_result.hpp"
#include "app/tally-load/run_stats.hpp"
#include "app/tally-load/workload.hpp"

namespace tally::load {

/// The machine the run ran on.
struct machine_info {
  unsigned cores = 0;        ///< std::thread::hardware_concurrency()
  std::string cpu_model;     ///< "model name" of /proc/cpuinfo, "unknown" if absent
  std::string os;            ///< uname sysname, e.g. "Linux"
  std::string kernel;        ///< uname release, e.g. "6.1.0-18-amd64"
  std::string architecture;  ///< uname machine, e.g. "x86_64"
  std::string hostname;
};

/// Reads the machine info from the OS. Never fails: unknown fields say "unknown".
machine_info collect_machine_info();

/// The "machine" object of the JSON reports: {cores, cpu_model, os, kernel,
/// architecture, hostname}.
nlohmann::json machine_info_json(const machine_info& machine);

/// Extracts the CPU model from the text of /proc/cpuinfo (exposed for tests); "unknown"
/// when no "model name" line is present.
std::string cpu_model_from_cpuinfo(const std::string& cpuinfo_text);

/// How the run was configured, as the report states it.
struct run_configuration {
  std::string target;                ///< "embedded" or "http://host:port"
  std::string journal;               ///< "memory", "durable (DIR)" or "remote"
  workload_parameters workload;
  std::optional<double> rate_per_s;  ///< open loop when set, closed loop otherwise
  std::optional<double> duration_s;
};

/// What became of a run's transfers, as the harness saw the replies.
struct transfer_outcomes {
  std::uint64_t completed = 0;  ///< money moved
  std::uint64_t failed = 0;     ///< recorded as failed, no money moved
  std::uint64_t in_doubt = 0;   ///< no answer said which (a failure)
};

/// Everything a report says besides the run_stats.
struct run_report {
  run_configuration configuration;
  machine_info machine;
  std::uint64_t elapsed_ns = 0;  ///< barrier release to last reply
  bool invariants_ok = false;
  std::vector<std::string> invariant_failures;
  std::optional<std::string> baseline_kind;  ///< "caf-raw" or "fsync-raw" with --vs
  std::optional<double> baseline_per_s;      ///< median baseline throughput
  std::optional<double> ratio_median;        ///< median of the pairs' Tally/baseline ratios
  std::optional<transfer_outcomes> transfers;  ///< when the mix has transfers
};

/// Builds the JSON report. Top-level fields:
///  "schema_version" (1), "tool" ("tally-load"),
///  "config" {target, journal, accounts, clients, commands, seed, dist, mix, loop
///           ("closed"|"open"), rate_per_s?, duration_s?},
///  "machine" {cores, cpu_model, os, kernel, architecture, hostname},
///  "elapsed_s", "completed", "throughput_cmd_per_s" (completed / elapsed),
///  "latency_us" {count, min, mean, p50, p90, p99, p999, p9999, max},
///  "latency_us_by_operation" {deposit: {...}, ...} for operations that ran,
///  "accepted", "accepted_by_operation", "rejected", "rejected_by_operation",
///  "rejected_by_reason" {reason: n}, "failed", "failed_by_reason",
///  "throughput_per_second" [n per second],
///  "open_loop" {rate_per_s, late_sends, dropped_sends, send_lateness_us {...}} (open loop),
///  "invariants_ok", "invariant_failures" [strings],
///  "baseline_kind"?, "baseline_per_s"?, "ratio_median"?,
///  "transfers" {completed, failed, in_doubt}? (when the mix has transfers).
nlohmann::json make_report_json(const run_report& report, const run_stats& stats);

/// Formats the human summary printed to stdout after a run (several lines).
std::string format_summary(const run_report& report, const run_stats& stats);

/// Writes `report` to `path` (pretty-printed, replacing the file). Returns an error
/// message naming the path on failure, nullopt on success.
std::optional<std::string> write_report_file(const std::string& path,
                                             const nlohmann::json& report);

/// Reads and parses a report written by write_report_file(). Errors name the path.
parse_result<nlohmann::json> read_report_file(const std::string& path);

/// Formats `--compare`: the configs of both reports, then a table of the main
/// figures (throughput, latency percentiles, accepted, rejected, baseline, ratio)
/// side by side with the ratio B/A. Figures missing in a report show as "-".
std::string format_comparison(const nlohmann::json& report_a, const nlohmann::json& report_b,
                              const std::string& label_a, const std::string& label_b);

}  // namespace tally::load
