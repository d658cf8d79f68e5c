// Command-line interface of tally-load. A small, strict parser: every flag is known,
// every value is checked, and each error names the flag and the value that was wrong.
//
//   tally-load --target embedded [--data-dir DIR [--reuse-data-dir]]
//              | --target http://HOST:PORT [--token-file F]
//              [--accounts N] [--clients C] [--commands T] [--seed S] [--dist uniform|zipf]
//              [--rate R] [--duration SECONDS] [--mix deposit=45,withdraw=45,balance=10]
//              [--json FILE] [--plots DIR] [--vs caf-raw|fsync-raw] [--pairs K] [--no-progress]
//              [--in-flight N]
//   tally-load --digest [--dist D] [--commands T] [--accounts N] [--clients C] [--seed S] [--mix M]
//   tally-load --compare A.json B.json
//   tally-load baseline caf-raw [workload flags] [--json FILE] [--plots DIR] [--no-progress]
//   tally-load baseline fsync-raw --data-dir DIR [--batch-sizes 1,16,256,4096]
//              [--record-bytes 150] [--duration SECONDS] [--file appended|preallocated]
//   tally-load baseline recording-cost [workload flags] [--pairs K] [--json FILE] [--no-progress]
//   tally-load bank --target embedded [--data-dir DIR] | --target http://HOST:PORT [--token-file F]
//              [--accounts N] [--total T] [--clients C] [--transfers X] [--read-percent R]
//              [--seed S] [--duration SECONDS] [--json FILE] [--no-progress]
//   tally-load --help
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "app/tally-load/bank_check.hpp"
#include "app/tally-load/fsync_baseline.hpp"
#include "app/tally-load/open_loop.hpp"
#include "app/tally-load/parse_result.hpp"
#include "app/tally-load/workload.hpp"

namespace tally::load {

/// What the invocation asks for.
enum class load_command : std::uint8_t {
  help,            ///< --help: print usage_text()
  run,             ///< --target ...: run the workload against a target
  digest,          ///< --digest: print the workload fingerprint
  compare,         ///< --compare A B: compare two JSON reports
  fsync_baseline,  ///< baseline fsync-raw: measure the disk ceiling
  caf_baseline,    ///< baseline caf-raw: the workload against bare CAF actors
  bank,            ///< bank: the Jepsen-style bank test against a target
  recording_cost,  ///< baseline recording-cost: throughput with latency recording on vs off
};

/// What a run is compared against with --vs.
enum class baseline_kind : std::uint8_t { caf_raw, fsync_raw };

/// Returns "caf-raw" or "fsync-raw".
std::string_view to_string(baseline_kind kind) noexcept;

/// Whether the live progress line may be shown (it still needs a TTY).
enum class progress_mode : std::uint8_t { automatic, off };

/// Limits of the parsed values.
inline constexpr std::uint32_t pairs_min = 5;
inline constexpr std::uint32_t pairs_max = 1000;
inline constexpr double duration_s_max = 24.0 * 3600.0;
inline constexpr std::uint64_t in_flight_per_client_max = 1'000'000;
inline constexpr std::uint64_t in_flight_per_client_default = 1024;

/// The parsed command line. Only the fields of `command` are meaningful.
struct load_options {
  load_command command = load_command::help;

  // run
  std::string target;                 ///< "embedded" or "http://HOST:PORT" as given
  std::string http_host;              ///< from an http target
  std::uint16_t http_port = 0;        ///< from an http target
  std::optional<std::string> data_dir;    ///< embedded: durable journal directory
  bool reuse_data_dir = false;            ///< --reuse-data-dir: a non-empty data_dir is fine
  std::optional<std::string> token_file;  ///< http: bearer token file
  std::optional<double> rate_per_s;       ///< open loop when set
  std::optional<double> duration_s;       ///< stop after this long even if commands remain
  std::optional<std::string> json_path;
  std::optional<std::string> plots_directory;
  std::optional<baseline_kind> versus;    ///< --vs
  std::uint32_t pairs = pairs_min;        ///< --pairs, alternating Tally/baseline runs
  /// Whether the clients time their commands; only recording-cost turns it off.
  bool record_latency = true;
  progress_mode progress = progress_mode::automatic;
  /// Open loop: commands one client may have without reply (--in-flight).
  std::uint64_t in_flight_per_client = in_flight_per_client_default;

  // run and digest
  workload_parameters workload;

  // bank (target fields as for run)
  bank_parameters bank;

  // compare
  std::string compare_a_path;
  std::string compare_b_path;

  // baseline fsync-raw (directory comes from --data-dir)
  fsync_baseline_config fsync;

  bool is_embedded() const noexcept { return target == "embedded"; }
};

/// Parses the arguments after the program name. Errors (returned, never thrown)
/// name the flag and value: unknown flag, flag given twice, flag not valid for the
/// command, missing value, bad number, value out of range, bad --dist/--mix/--target.
parse_result<load_options> parse_options(const std::vector<std::string>& arguments);

/// The --help text.
std::string usage_text();

}  // namespace tally::load
