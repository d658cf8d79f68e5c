#include "app/tally/offline.hpp"

#include <algorithm>
#include <vector>

#include <nlohmann/json.hpp>

#include "store/file_journal.hpp"
#include "store/file_system.hpp"
#include "store/segment_scanner.hpp"
#include "store/verify.hpp"
#include "tally/bank.hpp"
#include "tally/file_system.hpp"

namespace tally::cli {

namespace {

using json = nlohmann::json;

std::string dump(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

bool directory_exists(file_system& fs, const std::string& directory) {
  auto exists = fs.file_exists(directory);
  return exists && *exists;
}

/// The bank's snapshot check: the saved state equals the state replayed from events.
std::optional<std::string> check_account_snapshot(const snapshot& saved,
                                                  const std::vector<recorded_event>& events) {
  auto decoded_state = bank::decode_state(saved.state);
  if (!decoded_state)
    return std::string{"snapshot state does not decode"};
  auto state = bank::account_aggregate::initial_state();
  for (const auto& event : events) {
    auto decoded = bank::decode_event(event.type, event.schema_version, event.payload);
    if (!decoded)
      return "event at position " + std::to_string(event.position) + " does not decode";
    state = bank::evolve(state, *decoded);
  }
  if (state != *decoded_state)
    return "snapshot balance " + std::to_string(decoded_state->balance) + " differs from replayed "
           + std::to_string(state.balance);
  return std::nullopt;
}

}  // namespace

int run_verify(const std::string& directory, bool as_json, std::ostream& out, std::ostream& err) {
  auto& fs = posix_file_system();
  if (!directory_exists(fs, directory)) {
    err << "tally verify: no such directory: " << directory << "\n";
    return 2;
  }
  store::verify_options options;
  options.check_snapshot = check_account_snapshot;
  auto report = store::verify_data_directory(fs, directory, options);
  if (as_json) {
    json problems = json::array();
    for (const auto& problem : report.problems)
      problems.push_back({{"severity", problem.severity == store::problem_severity::error ? "error"
                                                                                          : "warning"},
                          {"file", problem.file},
                          {"offset", problem.offset},
                          {"description", problem.description}});
    out << dump(json{{"ok", report.ok()},
                     {"segments", report.segments},
                     {"events", report.events},
                     {"streams", report.streams},
                     {"commands", report.commands},
                     {"snapshots", report.snapshots},
                     {"bytes", report.bytes},
                     {"problems", problems}})
        << "\n";
  } else {
    out << "data directory: " << directory << "\n"
        << "segments: " << report.segments << "  events: " << report.events
        << "  streams: " << report.streams << "  commands: " << report.commands
        << "  snapshots: " << report.snapshots << "  bytes: " << report.bytes << "\n";
    for (const auto& problem : report.problems)
      out << (problem.severity == store::problem_severity::error ? "error" : "warning") << ": "
          << problem.file << " offset " << problem.offset << ": " << problem.description << "\n";
    out << (report.ok() ? "OK" : "FAILED") << "\n";
  }
  return report.ok() ? 0 : 1;
}

int run_inspect(const inspect_options& options, std::ostream& out, std::ostream& err) {
  auto& fs = posix_file_system();
  if (!directory_exists(fs, options.directory)) {
    err << "tally inspect: no such directory: " << options.directory << "\n";
    return 2;
  }
  auto names = fs.list_directory(options.directory);
  if (!names) {
    err << "tally inspect: " << names.error().to_string() << "\n";
    return 2;
  }
  std::vector<std::pair<std::uint64_t, std::string>> segments;
  for (const auto& name : *names)
    if (auto first = store::parse_segment_file_name(name))
      segments.emplace_back(*first, name);
  std::sort(segments.begin(), segments.end());
  std::uint64_t expected = 1;
  std::uint64_t printed = 0;
  for (const auto& segment : segments) {
    // Not a structured binding: the scan callback below captures the name, and C++17
    // does not let a lambda capture a binding (clang refuses; g++ accepts it).
    const std::string& name = segment.second;
    auto path = store::join_path(options.directory, name);
    auto size = fs.file_size(path);
    auto opened = fs.open_file(path, file_access::read_only, file_creation::open_existing);
    if (!size || !opened || *size > store::segment_file_bytes_max) {
      err << "tally inspect: cannot read " << path << "\n";
      return 1;
    }
    std::string bytes(static_cast<std::size_t>(*size), '\0');
    auto read = (*opened)->read_at(0, bytes.data(), bytes.size());
    if (!read || *read != bytes.size()) {
      err << "tally inspect: cannot read " << path << "\n";
      return 1;
    }
    bool stop = false;
    auto scan = store::scan_segment(bytes, expected, [&](const std::vector<store::located_record>& batch)
                                                       -> const char* {
      for (const auto& record : batch) {
        const auto& event = record.event;
        if (stop || event.position < options.from_position)
          continue;
        if (!options.stream.empty() && event.stream_id != options.stream)
          continue;
        if (printed >= options.limit) {
          stop = true;
          continue;
        }
        json line{{"position", event.position},
                  {"stream_id", std::string{event.stream_id}},
                  {"version", event.stream_version},
                  {"type", std::string{event.type}},
                  {"schema_version", event.schema_version},
                  {"event_id", to_string(event.event_id)},
                  {"command_id", to_string(event.command)},
                  {"timestamp_ns", event.timestamp_ns},
                  {"segment", name},
                  {"offset", record.offset},
                  {"bytes", record.bytes}};
        auto decoded = bank::decode_event(event.type, event.schema_version, event.payload);
        if (decoded) {
          if (auto* deposit = std::get_if<bank::money_deposited>(&*decoded))
            line["amount"] = deposit->amount;
          else if (auto* withdrawal = std::get_if<bank::money_withdrawn>(&*decoded))
            line["amount"] = withdrawal->amount;
        } else {
          line["payload_bytes"] = event.payload.size();
        }
        out << dump(line) << "\n";
        ++printed;
      }
      return nullptr;
    });
    if (stop)
      return 0;
    if (scan.has_problem) {
      err << "tally inspect: " << path << " offset " << scan.problem_offset << ": " << scan.problem
          << (scan.valid_record_after_problem ? " (valid records follow: corruption)"
                                              : " (torn tail)")
          << "\n";
      return 1;
    }
    expected = scan.next_position;
  }
  return 0;
}

}  // namespace tally::cli
