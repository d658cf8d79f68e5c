#include "app/tally-load/report.hpp"

#include <sys/utsname.h>
#include <unistd.h>

#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

namespace tally::load {

namespace {

using json = nlohmann::json;

constexpr double nanoseconds_per_microsecond = 1'000.0;
constexpr double nanoseconds_per_second = 1'000'000'000.0;

// The percentiles every latency block reports, with their JSON keys and labels.
struct percentile_column {
  const char* key;
  const char* label;
  double percentile;
};
constexpr percentile_column percentile_columns[] = {
    {"p50", "p50", 50.0},      {"p90", "p90", 90.0},          {"p99", "p99", 99.0},
    {"p999", "p99.9", 99.9},   {"p9999", "p99.99", 99.99},
};

double to_microseconds(std::uint64_t nanoseconds) {
  return static_cast<double>(nanoseconds) / nanoseconds_per_microsecond;
}

json latency_json(const latency_histogram& histogram) {
  json block = json::object();
  block["count"] = histogram.count();
  block["min"] = to_microseconds(histogram.min_ns());
  block["mean"] = histogram.mean_ns() / nanoseconds_per_microsecond;
  for (const percentile_column& column : percentile_columns) {
    block[column.key] = to_microseconds(histogram.percentile_ns(column.percentile));
  }
  block["max"] = to_microseconds(histogram.max_ns());
  return block;
}

json reasons_json(const std::vector<std::pair<std::string, std::uint64_t>>& reasons) {
  json block = json::object();
  for (const auto& [reason, count] : reasons) {
    block[reason] = count;
  }
  return block;
}

std::string trim(const std::string& text) {
  const std::size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) {
    return {};
  }
  const std::size_t last = text.find_last_not_of(" \t\r\n");
  return text.substr(first, last - first + 1);
}

std::string format_fixed(double value, int decimals) {
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%.*f", decimals, value);
  return buffer;
}

// Latencies read best with three significant digits and no exponent.
std::string format_latency_us(double value_us) {
  if (value_us >= 100.0) {
    return format_fixed(value_us, 0);
  }
  if (value_us >= 10.0) {
    return format_fixed(value_us, 1);
  }
  return format_fixed(value_us, 2);
}

std::string pad_left(const std::string& text, std::size_t width) {
  return text.size() >= width ? text : std::string(width - text.size(), ' ') + text;
}

std::string pad_right(const std::string& text, std::size_t width) {
  return text.size() >= width ? text : text + std::string(width - text.size(), ' ');
}

std::string latency_row(const std::string& name, const latency_histogram& histogram) {
  std::string row = pad_right(name, 10);
  for (const percentile_column& column : percentile_columns) {
    row += pad_left(format_latency_us(to_microseconds(histogram.percentile_ns(column.percentile))), 10);
  }
  row += pad_left(format_latency_us(to_microseconds(histogram.max_ns())), 10);
  row += pad_left(std::to_string(histogram.count()), 10);
  return row + "\n";
}

// Looks up a number along `path` (e.g. {"latency_us", "p99"}); nullopt when absent.
std::optional<double> number_at(const json& report, std::initializer_list<const char*> path) {
  const json* node = &report;
  for (const char* key : path) {
    if (!node->is_object()) {
      return std::nullopt;
    }
    const auto found = node->find(key);
    if (found == node->end()) {
      return std::nullopt;
    }
    node = &*found;
  }
  if (!node->is_number()) {
    return std::nullopt;
  }
  return node->get<double>();
}

std::string format_figure(std::optional<double> value) {
  if (!value) {
    return "-";
  }
  if (std::fabs(*value - std::round(*value)) < 1e-9 && std::fabs(*value) < 1e15) {
    return format_fixed(*value, 0);
  }
  const double magnitude = std::fabs(*value);
  return format_fixed(*value, magnitude >= 1000.0 ? 0 : magnitude >= 100.0 ? 1 : 3);
}

std::string config_line(const json& report) {
  const json config = report.value("config", json::object());
  std::string line;
  for (const char* key : {"target", "journal", "loop", "dist", "accounts", "clients", "commands",
                          "seed", "rate_per_s", "mix"}) {
    const auto found = config.find(key);
    if (found == config.end() || found->is_null()) {
      continue;
    }
    line += std::string{line.empty() ? "" : " "} + key + "=" +
            (found->is_string() ? found->get<std::string>() : found->dump());
  }
  return line;
}

}  // namespace

