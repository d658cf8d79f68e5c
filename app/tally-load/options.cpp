#include "app/tally-load/options.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>
#include <set>

namespace tally::load {

namespace {

using options_result = parse_result<load_options>;

// Bit set of the commands a flag is valid for.
enum command_bits : unsigned {
  for_run = 1u << 0,
  for_digest = 1u << 1,
  for_compare = 1u << 2,
  for_fsync = 1u << 3,
  for_caf_raw = 1u << 4,
  for_bank = 1u << 5,
  for_recording_cost = 1u << 6,
};

struct flag_spec {
  const char* name;
  bool takes_value;
  unsigned valid_for;
};

// Every flag tally-load knows. Mode flags (--target, --digest, --compare, --help) are
// here too, so that "unknown flag" means the same thing everywhere.
constexpr flag_spec flag_specs[] = {
    {"--target", true, for_run | for_bank},
    {"--digest", false, for_digest},
    {"--compare", true, for_compare},
    {"--help", false, 0},
    {"--data-dir", true, for_run | for_fsync | for_bank},
    {"--token-file", true, for_run | for_bank},
    {"--reuse-data-dir", false, for_run},
    {"--accounts", true, for_run | for_digest | for_caf_raw | for_recording_cost | for_bank},
    {"--clients", true, for_run | for_digest | for_caf_raw | for_recording_cost | for_bank},
    {"--commands", true, for_run | for_digest | for_caf_raw | for_recording_cost},
    {"--seed", true, for_run | for_digest | for_caf_raw | for_recording_cost | for_bank},
    {"--dist", true, for_run | for_digest | for_caf_raw | for_recording_cost},
    {"--mix", true, for_run | for_digest | for_caf_raw},
    {"--rate", true, for_run},
    {"--duration", true, for_run | for_fsync | for_bank},
    {"--json", true, for_run | for_caf_raw | for_bank | for_recording_cost},
    {"--plots", true, for_run | for_caf_raw},
    {"--vs", true, for_run},
    {"--pairs", true, for_run | for_recording_cost},
    {"--no-progress", false, for_run | for_caf_raw | for_bank | for_recording_cost},
    {"--total", true, for_bank},
    {"--transfers", true, for_bank},
    {"--read-percent", true, for_bank},
    {"--in-flight", true, for_run},
    {"--batch-sizes", true, for_fsync},
    {"--record-bytes", true, for_fsync},
    {"--file", true, for_fsync},
};

const flag_spec* find_flag(const std::string& name) {
  for (const flag_spec& spec : flag_specs) {
    if (name == spec.name) {
      return &spec;
    }
  }
  return nullptr;
}

const char* command_name(unsigned bit) {
  switch (bit) {
    case for_run: return "--target";
    case for_digest: return "--digest";
    case for_compare: return "--compare";
    case for_caf_raw: return "baseline caf-raw";
    case for_bank: return "bank";
    case for_recording_cost: return "baseline recording-cost";
    default: return "baseline fsync-raw";
  }
}

std::string bad_value(const std::string& flag, const std::string& value, const std::string& why) {
  return "invalid value '" + value + "' for " + flag + ": " + why;
}

// Parses a whole string as an unsigned integer in [minimum, maximum].
parse_result<std::uint64_t> parse_unsigned(const std::string& flag, const std::string& value,
                                           std::uint64_t minimum, std::uint64_t maximum) {
  std::uint64_t number = 0;
  const char* end = value.data() + value.size();
  const auto [stop, error] = std::from_chars(value.data(), end, number);
  if (value.empty() || error == std::errc::invalid_argument || stop != end) {
    return parse_result<std::uint64_t>::failure(bad_value(flag, value, "not an unsigned integer"));
  }
  if (error == std::errc::result_out_of_range || number < minimum || number > maximum) {
    return parse_result<std::uint64_t>::failure(bad_value(
        flag, value, "must be in " + std::to_string(minimum) + ".." + std::to_string(maximum)));
  }
  return parse_result<std::uint64_t>::success(number);
}

// Parses a whole string as a finite number > 0 and <= maximum.
parse_result<double> parse_positive(const std::string& flag, const std::string& value,
                                    double maximum) {
  double number = 0.0;
  const char* end = value.data() + value.size();
  const auto [stop, error] = std::from_chars(value.data(), end, number);
  if (value.empty() || error != std::errc{} || stop != end || !std::isfinite(number)) {
    return parse_result<double>::failure(bad_value(flag, value, "not a number"));
  }
  if (!(number > 0.0) || number > maximum) {
    char limit[64];
    std::snprintf(limit, sizeof(limit), "%g", maximum);
    return parse_result<double>::failure(
        bad_value(flag, value, std::string{"must be > 0 and <= "} + limit));
  }
  return parse_result<double>::success(number);
}

// Accepts "http://HOST:PORT" with an optional trailing '/'.
std::optional<std::string> parse_http_target(const std::string& target, load_options& options) {
  constexpr std::string_view scheme = "http://";
  std::string_view rest{target};
  rest.remove_prefix(scheme.size());
  if (!rest.empty() && rest.back() == '/') {
    rest.remove_suffix(1);
  }
  const std::size_t colon = rest.rfind(':');
  if (colon == std::string_view::npos || colon == 0 ||
      rest.find('/') != std::string_view::npos) {
    return bad_value("--target", target, "expected embedded or http://HOST:PORT");
  }
  const std::string port_text{rest.substr(colon + 1)};
  const parse_result<std::uint64_t> port = parse_unsigned("--target port", port_text, 1, 65535);
  if (!port) {
    return bad_value("--target", target, "port must be an integer in 1..65535");
  }
  options.http_host = std::string{rest.substr(0, colon)};
  options.http_port = static_cast<std::uint16_t>(port.value());
  return std::nullopt;
}

parse_result<std::vector<std::uint32_t>> parse_batch_sizes(const std::string& value) {
  using result = parse_result<std::vector<std::uint32_t>>;
  std::vector<std::uint32_t> sizes;
  std::size_t begin = 0;
  while (true) {
    const std::size_t end = std::min(value.find(',', begin), value.size());
    const parse_result<std::uint64_t> size = parse_unsigned(
        "--batch-sizes", value.substr(begin, end - begin), 1, fsync_batch_size_max);
    if (!size) {
      return result::failure(size.error());
    }
    sizes.push_back(static_cast<std::uint32_t>(size.value()));
    if (end == value.size()) {
      return result::success(std::move(sizes));
    }
    begin = end + 1;
  }
}

// Applies one flag's value to `options`; returns an error or nullopt.
std::optional<std::string> apply_flag(const std::string& flag, const std::string& value,
                                      load_options& options) {
  workload_parameters& workload = options.workload;
  if (flag == "--target") {
    options.target = value;
    if (value == "embedded") {
      return std::nullopt;
    }
    if (value.rfind("http://", 0) == 0) {
      return parse_http_target(value, options);
    }
    return bad_value(flag, value, "expected embedded or http://HOST:PORT");
  }
  if (flag == "--data-dir" || flag == "--token-file" || flag == "--json" || flag == "--plots") {
    if (value.empty()) {
      return bad_value(flag, value, "must not be empty");
    }
    if (flag == "--data-dir") {
      options.data_dir = value;
      options.fsync.directory = value;
    } else if (flag == "--token-file") {
      options.token_file = value;
    } else if (flag == "--json") {
      options.json_path = value;
    } else {
      options.plots_directory = value;
    }
    return std::nullopt;
  }
  if (options.command == load_command::bank &&
      (flag == "--accounts" || flag == "--clients" || flag == "--seed")) {
    // The bank mode has parameters (and limits) of its own.
    const std::uint64_t minimum = flag == "--accounts" ? bank_accounts_min : flag == "--seed" ? 0 : 1;
    const std::uint64_t maximum = flag == "--accounts"  ? bank_accounts_max
                                  : flag == "--clients" ? bank_clients_max
                                                        : std::numeric_limits<std::uint64_t>::max();
    const parse_result<std::uint64_t> number = parse_unsigned(flag, value, minimum, maximum);
    if (!number) {
      return number.error();
    }
    (flag == "--accounts"  ? options.bank.accounts
     : flag == "--clients" ? options.bank.clients
                           : options.bank.seed) = number.value();
    return std::nullopt;
  }
  if (flag == "--total") {
    const parse_result<std::uint64_t> total =
        parse_unsigned(flag, value, 1, static_cast<std::uint64_t>(bank_total_max));
    if (!total) {
      return total.error();
    }
    options.bank.total = static_cast<std::int64_t>(total.value());
    return std::nullopt;
  }
  if (flag == "--transfers") {
    const parse_result<std::uint64_t> transfers = parse_unsigned(flag, value, 1, bank_transfers_max);
    if (!transfers) {
      return transfers.error();
    }
    options.bank.transfers = transfers.value();
    return std::nullopt;
  }
  if (flag == "--read-percent") {
    const parse_result<std::uint64_t> percent = parse_unsigned(flag, value, 0, bank_read_percent_max);
    if (!percent) {
      return percent.error();
    }
    options.bank.read_percent = static_cast<std::uint32_t>(percent.value());
    return std::nullopt;
  }
  if (flag == "--accounts" || flag == "--clients" || flag == "--commands") {
    const std::uint64_t maximum = flag == "--accounts" ? workload_accounts_max
                                  : flag == "--clients" ? workload_clients_max
                                                        : workload_commands_max;
    const parse_result<std::uint64_t> number = parse_unsigned(flag, value, 1, maximum);
    if (!number) {
      return number.error();
    }
    (flag == "--accounts" ? workload.accounts
     : flag == "--clients" ? workload.clients
                           : workload.commands) = number.value();
    return std::nullopt;
  }
  if (flag == "--seed") {
    const parse_result<std::uint64_t> number =
        parse_unsigned(flag, value, 0, std::numeric_limits<std::uint64_t>::max());
    if (!number) {
      return number.error();
    }
    workload.seed = number.value();
    return std::nullopt;
  }
  if (flag == "--dist") {
    const std::optional<account_distribution> distribution = account_distribution_from_string(value);
    if (!distribution) {
      return bad_value(flag, value, "expected uniform or zipf");
    }
    workload.distribution = *distribution;
    return std::nullopt;
  }
  if (flag == "--mix") {
    parse_result<operation_mix> mix = parse_operation_mix(value);
    if (!mix) {
      return bad_value(flag, value, mix.error());
    }
    workload.mix = mix.value();
    return std::nullopt;
  }
  if (flag == "--rate") {
    const parse_result<double> rate = parse_positive(flag, value, open_loop_rate_per_s_max);
    if (!rate) {
      return rate.error();
    }
    options.rate_per_s = rate.value();
    return std::nullopt;
  }
  if (flag == "--duration") {
    const parse_result<double> duration = parse_positive(flag, value, duration_s_max);
    if (!duration) {
      return duration.error();
    }
    options.duration_s = duration.value();
    options.fsync.duration_per_batch_size_s = duration.value();
    return std::nullopt;
  }
  if (flag == "--vs") {
    if (value == "caf-raw") {
      options.versus = baseline_kind::caf_raw;
    } else if (value == "fsync-raw") {
      options.versus = baseline_kind::fsync_raw;
    } else {
      return bad_value(flag, value, "expected caf-raw or fsync-raw");
    }
    return std::nullopt;
  }
  if (flag == "--pairs") {
    const parse_result<std::uint64_t> pairs = parse_unsigned(flag, value, pairs_min, pairs_max);
    if (!pairs) {
      return pairs.error();
    }
    options.pairs = static_cast<std::uint32_t>(pairs.value());
    return std::nullopt;
  }
  if (flag == "--no-progress") {
    options.progress = progress_mode::off;
    return std::nullopt;
  }
  if (flag == "--reuse-data-dir") {
    options.reuse_data_dir = true;
    return std::nullopt;
  }
  if (flag == "--in-flight") {
    const parse_result<std::uint64_t> limit = parse_unsigned(flag, value, 1, in_flight_per_client_max);
    if (!limit) {
      return limit.error();
    }
    options.in_flight_per_client = limit.value();
    return std::nullopt;
  }
  if (flag == "--batch-sizes") {
    parse_result<std::vector<std::uint32_t>> sizes = parse_batch_sizes(value);
    if (!sizes) {
      return sizes.error();
    }
    options.fsync.batch_sizes = std::move(sizes).value();
    return std::nullopt;
  }
  if (flag == "--record-bytes") {
    const parse_result<std::uint64_t> bytes = parse_unsigned(flag, value, 1, fsync_record_bytes_max);
    if (!bytes) {
      return bytes.error();
    }
    options.fsync.record_bytes = static_cast<std::uint32_t>(bytes.value());
    return std::nullopt;
  }
  if (flag == "--file") {
    if (value == "appended") {
      options.fsync.preparation = file_preparation::appended;
    } else if (value == "preallocated") {
      options.fsync.preparation = file_preparation::preallocated;
    } else {
      return bad_value(flag, value, "expected appended or preallocated");
    }
    return std::nullopt;
  }
  return "internal error: flag " + flag + " has no handler";
}

}  // namespace

std::string_view to_string(baseline_kind kind) noexcept {
  return kind == baseline_kind::caf_raw ? "caf-raw" : "fsync-raw";
}

parse_result<load_options> parse_options(const std::vector<std::string>& arguments) {
  load_options options;
  if (arguments.empty()) {
    return options_result::failure("no command given (try --help)");
  }
  // Split "--flag=value" and attach values, so that later checks see (flag, value).
  struct given_flag {
    std::string name;
    std::string value;
  };
  std::vector<given_flag> given;
  std::vector<std::string> positional;
  for (std::size_t i = 0; i < arguments.size(); ++i) {
    const std::string& argument = arguments[i];
    if (argument.rfind("--", 0) != 0) {
      if (argument == "-h") {
        given.push_back({"--help", ""});
        continue;
      }
      positional.push_back(argument);
      continue;
    }
    std::string name = argument;
    std::optional<std::string> inline_value;
    if (const std::size_t equals = argument.find('='); equals != std::string::npos) {
      name = argument.substr(0, equals);
      inline_value = argument.substr(equals + 1);
    }
    const flag_spec* spec = find_flag(name);
    if (spec == nullptr) {
      return options_result::failure("unknown flag " + name + " (try --help)");
    }
    if (!spec->takes_value) {
      if (inline_value) {
        return options_result::failure("flag " + name + " takes no value");
      }
      given.push_back({name, ""});
      continue;
    }
    if (inline_value) {
      given.push_back({name, *inline_value});
    } else if (i + 1 >= arguments.size()) {
      return options_result::failure("flag " + name + " needs a value");
    } else {
      given.push_back({name, arguments[++i]});
    }
    if (name == "--compare") {
      // --compare takes two files; the second one is the next argument.
      if (i + 1 >= arguments.size() || arguments[i + 1].rfind("--", 0) == 0) {
        return options_result::failure("--compare needs two report files: --compare A.json B.json");
      }
      options.compare_b_path = arguments[++i];
    }
  }

  for (const given_flag& flag : given) {
    if (flag.name == "--help") {
      options.command = load_command::help;
      return options_result::success(std::move(options));
    }
  }

  // Which command: exactly one of --target, --digest, --compare, "baseline fsync-raw",
  // "baseline caf-raw" and "bank" (which takes --target as a flag).
  const bool bank_mode = !positional.empty() && positional[0] == "bank";
  std::vector<unsigned> commands;
  for (const given_flag& flag : given) {
    if (flag.name == "--target" && !bank_mode) commands.push_back(for_run);
    if (flag.name == "--digest") commands.push_back(for_digest);
    if (flag.name == "--compare") commands.push_back(for_compare);
  }
  if (bank_mode) {
    if (positional.size() > 1) {
      return options_result::failure("unexpected argument '" + positional[1] + "' after bank");
    }
    commands.push_back(for_bank);
  } else if (!positional.empty()) {
    if (positional[0] != "baseline") {
      return options_result::failure("unexpected argument '" + positional[0] + "' (try --help)");
    }
    if (positional.size() < 2) {
      return options_result::failure(
          "baseline needs a kind: baseline caf-raw, fsync-raw or recording-cost");
    }
    if (positional[1] != "fsync-raw" && positional[1] != "caf-raw" &&
        positional[1] != "recording-cost") {
      return options_result::failure("unknown baseline '" + positional[1] +
                                     "' (expected caf-raw, fsync-raw or recording-cost)");
    }
    if (positional.size() > 2) {
      return options_result::failure("unexpected argument '" + positional[2] + "'");
    }
    commands.push_back(positional[1] == "caf-raw"          ? for_caf_raw
                       : positional[1] == "recording-cost" ? for_recording_cost
                                                           : for_fsync);
  }
  if (commands.empty()) {
    return options_result::failure(
        "no command given: use --target, --digest, --compare, bank or baseline "
        "caf-raw|fsync-raw|recording-cost (try --help)");
  }
  if (commands.size() > 1) {
    return options_result::failure(std::string{"conflicting commands "} + command_name(commands[0]) +
                                   " and " + command_name(commands[1]));
  }
  const unsigned command = commands[0];
  options.command = command == for_run      ? load_command::run
                    : command == for_digest  ? load_command::digest
                    : command == for_compare ? load_command::compare
                    : command == for_caf_raw ? load_command::caf_baseline
                    : command == for_bank    ? load_command::bank
                    : command == for_recording_cost ? load_command::recording_cost
                                                    : load_command::fsync_baseline;

  std::set<std::string> seen;
  for (const given_flag& flag : given) {
    if (!seen.insert(flag.name).second) {
      return options_result::failure("flag " + flag.name + " given twice");
    }
    const flag_spec* spec = find_flag(flag.name);
    if ((spec->valid_for & command) == 0) {
      return options_result::failure("flag " + flag.name + " is not valid with " +
                                     command_name(command));
    }
    if (flag.name == "--compare") {
      options.compare_a_path = flag.value;
      continue;
    }
    if (flag.name == "--digest") {
      continue;
    }
    if (const std::optional<std::string> error = apply_flag(flag.name, flag.value, options)) {
      return options_result::failure(*error);
    }
  }

  // Cross-flag rules.
  if (options.command == load_command::run) {
    if (options.data_dir && !options.is_embedded()) {
      return options_result::failure("--data-dir is only valid with --target embedded");
    }
    if (options.token_file && options.is_embedded()) {
      return options_result::failure("--token-file is only valid with an http target");
    }
    if (seen.count("--pairs") > 0 && !options.versus) {
      return options_result::failure("--pairs is only valid with --vs");
    }
    if (options.versus == baseline_kind::fsync_raw && !options.data_dir) {
      return options_result::failure("--vs fsync-raw needs --data-dir DIR (the disk it measures)");
    }
    if (options.reuse_data_dir && options.versus) {
      return options_result::failure("--reuse-data-dir is not valid with --vs (each run needs a "
                                     "fresh journal)");
    }
    if (options.reuse_data_dir && !options.data_dir) {
      return options_result::failure("--reuse-data-dir needs --data-dir DIR");
    }
    if (seen.count("--in-flight") > 0 && !options.rate_per_s) {
      return options_result::failure("--in-flight is only valid with --rate (open loop)");
    }
    if (options.versus == baseline_kind::caf_raw &&
        options.workload.mix.percent[index_of(operation::transfer)] > 0) {
      return options_result::failure(
          "--vs caf-raw needs a --mix without transfer (bare actors have no transfers)");
    }
  }
  if (options.command == load_command::caf_baseline &&
      options.workload.mix.percent[index_of(operation::transfer)] > 0) {
    return options_result::failure(
        "baseline caf-raw needs a --mix without transfer (bare actors have no transfers)");
  }
  if (options.command == load_command::bank) {
    if (seen.count("--target") == 0) {
      return options_result::failure("bank needs --target embedded or --target http://HOST:PORT");
    }
    if (options.data_dir && !options.is_embedded()) {
      return options_result::failure("--data-dir is only valid with --target embedded");
    }
    if (options.token_file && options.is_embedded()) {
      return options_result::failure("--token-file is only valid with an http target");
    }
    if (const std::optional<std::string> error = validate(options.bank)) {
      return options_result::failure(*error);
    }
  }
  if (options.command == load_command::fsync_baseline) {
    if (!options.data_dir) {
      return options_result::failure("baseline fsync-raw needs --data-dir DIR");
    }
    if (const std::optional<std::string> error = validate(options.fsync)) {
      return options_result::failure(*error);
    }
  }
  if (options.command == load_command::run || options.command == load_command::digest ||
      options.command == load_command::caf_baseline ||
      options.command == load_command::recording_cost) {
    if (const std::optional<std::string> error = validate(options.workload)) {
      return options_result::failure(*error);
    }
  }
  return options_result::success(std::move(options));
}

std::string usage_text() {
  return R"(tally-load: load-test harness for Tally, running the standard workload
(docs: shared/workload.md). Every flag takes its value as "--flag VALUE" or "--flag=VALUE".

Usage:
  tally-load --target embedded [--data-dir DIR [--reuse-data-dir]]
                                                     embedded runtime; in-memory journal,
                                                     or durable journal in DIR
  tally-load --target http://HOST:PORT [--token-file F]
             [--accounts N] [--clients C] [--commands T] [--seed S] [--dist uniform|zipf]
             [--rate R [--in-flight N]] [--duration SECONDS]
             [--mix deposit=45,withdraw=45,balance=10]
             [--json FILE] [--plots DIR] [--vs caf-raw|fsync-raw] [--pairs K] [--no-progress]
  tally-load --digest [--dist D] [--commands T] [--accounts N] [--clients C] [--seed S] [--mix M]
  tally-load --compare A.json B.json
  tally-load baseline caf-raw [--accounts N] [--clients C] [--commands T] [--seed S] [--dist D]
             [--json FILE] [--plots DIR] [--no-progress]
  tally-load baseline fsync-raw --data-dir DIR [--batch-sizes 1,16,256,4096] [--record-bytes 150]
             [--duration SECONDS_PER_BATCH_SIZE] [--file appended|preallocated]
  tally-load baseline recording-cost [--accounts N] [--clients C] [--commands T] [--seed S]
             [--dist D] [--pairs K] [--json FILE] [--no-progress]
  tally-load bank --target embedded [--data-dir DIR] | --target http://HOST:PORT [--token-file F]
             [--accounts 8] [--total 100] [--clients 16] [--transfers 5000] [--read-percent 50]
             [--seed 42] [--duration SECONDS] [--json FILE] [--no-progress]
  tally-load --help

Workload (defaults): --accounts 10000 --clients 64 --commands 1000000 --seed 42 --dist uniform
  --mix deposit=45,withdraw=45,balance=10 (percents summing to 100). Transfers: name them in
  the mix (deposit=40,withdraw=30,balance=10,transfer=20), or give only --mix transfer=P to
  keep the standard mix for the rest, scaled down proportionally (transfer=20 is
  deposit=36,withdraw=36,balance=8,transfer=20; the percents that rounding down leaves go to
  the largest remainders). A transfer draws a fourth number for its target account
  (another account than its source); without transfers the stream is exactly the standard
  workload's. Not with --vs caf-raw (bare actors have no transfers).
Run options:
  --data-dir DIR    embedded durable journal (replies after the sync). DIR must be missing or
                    empty, so that the audit can check every event; --reuse-data-dir accepts a
                    directory that holds a journal already (the audit then starts from the
                    balances found there). The accounts are opened before timing starts.
  --rate R          open loop: R commands/s in total, latency from the intended send time
  --in-flight N     open loop: commands one client may have without reply (1024); commands
                    due beyond that are not sent and reported as dropped sends
  --duration S      stop sending after S seconds even if commands remain (reported as dropped)
  --json FILE       write the JSON report      --plots DIR   write SVG plots
  --vs K            alternate runs with the caf-raw or fsync-raw baseline (A B A B ...),
                    --pairs K >= 5 (5); prints the median ratio. Every Tally run starts a fresh
                    runtime (with --data-dir: in DIR/run-<k>) and is audited. fsync-raw needs
                    --data-dir and measures batch sizes 1,16,256,4096 for 0.5 s each; its
                    figure is the best events/s.
  --no-progress     no live progress line (it is shown only on a terminal anyway)
Recording cost: baseline recording-cost runs the closed loop with latency recording on and off
  (no clock read, histogram or per-second series per command), alternating (off on, on off,
  ...), --pairs K times
  (5) each against caf-raw and against the embedded runtime (in-memory journal, audited), and
  prints the median throughput ratio on/off and the cost, 1 - ratio, for each.
After every run the invariants are audited (shared/workload.md): balances agree in every view,
events == accepted commands with contiguous positions and versions, no balance below zero, and
for a durable journal a cold checksum-verified read agrees. With transfers also: every transfer
completed or failed (none in progress), no money in flight, and total_balance + money_in_flight
== deposited - withdrawn.
Bank mode (after Jepsen's bank test): --accounts N (8, 2..10000) hold --total T (100) minor
  units, spread evenly at setup; --clients C (16) threads do --transfers X (5000) transfers of
  1..5 between random distinct accounts in all, and with --read-percent R (50) chance a step
  reads the bank instead: the totals at P, the highest position any reply carried so far,
  then every account's balance at P. Every read is checked: total_balance + money_in_flight
  == T (wrong_total; one consistent answer of the totals read model), no account below zero
  (negative_balance), every account opened (unknown_account), no answer below P
  (stale_read). After the run the bank at rest must hold T in balances that match the
  harness's tally, nothing in flight, and pass the invariant audit. Prints first, worst and
  last violation of each kind with its position; --json FILE writes them. Exits 1 on any.
Exit status: 0 success, 1 invariant failure, unreachable target or run error, 2 usage error.
)";
}

}  // namespace tally::load
