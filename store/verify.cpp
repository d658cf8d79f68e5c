#include "store/verify.hpp"

#include <algorithm>
#include <map>
#include <unordered_map>
#include <unordered_set>

#include "store/file_journal.hpp"
#include "store/file_system.hpp"
#include "store/record_codec.hpp"
#include "store/segment_scanner.hpp"

namespace tally::store {

bool verify_report::ok() const noexcept {
  return std::none_of(problems.begin(), problems.end(), [](const verify_problem& problem) {
    return problem.severity == problem_severity::error;
  });
}

namespace {

class verifier {
public:
  verifier(file_system& fs, const std::string& directory, const verify_options& options)
    : fs_(fs), directory_(directory), options_(options) {}

  verify_report run() {
    load_snapshots();
    scan_segments();
    check_snapshots();
    report_.streams = stream_versions_.size();
    report_.commands = commands_.size();
    return std::move(report_);
  }

private:
  struct command_state {
    std::string stream_id;
    std::uint64_t last_position = 0;
  };

  void problem(problem_severity severity, const std::string& file, std::uint64_t offset,
               std::string description) {
    if (report_.problems.size() < options_.problems_max)
      report_.problems.push_back(verify_problem{severity, file, offset, std::move(description)});
  }

  void load_snapshots() {
    std::string snapshot_directory = join_path(directory_, snapshot_directory_name);
    auto exists = fs_.file_exists(snapshot_directory);
    if (!exists || !*exists)
      return;  // a directory never opened by a journal has none; not a problem
    auto names = fs_.list_directory(snapshot_directory);
    if (!names) {
      problem(problem_severity::error, snapshot_directory, 0, names.error().to_string());
      return;
    }
    std::sort(names->begin(), names->end());
    for (const auto& name : *names) {
      std::string path = join_path(snapshot_directory, name);
      if (name.size() > temporary_file_suffix.size()
          && name.compare(name.size() - temporary_file_suffix.size(), std::string::npos,
                          temporary_file_suffix)
               == 0) {
        problem(problem_severity::warning, path, 0, "unfinished snapshot write (removed at open)");
        continue;
      }
      auto opened = fs_.open_file(path, file_access::read_only, file_creation::open_existing);
      if (!opened) {
        problem(problem_severity::error, path, 0, opened.error().to_string());
        continue;
      }
      auto read = read_whole_file(**opened, snapshot_header_bytes + snapshot_body_fixed_bytes
                                              + record_stream_id_bytes_max
                                              + snapshot_state_bytes_max);
      if (!read) {
        problem(problem_severity::error, path, 0, read.error().to_string());
        continue;
      }
      snapshot loaded;
      if (const char* reason = decode_snapshot_file(*read, loaded)) {
        problem(problem_severity::error, path, 0, reason);
        continue;
      }
      if (snapshot_file_name(loaded.stream_id) != name) {
        problem(problem_severity::error, path, 0, "file name does not match its stream id");
        continue;
      }
      ++report_.snapshots;
      snapshot_paths_[loaded.stream_id] = path;
      snapshot_events_[loaded.stream_id];  // collect this stream's events during the scan
      snapshots_.push_back(std::move(loaded));
    }
  }