std::string cpu_model_from_cpuinfo(const std::string& cpuinfo_text) {
  std::istringstream lines{cpuinfo_text};
  std::string line;
  while (std::getline(lines, line)) {
    const std::size_t colon = line.find(':');
    if (colon == std::string::npos) {
      continue;
    }
    const std::string key = trim(line.substr(0, colon));
    // x86 says "model name"; some ARM kernels only give "Hardware" or "Processor".
    if (key == "model name" || key == "Processor" || key == "Hardware") {
      const std::string value = trim(line.substr(colon + 1));
      if (!value.empty()) {
        return value;
      }
    }
  }
  return "unknown";
}

nlohmann::json machine_info_json(const machine_info& machine) {
  return {{"cores", machine.cores},
          {"cpu_model", machine.cpu_model},
          {"os", machine.os},
          {"kernel", machine.kernel},
          {"architecture", machine.architecture},
          {"hostname", machine.hostname}};
}

machine_info collect_machine_info() {
  machine_info machine;
  machine.cores = std::thread::hardware_concurrency();
  std::ifstream cpuinfo{"/proc/cpuinfo"};
  std::ostringstream cpuinfo_text;
  cpuinfo_text << cpuinfo.rdbuf();
  machine.cpu_model = cpu_model_from_cpuinfo(cpuinfo_text.str());
  struct utsname names {};
  if (uname(&names) == 0) {
    machine.os = names.sysname;
    machine.kernel = names.release;
    machine.architecture = names.machine;
    machine.hostname = names.nodename;
  } else {
    machine.os = machine.kernel = machine.architecture = machine.hostname = "unknown";
  }
  return machine;
}

json make_report_json(const run_report& report, const run_stats& stats) {
  const run_configuration& configuration = report.configuration;
  json document = json::object();
  document["schema_version"] = 1;
  document["tool"] = "tally-load";

  json config = json::object();
  config["target"] = configuration.target;
  config["journal"] = configuration.journal;
  config["accounts"] = configuration.workload.accounts;
  config["clients"] = configuration.workload.clients;
  config["commands"] = configuration.workload.commands;
  config["seed"] = configuration.workload.seed;
  config["dist"] = std::string{to_string(configuration.workload.distribution)};
  config["mix"] = to_string(configuration.workload.mix);
  config["loop"] = configuration.rate_per_s ? "open" : "closed";
  if (configuration.rate_per_s) {
    config["rate_per_s"] = *configuration.rate_per_s;
  }
  if (configuration.duration_s) {
    config["duration_s"] = *configuration.duration_s;
  }
  document["config"] = std::move(config);

  document["machine"] = machine_info_json(report.machine);

  const double elapsed_s = static_cast<double>(report.elapsed_ns) / nanoseconds_per_second;
  document["elapsed_s"] = elapsed_s;
  document["completed"] = stats.completed_total();
  document["throughput_cmd_per_s"] =
      elapsed_s > 0.0 ? static_cast<double>(stats.completed_total()) / elapsed_s : 0.0;
  document["latency_us"] = latency_json(stats.overall_latency());

  json by_operation = json::object();
  json accepted_by_operation = json::object();
  json rejected_by_operation = json::object();
  for (operation op : all_operations) {
    if (stats.latency(op).count() == 0) {
      continue;
    }
    const std::string name{to_string(op)};
    by_operation[name] = latency_json(stats.latency(op));
    accepted_by_operation[name] = stats.accepted(op);
    rejected_by_operation[name] = stats.rejected(op);
  }
  document["latency_us_by_operation"] = std::move(by_operation);
  document["accepted"] = stats.accepted_total();
  document["accepted_by_operation"] = std::move(accepted_by_operation);
  document["rejected"] = stats.rejected_total();
  document["rejected_by_operation"] = std::move(rejected_by_operation);
  document["rejected_by_reason"] = reasons_json(stats.rejected_by_reason());
  document["failed"] = stats.failed_total();
  document["failed_by_reason"] = reasons_json(stats.failed_by_reason());
  document["throughput_per_second"] = stats.completed_per_second();

  if (configuration.rate_per_s) {
    document["open_loop"] = {{"rate_per_s", *configuration.rate_per_s},
                             {"late_sends", stats.late_sends()},
                             {"dropped_sends", stats.dropped_sends()},
                             {"send_lateness_us", latency_json(stats.send_lateness())}};
  }

  document["invariants_ok"] = report.invariants_ok;
  document["invariant_failures"] = report.invariant_failures;
  if (report.baseline_kind) {
    document["baseline_kind"] = *report.baseline_kind;
  }
  if (report.baseline_per_s) {
    document["baseline_per_s"] = *report.baseline_per_s;
  }
  if (report.transfers) {
    document["transfers"] = {{"completed", report.transfers->completed},
                             {"failed", report.transfers->failed},
                             {"in_doubt", report.transfers->in_doubt}};
  }
  if (report.ratio_median) {
    document["ratio_median"] = *report.ratio_median;
  }
  return document;
}

