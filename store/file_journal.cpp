// The embedded durable journal: a segmented, checksummed, append-only log with in-memory
// indexes rebuilt by a scan at open. Format and recovery rules: docs/log_format.md.
#include "store/file_journal.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>

#include "store/file_system.hpp"
#include "store/record_codec.hpp"
#include "store/segment_scanner.hpp"
#include "tally/assert.hpp"
#include "tally/file_journal.hpp"

namespace tally::store {

std::string segment_file_name(std::uint64_t first_position) {
  char digits[segment_file_position_digits + 1];
  std::snprintf(digits, sizeof digits, "%020llu",
                static_cast<unsigned long long>(first_position));
  return std::string{segment_file_prefix} + digits + std::string{segment_file_suffix};
}

std::optional<std::uint64_t> parse_segment_file_name(std::string_view name) {
  if (name.size() != segment_file_prefix.size() + segment_file_position_digits
                       + segment_file_suffix.size()
      || name.substr(0, segment_file_prefix.size()) != segment_file_prefix
      || name.substr(name.size() - segment_file_suffix.size()) != segment_file_suffix)
    return std::nullopt;
  std::uint64_t value = 0;
  for (char digit : name.substr(segment_file_prefix.size(), segment_file_position_digits)) {
    if (digit < '0' || digit > '9')
      return std::nullopt;
    auto next = static_cast<std::uint64_t>(digit - '0');
    if (__builtin_mul_overflow(value, 10U, &value) || __builtin_add_overflow(value, next, &value))
      return std::nullopt;
  }
  return value;
}

std::string snapshot_file_name(std::string_view stream_id) {
  static constexpr char hex[] = "0123456789abcdef";
  constexpr std::size_t hex_stream_id_bytes_max = 100;
  std::string out;
  if (stream_id.size() <= hex_stream_id_bytes_max && !stream_id.empty()) {
    for (char byte : stream_id) {
      auto value = static_cast<unsigned char>(byte);
      out.push_back(hex[value >> 4]);
      out.push_back(hex[value & 0x0F]);
    }
  } else {
    std::uint64_t hash = stable_hash(stream_id);
    out = "h";
    for (int shift = 60; shift >= 0; shift -= 4)
      out.push_back(hex[(hash >> shift) & 0x0F]);
  }
  return out + std::string{snapshot_file_suffix};
}

namespace {

status corrupt(std::string message) {
  return status{error_code::journal_corrupt, std::move(message)};
}

bool ends_with(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

struct segment_state {
  std::uint64_t first_position = 0;
  std::string path;
  std::unique_ptr<file> handle;
  /// record_offsets[i] is where the record of position first_position + i starts.
  std::vector<std::uint64_t> record_offsets;
  /// End of the committed bytes; the appender writes here next.
  std::uint64_t end_offset = 0;

  std::uint64_t record_end(std::size_t index) const {
    return index + 1 < record_offsets.size() ? record_offsets[index + 1] : end_offset;
  }
};

/// What one event contributes to the indexes, independent of where it came from
/// (append_batch's recorded_event or recovery's event_view).
struct index_entry {
  std::uint64_t position;
  std::string_view stream_id;
  std::uint64_t stream_version;
  command_id command;
  std::uint64_t command_hash;
};

class file_journal final : public journal {
public:
  file_journal(file_system& fs, file_journal_options options, std::unique_ptr<file_lock> lock)
    : fs_(fs), options_(std::move(options)), lock_(std::move(lock)),
      snapshot_directory_(join_path(options_.directory, snapshot_directory_name)) {}

  status recover(recovery_report& report);

  status append_batch(const std::vector<recorded_event>& events) override;
  result<std::vector<recorded_event>> read_stream(std::string_view stream_id,
                                                  std::uint64_t from_version,
                                                  std::size_t max_count) const override;
  result<std::vector<recorded_event>> read_all(std::uint64_t from_position,
                                               std::size_t max_count) const override;
  std::uint64_t head() const override {
    std::shared_lock guard{mutex_};
    return head_;
  }
  std::uint64_t stream_version(std::string_view stream_id) const override {
    std::shared_lock guard{mutex_};
    auto it = streams_.find(std::string{stream_id});
    return it == streams_.end() ? 0 : it->second.size();
  }
  std::optional<command_record> find_command(const command_id& command) const override {
    std::shared_lock guard{mutex_};
    auto it = commands_.find(command);
    if (it == commands_.end())
      return std::nullopt;
    return it->second;
  }
  status save_snapshot(const snapshot& saved) override;
  std::optional<snapshot> load_snapshot(std::string_view stream_id) const override {
    std::shared_lock guard{mutex_};
    auto it = snapshots_.find(std::string{stream_id});
    if (it == snapshots_.end())
      return std::nullopt;
    return it->second;
  }
  bool blocks_on_io() const override { return true; }
  std::string describe() const override { return "file:" + options_.directory; }

private:
  // Checks that `entries` continue the indexes (stream versions without gaps, a
  // command's events contiguous in one stream). Returns nullptr or the reason.
  const char* check_batch(const std::vector<index_entry>& entries) const;
  // Adds checked entries to the indexes. Caller holds the unique lock.
  void index_batch(const std::vector<index_entry>& entries);
  // Enters the fail-stop state and returns the error every later append returns.
  status fail(const status& cause);
  status start_segment(std::uint64_t first_position);
  status recover_segments(recovery_report& report);
  status recover_snapshots(recovery_report& report);
  // Reads and decodes `count` records of `segment` from index `first`. Caller holds
  // the shared lock.
  status read_records(const segment_state& segment, std::size_t first, std::size_t count,
                      std::vector<recorded_event>& out) const;
  const segment_state* segment_of(std::uint64_t position) const;

  file_system& fs_;
  const file_journal_options options_;
  const std::unique_ptr<file_lock> lock_;
  const std::string snapshot_directory_;

  // Guards everything below. The appender takes it exclusively only to publish a
  // batch that is already durable, never across I/O, so readers wait microseconds.
  mutable std::shared_mutex mutex_;
  std::vector<std::unique_ptr<segment_state>> segments_;
  std::uint64_t head_ = 0;
  std::unordered_map<std::string, std::vector<std::uint64_t>> streams_;  // version-1 -> position
  std::unordered_map<command_id, command_record> commands_;
  std::unordered_map<std::string, snapshot> snapshots_;

  // Appender-only state.
  std::string failure_;   // non-empty once failed (fail-stop)
  std::string encoded_;   // reused encoding buffer
};

const char* file_journal::check_batch(const std::vector<index_entry>& entries) const {
  // Small local maps: a batch touches few streams and commands relative to the index.
  std::unordered_map<std::string_view, std::uint64_t> batch_versions;
  std::unordered_map<command_id, std::pair<std::string_view, std::uint64_t>> batch_commands;
  std::uint64_t expected_position = head_ + 1;
  for (const auto& entry : entries) {
    if (entry.position != expected_position)
      return "event position does not continue the journal";
    ++expected_position;
    auto version = batch_versions.find(entry.stream_id);
    std::uint64_t current;
    if (version != batch_versions.end()) {
      current = version->second;
    } else {
      auto stream = streams_.find(std::string{entry.stream_id});
      current = stream == streams_.end() ? 0 : stream->second.size();
    }
    if (entry.stream_version != current + 1)
      return "stream version does not continue its stream";
    batch_versions[entry.stream_id] = entry.stream_version;
    if (entry.command.is_nil())
      continue;
    auto in_batch = batch_commands.find(entry.command);
    if (in_batch != batch_commands.end()) {
      if (in_batch->second.first != entry.stream_id
          || in_batch->second.second + 1 != entry.position)
        return "events of one command are not contiguous in one stream";
    } else if (auto known = commands_.find(entry.command); known != commands_.end()) {
      if (known->second.stream_id != entry.stream_id
          || known->second.last_position + 1 != entry.position)
        return "events of one command are not contiguous in one stream";
    }
    batch_commands[entry.command] = {entry.stream_id, entry.position};
  }
  return nullptr;
}

void file_journal::index_batch(const std::vector<index_entry>& entries) {
  for (const auto& entry : entries) {
    TALLY_ASSERT(entry.position == head_ + 1);
    auto& positions = streams_[std::string{entry.stream_id}];
    TALLY_ASSERT(entry.stream_version == positions.size() + 1);
    positions.push_back(entry.position);
    head_ = entry.position;
    if (entry.command.is_nil())
      continue;
    auto [it, inserted] = commands_.try_emplace(entry.command);
    auto& record = it->second;
    if (inserted) {
      record.stream_id = std::string{entry.stream_id};
      record.command_hash = entry.command_hash;
      record.first_version = entry.stream_version;
      record.first_position = entry.position;
    }
    record.last_version = entry.stream_version;
    record.last_position = entry.position;
  }
}

status file_journal::fail(const status& cause) {
  failure_ = cause.to_string();
  return status{error_code::store_unavailable, "journal stopped after a failed write: " + failure_};
}

status file_journal::start_segment(std::uint64_t first_position) {
  std::string path = join_path(options_.directory, segment_file_name(first_position));
  auto opened = fs_.open_file(path, file_access::read_write, file_creation::create_exclusive);
  if (!opened)
    return opened.error();
  std::string header;
  encode_segment_header(first_position, header);
  if (auto written = (*opened)->write_at(0, header))
    return written;
  // The header and the directory entry must be durable before any record is
  // acknowledged from this segment, or a crash could lose the whole file.
  if (auto synced = (*opened)->sync())
    return synced;
  if (auto synced = fs_.sync_directory(options_.directory))
    return synced;
  auto segment = std::make_unique<segment_state>();
  segment->first_position = first_position;
  segment->path = std::move(path);
  segment->handle = std::move(*opened);
  segment->end_offset = segment_header_bytes;
  std::unique_lock guard{mutex_};
  segments_.push_back(std::move(segment));
  return status::ok();
}

status file_journal::append_batch(const std::vector<recorded_event>& events) {
  TALLY_ASSERT(!events.empty() && events.size() <= append_batch_events_max);
  if (!failure_.empty())
    return status{error_code::store_unavailable, "journal stopped after a failed write: " + failure_};
  std::vector<index_entry> entries;
  entries.reserve(events.size());
  std::size_t batch_bytes = 0;
  for (const auto& event : events) {
    entries.push_back(index_entry{event.position, event.stream_id, event.stream_version,
                                  event.command, event.command_hash});
    batch_bytes += encoded_event_record_bytes(event);
  }
  {
    // Only this thread changes the indexes, but check_batch reads them, and a shared
    // lock keeps that honest for TSan at no real cost.
    std::shared_lock guard{mutex_};
    TALLY_ASSERT_MSG(check_batch(entries) == nullptr,
                     "append_batch precondition: positions and versions must continue");
  }
  encoded_.clear();
  encoded_.reserve(batch_bytes);
  for (std::size_t i = 0; i < events.size(); ++i)
    encode_event_record(events[i],
                        i + 1 == events.size() ? record_type::event_batch_end : record_type::event,
                        encoded_);
  TALLY_ASSERT(encoded_.size() == batch_bytes);
  // A batch never spans segments (recovery keeps whole batches per segment). Start a
  // new segment when this one has records and the batch would push it over the limit.
  if (segments_.empty()
      || (segments_.back()->end_offset > segment_header_bytes
          && segments_.back()->end_offset + batch_bytes > options_.segment_bytes_max)) {
    if (auto started = start_segment(events.front().position))
      return fail(started);
  }
  segment_state& segment = *segments_.back();
  // One write and one fdatasync for the whole batch: this is the group commit.
  if (auto written = segment.handle->write_at(segment.end_offset, encoded_))
    return fail(written);
  if (auto synced = segment.handle->sync())
    return fail(synced);
  std::unique_lock guard{mutex_};
  std::uint64_t offset = segment.end_offset;
  for (const auto& event : events) {
    segment.record_offsets.push_back(offset);
    offset += encoded_event_record_bytes(event);
  }
  segment.end_offset = offset;
  index_batch(entries);
  return status::ok();
}

const segment_state* file_journal::segment_of(std::uint64_t position) const {
  auto it = std::upper_bound(segments_.begin(), segments_.end(), position,
                             [](std::uint64_t value, const std::unique_ptr<segment_state>& s) {
                               return value < s->first_position;
                             });
  if (it == segments_.begin())
    return nullptr;
  const segment_state* segment = std::prev(it)->get();
  if (position - segment->first_position >= segment->record_offsets.size())
    return nullptr;
  return segment;
}

status file_journal::read_records(const segment_state& segment, std::size_t first,
                                  std::size_t count, std::vector<recorded_event>& out) const {
  TALLY_ASSERT(count > 0 && first + count <= segment.record_offsets.size());
  std::uint64_t begin = segment.record_offsets[first];
  std::uint64_t end = segment.record_end(first + count - 1);
  std::string buffer(static_cast<std::size_t>(end - begin), '\0');
  auto read = segment.handle->read_at(begin, buffer.data(), buffer.size());
  if (!read)
    return read.error();
  if (*read != buffer.size())
    return corrupt(segment.path + ": offset " + std::to_string(begin)
                   + ": file shorter than its index (truncated while open?)");
  std::string_view rest{buffer};
  for (std::size_t i = 0; i < count; ++i) {
    decoded_record record;
    // The CRC was checked at open; checking again here catches corruption that
    // happened since (bad disk, another writer) instead of returning wrong data.
    if (const char* problem = decode_event_record(rest, record))
      return corrupt(segment.path + ": offset "
                     + std::to_string(segment.record_offsets[first + i]) + ": " + problem);
    if (record.event.position != segment.first_position + first + i)
      return corrupt(segment.path + ": offset "
                     + std::to_string(segment.record_offsets[first + i])
                     + ": record position does not match the index");
    out.push_back(record.event.to_event());
    rest.remove_prefix(record.bytes);
  }
  return status::ok();
}

result<std::vector<recorded_event>> file_journal::read_all(std::uint64_t from_position,
                                                           std::size_t max_count) const {
  TALLY_ASSERT(max_count <= read_events_max);
  std::shared_lock guard{mutex_};
  std::vector<recorded_event> out;
  std::uint64_t position = from_position == 0 ? 1 : from_position;
  while (position <= head_ && out.size() < max_count) {
    const segment_state* segment = segment_of(position);
    TALLY_ASSERT(segment != nullptr);
    std::size_t first = static_cast<std::size_t>(position - segment->first_position);
    std::size_t count = std::min(segment->record_offsets.size() - first, max_count - out.size());
    if (auto read = read_records(*segment, first, count, out))
      return read;
    position += count;
  }
  return out;
}

result<std::vector<recorded_event>> file_journal::read_stream(std::string_view stream_id,
                                                              std::uint64_t from_version,
                                                              std::size_t max_count) const {
  TALLY_ASSERT(max_count <= read_events_max);
  std::shared_lock guard{mutex_};
  std::vector<recorded_event> out;
  auto it = streams_.find(std::string{stream_id});
  if (it == streams_.end())
    return out;
  const auto& positions = it->second;
  std::uint64_t version = from_version == 0 ? 1 : from_version;
  while (version <= positions.size() && out.size() < max_count) {
    std::uint64_t position = positions[version - 1];
    const segment_state* segment = segment_of(position);
    TALLY_ASSERT(segment != nullptr);
    // Coalesce a run of this stream's events that are adjacent in the log into one read.
    std::size_t first = static_cast<std::size_t>(position - segment->first_position);
    std::size_t count = 1;
    while (version + count <= positions.size() && out.size() + count < max_count
           && positions[version + count - 1] == position + count
           && first + count < segment->record_offsets.size())
      ++count;
    if (auto read = read_records(*segment, first, count, out))
      return read;
    version += count;
  }
  return out;
}

status file_journal::save_snapshot(const snapshot& saved) {
  if (!failure_.empty())
    return status{error_code::store_unavailable, "journal stopped after a failed write: " + failure_};
  {
    std::shared_lock guard{mutex_};
    auto it = streams_.find(saved.stream_id);
    TALLY_ASSERT_MSG(it != streams_.end() && saved.stream_version <= it->second.size(),
                     "save_snapshot precondition: snapshot ahead of its stream");
  }
  // Write, sync, rename, sync the directory: a crash leaves the old or the new
  // snapshot, never a torn one. A failure is treated like a failed append (the state
  // of the page cache after a failed fsync is unknown).
  if (auto written = write_file_atomically(fs_, snapshot_directory_,
                                           snapshot_file_name(saved.stream_id),
                                           encode_snapshot_file(saved)))
    return fail(written);
  std::unique_lock guard{mutex_};
  snapshots_[saved.stream_id] = saved;
  return status::ok();
}

status file_journal::recover(recovery_report& report) {
  auto start = std::chrono::steady_clock::now();
  if (auto recovered = recover_segments(report))
    return recovered;
  report.scan_duration_us = static_cast<std::uint64_t>(
    std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now()
                                                          - start)
      .count());
  report.events_recovered = head_;
  return recover_snapshots(report);
}

status file_journal::recover_segments(recovery_report& report) {
  auto names = fs_.list_directory(options_.directory);
  if (!names)
    return names.error();
  std::vector<std::pair<std::uint64_t, std::string>> found;
  for (const auto& name : *names)
    if (auto position = parse_segment_file_name(name))
      found.emplace_back(*position, join_path(options_.directory, name));
  std::sort(found.begin(), found.end());

  bool directory_changed = false;
  std::string bytes;
  for (std::size_t i = 0; i < found.size(); ++i) {
    const auto& [name_position, path] = found[i];
    bool is_last = i + 1 == found.size();
    auto opened = fs_.open_file(path, file_access::read_write, file_creation::open_existing);
    if (!opened)
      return opened.error();
    auto read = read_whole_file(**opened, segment_file_bytes_max);
    if (!read)
      return read.error().code() == error_code::invalid_argument
               ? corrupt(read.error().message())
               : read.error();
    bytes = std::move(*read);
    ++report.segments_scanned;
    report.bytes_scanned += bytes.size();

    auto segment = std::make_unique<segment_state>();
    segment->first_position = name_position;
    segment->path = path;
    segment_scan scan;
    std::uint64_t header_position = 0;
    if (decode_segment_header(bytes, header_position) == nullptr
        && header_position != name_position) {
      // A renamed or copied file: its name and contents disagree.
      scan.has_problem = true;
      scan.problem = "file name says first position " + std::to_string(name_position)
                     + " but the header says " + std::to_string(header_position);
      scan.valid_record_after_problem = true;
    } else {
      std::vector<index_entry> entries;
      scan = scan_segment(bytes, head_ + 1, [&](const std::vector<located_record>& batch) {
        entries.clear();
        for (const auto& record : batch)
          entries.push_back(index_entry{record.event.position, record.event.stream_id,
                                        record.event.stream_version, record.event.command,
                                        record.event.command_hash});
        if (const char* problem = check_batch(entries))
          return problem;
        // Recovery runs before the journal is shared, but index_batch's contract is
        // "caller holds the lock"; uncontended, it costs nothing.
        std::unique_lock guard{mutex_};
        for (const auto& record : batch)
          segment->record_offsets.push_back(record.offset);
        index_batch(entries);
        return static_cast<const char*>(nullptr);
      });
    }
    segment->end_offset = scan.valid_bytes;
    segment->handle = std::move(*opened);
    if (!scan.has_problem) {
      segments_.push_back(std::move(segment));
      continue;
    }
    std::string where = path + ": offset " + std::to_string(scan.problem_offset) + ": "
                        + scan.problem;
    bool torn_tail = is_last && !scan.valid_record_after_problem;
    if (!torn_tail) {
      if (options_.repair != repair_mode::truncate_after_corruption)
        return corrupt(where
                       + (is_last ? " (valid records follow it"
                                  : " (later segments follow it")
                       + "; open with repair_mode::truncate_after_corruption to drop "
                         "everything from there)");
      report.repaired_corruption = true;
    }
    std::string reason = (torn_tail ? "torn tail: " : "repair: ") + scan.problem + " at offset "
                         + std::to_string(scan.problem_offset);
    if (!scan.header_valid || scan.valid_bytes == 0) {
      // Nothing of this segment is usable (a segment whose creation was cut short,
      // or a damaged header): remove the whole file.
      segment->handle.reset();
      if (auto removed = fs_.remove_file(path))
        return removed;
      directory_changed = true;
      report.actions.push_back(recovery_action{path, 0, bytes.size(), reason});
    } else {
      if (auto cut = segment->handle->truncate(scan.valid_bytes))
        return cut;
      if (auto synced = segment->handle->sync())
        return synced;
      report.actions.push_back(
        recovery_action{path, scan.valid_bytes, bytes.size() - scan.valid_bytes, reason});
      segments_.push_back(std::move(segment));
    }
    // Only repair reaches here with later segments: everything after the corruption goes.
    for (std::size_t later = i + 1; later < found.size(); ++later) {
      auto size = fs_.file_size(found[later].second);
      if (auto removed = fs_.remove_file(found[later].second))
        return removed;
      directory_changed = true;
      report.actions.push_back(recovery_action{found[later].second, 0, size ? *size : 0,
                                               "repair: segment after corruption removed"});
    }
    break;
  }
  if (directory_changed)
    if (auto synced = fs_.sync_directory(options_.directory))
      return synced;
  return status::ok();
}

status file_journal::recover_snapshots(recovery_report& report) {
  auto names = fs_.list_directory(snapshot_directory_);
  if (!names)
    return names.error();
  bool directory_changed = false;
  auto drop = [&](const std::string& path, std::uint64_t bytes, std::string reason) {
    if (auto removed = fs_.remove_file(path))
      return removed;
    directory_changed = true;
    report.actions.push_back(recovery_action{path, 0, bytes, std::move(reason)});
    return status::ok();
  };
  std::sort(names->begin(), names->end());  // deterministic reports
  for (const auto& name : *names) {
    std::string path = join_path(snapshot_directory_, name);
    if (ends_with(name, temporary_file_suffix)) {
      auto size = fs_.file_size(path);
      if (auto dropped = drop(path, size ? *size : 0, "unfinished snapshot write removed"))
        return dropped;
      continue;
    }
    if (!ends_with(name, snapshot_file_suffix))
      continue;
    auto opened = fs_.open_file(path, file_access::read_only, file_creation::open_existing);
    if (!opened)
      return opened.error();
    auto read = read_whole_file(**opened,
                                snapshot_header_bytes + snapshot_body_fixed_bytes
                                  + record_stream_id_bytes_max + snapshot_state_bytes_max);
    opened->reset();
    if (!read && read.error().code() != error_code::invalid_argument)
      return read.error();
    snapshot loaded;
    const char* problem = read ? decode_snapshot_file(*read, loaded) : "file too large";
    std::string reason;
    if (problem != nullptr)
      reason = std::string{"snapshot dropped: "} + problem;
    else if (snapshot_file_name(loaded.stream_id) != name)
      reason = "snapshot dropped: file name does not match its stream id";
    else if (loaded.stream_version > (streams_.count(loaded.stream_id) == 0
                                        ? 0
                                        : streams_[loaded.stream_id].size()))
      // Possible only after a repair cut the stream short: the snapshot describes
      // events that no longer exist, and would be wrong once new ones are appended.
      reason = "snapshot dropped: ahead of its stream";
    if (!reason.empty()) {
      if (auto dropped = drop(path, read ? read->size() : 0, reason))
        return dropped;
      continue;
    }
    ++report.snapshots_loaded;
    std::string stream_id = loaded.stream_id;
    snapshots_[stream_id] = std::move(loaded);
  }
  if (directory_changed)
    if (auto synced = fs_.sync_directory(snapshot_directory_))
      return synced;
  return status::ok();
}

}  // namespace

}  // namespace tally::store