  void scan_segments() {
    auto names = fs_.list_directory(directory_);
    if (!names) {
      problem(problem_severity::error, directory_, 0, names.error().to_string());
      return;
    }
    std::vector<std::pair<std::uint64_t, std::string>> found;
    for (const auto& name : *names)
      if (auto position = parse_segment_file_name(name))
        found.emplace_back(*position, join_path(directory_, name));
    std::sort(found.begin(), found.end());
    std::uint64_t expected_position = 1;
    for (std::size_t i = 0; i < found.size(); ++i) {
      // Plain references, not a structured binding: C++17 does not let the lambda below
      // capture a binding (g++ accepts it, clang refuses it).
      const std::uint64_t name_position = found[i].first;
      const std::string& path = found[i].second;
      auto opened = fs_.open_file(path, file_access::read_only, file_creation::open_existing);
      if (!opened) {
        problem(problem_severity::error, path, 0, opened.error().to_string());
        continue;
      }
      auto read = read_whole_file(**opened, segment_file_bytes_max);
      if (!read) {
        problem(problem_severity::error, path, 0, read.error().to_string());
        continue;
      }
      ++report_.segments;
      report_.bytes += read->size();
      std::uint64_t header_position = 0;
      if (decode_segment_header(*read, header_position) == nullptr
          && header_position != name_position)
        problem(problem_severity::error, path, 0,
                "file name says first position " + std::to_string(name_position)
                  + " but the header says " + std::to_string(header_position));
      auto scan = scan_segment(*read, expected_position,
                               [&](const std::vector<located_record>& batch) {
                                 for (const auto& record : batch)
                                   check_event(path, record);
                                 return static_cast<const char*>(nullptr);
                               });
      report_.events += scan.events;
      if (scan.has_problem) {
        bool torn_tail = i + 1 == found.size() && !scan.valid_record_after_problem;
        std::uint64_t dropped = read->size() - scan.valid_bytes;
        problem(torn_tail ? problem_severity::warning : problem_severity::error, path,
                scan.problem_offset,
                scan.problem
                  + (torn_tail ? " (torn tail: opening drops the last " + std::to_string(dropped)
                                   + " bytes)"
                               : " (corruption: valid data follows)"));
      }
      // Continue after a damaged segment from where its header says the next one
      // starts, so one problem is not reported again for every later segment.
      expected_position = scan.valid_bytes > 0 ? scan.next_position : expected_position;
      if (scan.has_problem && i + 1 < found.size())
        expected_position = found[i + 1].first;
    }
  }

  void check_event(const std::string& path, const located_record& record) {
    const event_view& event = record.event;
    std::string stream_id{event.stream_id};
    auto& version = stream_versions_[stream_id];
    if (event.stream_version != version + 1)
      problem(problem_severity::error, path, record.offset,
              "stream " + stream_id + " jumps from version " + std::to_string(version) + " to "
                + std::to_string(event.stream_version) + " at position "
                + std::to_string(event.position));
    version = event.stream_version;
    if (!event_ids_.insert(event.event_id).second)
      problem(problem_severity::error, path, record.offset,
              "event id " + to_string(event.event_id) + " is not unique (position "
                + std::to_string(event.position) + ")");
    if (!event.command.is_nil()) {
      auto [it, inserted] = commands_.try_emplace(event.command);
      if (!inserted
          && (it->second.stream_id != stream_id || it->second.last_position + 1 != event.position))
        problem(problem_severity::error, path, record.offset,
                "command id " + to_string(event.command)
                  + " is reused: its events are not contiguous in one stream (position "
                  + std::to_string(event.position) + ")");
      it->second.stream_id = stream_id;
      it->second.last_position = event.position;
    }
    auto collected = snapshot_events_.find(stream_id);
    if (collected != snapshot_events_.end())
      collected->second.push_back(event.to_event());
  }

  void check_snapshots() {
    for (const auto& saved : snapshots_) {
      const std::string& path = snapshot_paths_[saved.stream_id];
      auto version = stream_versions_.find(saved.stream_id);
      std::uint64_t current = version == stream_versions_.end() ? 0 : version->second;
      if (saved.stream_version > current) {
        problem(problem_severity::error, path, 0,
                "snapshot at version " + std::to_string(saved.stream_version)
                  + " is ahead of its stream (version " + std::to_string(current) + ")");
        continue;
      }
      if (!options_.check_snapshot)
        continue;
      auto& events = snapshot_events_[saved.stream_id];
      std::vector<recorded_event> prefix;
      for (const auto& event : events)
        if (event.stream_version <= saved.stream_version)
          prefix.push_back(event);
      if (auto difference = options_.check_snapshot(saved, prefix))
        problem(problem_severity::error, path, 0,
                "snapshot does not match the replayed stream: " + *difference);
    }
  }

  file_system& fs_;
  const std::string& directory_;
  const verify_options& options_;
  verify_report report_;
  std::unordered_map<std::string, std::uint64_t> stream_versions_;
  std::unordered_set<command_id> event_ids_;
  std::unordered_map<command_id, command_state> commands_;
  std::vector<snapshot> snapshots_;
  std::map<std::string, std::string> snapshot_paths_;
  std::unordered_map<std::string, std::vector<recorded_event>> snapshot_events_;
};

}  // namespace

verify_report verify_data_directory(file_system& fs, const std::string& directory,
                                    const verify_options& options) {
  return verifier{fs, directory, options}.run();
}

}  // namespace tally::store