std::string format_summary(const run_report& report, const run_stats& stats) {
  const run_configuration& configuration = report.configuration;
  const workload_parameters& workload = configuration.workload;
  const double elapsed_s = static_cast<double>(report.elapsed_ns) / nanoseconds_per_second;
  const double throughput_cmd_per_s =
      elapsed_s > 0.0 ? static_cast<double>(stats.completed_total()) / elapsed_s : 0.0;

  std::string text = "tally-load: target=" + configuration.target +
                     " journal=" + configuration.journal +
                     " accounts=" + std::to_string(workload.accounts) +
                     " clients=" + std::to_string(workload.clients) +
                     " commands=" + std::to_string(workload.commands) +
                     " dist=" + std::string{to_string(workload.distribution)} +
                     " seed=" + std::to_string(workload.seed) +
                     (workload.mix == operation_mix{} ? std::string{}
                                                      : " mix=" + to_string(workload.mix)) +
                     " loop=" +
                     (configuration.rate_per_s
                          ? "open rate=" + format_fixed(*configuration.rate_per_s, 0) + "/s"
                          : std::string{"closed"}) +
                     "\n";
  text += "throughput: " + format_fixed(throughput_cmd_per_s, 0) + " cmd/s (" +
          std::to_string(stats.completed_total()) + " commands in " +
          format_fixed(elapsed_s, 3) + " s)\n";
  text += pad_right("latency us", 10);
  for (const percentile_column& column : percentile_columns) {
    text += pad_left(column.label, 10);
  }
  text += pad_left("max", 10) + pad_left("count", 10) + "\n";
  text += latency_row("all", stats.overall_latency());
  for (operation op : all_operations) {
    if (stats.latency(op).count() > 0) {
      text += latency_row(std::string{to_string(op)}, stats.latency(op));
    }
  }
  text += "accepted " + std::to_string(stats.accepted_total()) + ", rejected " +
          std::to_string(stats.rejected_total());
  if (!stats.rejected_by_reason().empty()) {
    text += " (";
    bool first = true;
    for (const auto& [reason, count] : stats.rejected_by_reason()) {
      text += (first ? "" : ", ") + reason + " " + std::to_string(count);
      first = false;
    }
    text += ")";
  }
  if (stats.failed_total() > 0) {
    text += ", failed " + std::to_string(stats.failed_total());
  }
  text += "\n";
  if (report.transfers) {
    text += "transfers: completed " + std::to_string(report.transfers->completed) + ", failed " +
            std::to_string(report.transfers->failed) + " (no money moved)";
    if (report.transfers->in_doubt > 0) {
      text += ", in doubt " + std::to_string(report.transfers->in_doubt);
    }
    text += "\n";
  }
  if (configuration.rate_per_s) {
    text += "open loop: late sends " + std::to_string(stats.late_sends()) + ", dropped sends " +
            std::to_string(stats.dropped_sends()) + ", send lateness p99 " +
            format_latency_us(to_microseconds(stats.send_lateness().percentile_ns(99.0))) +
            " us\n";
  }
  if (report.invariants_ok) {
    text += "invariants: ok\n";
  } else {
    text += "invariants: FAILED (" + std::to_string(report.invariant_failures.size()) + ")\n";
    for (const std::string& failure : report.invariant_failures) {
      text += "  " + failure + "\n";
    }
  }
  if (report.baseline_per_s) {
    text += "baseline " + report.baseline_kind.value_or("?") + ": " +
            format_fixed(*report.baseline_per_s, 0) + " /s";
    if (report.ratio_median) {
      text += ", ratio median " + format_fixed(*report.ratio_median, 3);
    }
    text += "\n";
  }
  return text;
}