namespace tally {

result<std::unique_ptr<journal>> open_file_journal(file_system& fs,
                                                   const file_journal_options& options,
                                                   recovery_report* report) {
  using namespace tally::store;
  if (options.directory.empty())
    return status{error_code::invalid_argument, "file journal: directory is empty"};
  if (options.segment_bytes_max < segment_bytes_min
      || options.segment_bytes_max > segment_file_bytes_max / 2)
    return status{error_code::invalid_argument,
                  "file journal: segment_bytes_max must be in [" + std::to_string(segment_bytes_min)
                    + ", " + std::to_string(segment_file_bytes_max / 2) + "]"};
  auto created = fs.create_directory(options.directory, directory_permissions_private);
  if (!created)
    return created.error();
  if (*created)
    if (auto synced = fs.sync_directory(parent_directory(options.directory)))
      return synced;
  auto lock = fs.lock_file(join_path(options.directory, lock_file_name));
  if (!lock)
    return status{lock.error().code(),
                  "data directory " + options.directory + " is in use: " + lock.error().message()};
  std::string snapshot_directory = join_path(options.directory, snapshot_directory_name);
  auto snapshots_created = fs.create_directory(snapshot_directory, directory_permissions_private);
  if (!snapshots_created)
    return snapshots_created.error();
  if (*snapshots_created)
    if (auto synced = fs.sync_directory(options.directory))
      return synced;
  auto opened = std::make_unique<file_journal>(fs, options, std::move(*lock));
  recovery_report local_report;
  recovery_report& out = report != nullptr ? *report : local_report;
  out = recovery_report{};
  if (auto recovered = opened->recover(out))
    return recovered;
  return std::unique_ptr<journal>{std::move(opened)};
}

}  // namespace tally