std::optional<std::string> write_report_file(const std::string& path, const json& report) {
  std::ofstream file{path, std::ios::trunc};
  if (!file) {
    return "cannot open report file '" + path + "' for writing";
  }
  file << report.dump(2) << '\n';
  file.flush();
  if (!file) {
    return "cannot write report file '" + path + "'";
  }
  return std::nullopt;
}

parse_result<json> read_report_file(const std::string& path) {
  std::ifstream file{path};
  if (!file) {
    return parse_result<json>::failure("cannot open report file '" + path + "'");
  }
  json document = json::parse(file, nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded() || !document.is_object()) {
    return parse_result<json>::failure("report file '" + path + "' is not a JSON object");
  }
  return parse_result<json>::success(std::move(document));
}

std::string format_comparison(const json& report_a, const json& report_b,
                              const std::string& label_a, const std::string& label_b) {
  struct figure {
    const char* label;
    std::initializer_list<const char*> path;
  };
  const figure figures[] = {
      {"throughput_cmd_per_s", {"throughput_cmd_per_s"}},
      {"latency_us p50", {"latency_us", "p50"}},
      {"latency_us p90", {"latency_us", "p90"}},
      {"latency_us p99", {"latency_us", "p99"}},
      {"latency_us p99.9", {"latency_us", "p999"}},
      {"latency_us p99.99", {"latency_us", "p9999"}},
      {"latency_us max", {"latency_us", "max"}},
      {"accepted", {"accepted"}},
      {"rejected", {"rejected"}},
      {"failed", {"failed"}},
      {"baseline_per_s", {"baseline_per_s"}},
      {"ratio_median", {"ratio_median"}},
  };
  std::string text = "A: " + label_a + "\n   " + config_line(report_a) + "\nB: " + label_b +
                     "\n   " + config_line(report_b) + "\n";
  text += pad_right("figure", 22) + pad_left("A", 16) + pad_left("B", 16) + pad_left("B/A", 10) +
          "\n";
  for (const figure& row : figures) {
    const std::optional<double> a = number_at(report_a, row.path);
    const std::optional<double> b = number_at(report_b, row.path);
    if (!a && !b) {
      continue;
    }
    std::string ratio = "-";
    if (a && b && *a != 0.0) {
      ratio = format_fixed(*b / *a, 3);
    }
    text += pad_right(row.label, 22) + pad_left(format_figure(a), 16) +
            pad_left(format_figure(b), 16) + pad_left(ratio, 10) + "\n";
  }
  const auto invariants = [](const json& report) -> std::string {
    const auto found = report.find("invariants_ok");
    if (found == report.end() || !found->is_boolean()) {
      return "-";
    }
    return found->get<bool>() ? "ok" : "FAILED";
  };
  text += pad_right("invariants", 22) + pad_left(invariants(report_a), 16) +
          pad_left(invariants(report_b), 16) + "\n";
  return text;
}

}  // namespace tally::load
