// The embedded durable journal: a segmented, checksummed, append-only log with in-memory
// indexes (store/journal_index.hpp) loaded from an index checkpoint and/or rebuilt by a
// scan at open. Format and recovery rules: docs/log_format.md.
#include "store/file_journal.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <shared_mutex>
#include <map>
#include <unordered_map>

#include "store/crc32c.hpp"
#include "store/file_system.hpp"
#include "store/journal_index.hpp"
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

/// Writes `count` zero bytes at `offset` (preallocation), in bounded chunks.
status write_zeros(file& handle, std::uint64_t offset, std::uint64_t count) {
  static const std::string zeros(1024 * 1024, '\0');
  while (count > 0) {
    auto chunk = static_cast<std::size_t>(std::min<std::uint64_t>(count, zeros.size()));
    if (auto written = handle.write_at(offset, std::string_view{zeros.data(), chunk}))
      return written;
    offset += chunk;
    count -= chunk;
  }
  return status::ok();
}

bool ends_with(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

struct segment_state {
  std::uint64_t first_position = 0;
  std::string path;
  std::unique_ptr<file> handle;
  /// record_offsets[i] is where the record of position first_position + i starts
  /// (32 bits: a segment file is at most segment_file_bytes_max bytes).
  std::vector<std::uint32_t> record_offsets;
  /// End of the committed bytes; the appender writes here next.
  std::uint64_t end_offset = 0;
  /// The file holds zeros from end_offset up to here (preallocated); at most
  /// end_offset means none.
  std::uint64_t zeroed_end = 0;

  std::uint64_t record_end(std::size_t index) const {
    return index + 1 < record_offsets.size() ? record_offsets[index + 1] : end_offset;
  }
};
static_assert(segment_file_bytes_max <= UINT32_MAX);

/// What one event contributes to the indexes, independent of where it came from
/// (append_batch's recorded_event or recovery's event_view).
struct index_entry {
  std::uint64_t position;
  std::string_view stream_id;
  std::uint64_t stream_version;
  command_id command;
  std::uint64_t command_hash;
};

/// A run of consecutive events of one command within a batch (its events must be
/// contiguous, so a batch holds each command at most once as a run).
struct command_run {
  command_id command;
  std::uint64_t hash = 0;
  std::uint32_t first = 0;   ///< index of its first event in the batch
  std::uint32_t events = 0;
  std::uint32_t stream = 0;
  bool known = false;        ///< continues a command of an earlier batch
  std::size_t slot = 0;      ///< the known entry's slot, or where to insert it
};

class file_journal final : public journal {
public:
  file_journal(file_system& fs, file_journal_options options, std::unique_ptr<file_lock> lock)
    : fs_(fs), options_(std::move(options)), lock_(std::move(lock)),
      snapshot_directory_(join_path(options_.directory, snapshot_directory_name)) {}

  ~file_journal() override {
    // A clean close: persist the indexes so the next open scans only what follows.
    // Best effort: a failure leaves the old checkpoint (or a .tmp file) behind, which
    // the next open uses for less or ignores.
    if (!recovered_ || !failure_.empty() || !options_.index_checkpoint || head_ == 0
        || head_ == checkpoint_head_)
      return;
    try {
      (void)write_checkpoint();
    } catch (const std::exception&) {  // NOLINT(bugprone-empty-catch): best effort
    }
  }
  file_journal(const file_journal&) = delete;
  file_journal& operator=(const file_journal&) = delete;

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
    const auto* positions = streams_.positions(stream_id);
    return positions == nullptr ? 0 : positions->size();
  }
  std::optional<command_record> find_command(const command_id& command) const override;
  void prefetch_checks(const std::vector<append_check_key>& keys) const override {
    std::shared_lock guard{mutex_};
    store::prefetch_checks(streams_, commands_, keys);
  }
  status save_snapshot(const snapshot& saved) override;
  std::optional<snapshot> load_snapshot(std::string_view stream_id) const override {
    std::shared_lock guard{mutex_};
    auto it = snapshots_.find(stream_id);
    if (it == snapshots_.end())
      return std::nullopt;
    return it->second;
  }
  bool blocks_on_io() const override { return true; }
  std::string describe() const override { return "file:" + options_.directory; }

private:
  // Checks that `entries` continue the indexes (positions continue the head, stream
  // versions without gaps, a command's events contiguous in one stream) and prepares
  // index_batch(): interns new streams, resolves each entry's stream and command, and
  // reserves room for new commands. Returns nullptr or the reason. Caller holds the
  // unique lock. Changes nothing a reader can observe except adding empty streams.
  const char* check_batch(const std::vector<index_entry>& entries);
  // Adds the entries check_batch() accepted last to the indexes. Caller holds the
  // unique lock, and nothing changed the indexes since check_batch().
  void index_batch(const std::vector<index_entry>& entries);
  // Enters the fail-stop state and returns the error every later append returns.
  status fail(const status& cause);
  /// Cuts a segment that is about to be sealed back to its last record.
  status seal_segment(segment_state& segment);
  status start_segment(std::uint64_t first_position);
  status recover_segments(recovery_report& report);
  // Loads index.checkpoint when it matches the segments in `found` (sorted): fills
  // the indexes and the first N segments, and returns N (0: no usable checkpoint; a
  // damaged or mismatching one is removed and reported). Errors only for failures
  // of the removal.
  result<std::size_t> load_checkpoint(
    const std::vector<std::pair<std::uint64_t, std::string>>& found, recovery_report& report);
  // Writes index.checkpoint for the current indexes (tmp file, sync, rename, sync the
  // directory). Caller holds the lock or has the journal to itself.
  status write_checkpoint();
  // Empties the indexes and the segment list (after a rejected checkpoint).
  void reset_indexes();
  status recover_snapshots(recovery_report& report);
  // Reads and decodes `count` records of `segment` from index `first`. Caller holds
  // the shared lock.
  status read_records(const segment_state& segment, std::size_t first, std::size_t count,
                      std::vector<recorded_event>& out) const;
  const segment_state* segment_of(std::uint64_t position) const;
  std::uint64_t stream_size(std::string_view stream_id) const {
    const auto* positions = streams_.positions(stream_id);
    return positions == nullptr ? 0 : positions->size();
  }

  file_system& fs_;
  const file_journal_options options_;
  const std::unique_ptr<file_lock> lock_;
  const std::string snapshot_directory_;

  // Guards everything below. The appender takes it exclusively only to check and to
  // publish a batch that is already durable, never across I/O, so readers wait
  // microseconds.
  mutable std::shared_mutex mutex_;
  std::vector<std::unique_ptr<segment_state>> segments_;
  std::uint64_t head_ = 0;
  stream_table streams_;
  command_table commands_;
  std::map<std::string, snapshot, std::less<>> snapshots_;

  // Appender-only state.
  bool recovered_ = false;            // recover() succeeded: the indexes match the log
  std::uint64_t checkpoint_head_ = 0; // head of the checkpoint on disk (loaded/written)
  std::string failure_;   // non-empty once failed (fail-stop)
  std::string encoded_;   // reused encoding buffer
  std::vector<index_entry> entries_;          // the batch being appended or recovered
  std::uint64_t batch_number_ = 0;            // counts check_batch() calls
  std::vector<std::uint32_t> batch_streams_;  // stream number of each entry
  std::vector<command_run> batch_runs_;
  std::vector<std::uint32_t> run_set_;        // open addressing over batch_runs_ (+1)
};

std::optional<command_record> file_journal::find_command(const command_id& command) const {
  if (command.is_nil())
    return std::nullopt;
  std::shared_lock guard{mutex_};
  const auto* found = commands_.find(command, command_table::hash(command));
  if (found == nullptr)
    return std::nullopt;
  return command_record_of(streams_, *found);
}

const char* file_journal::check_batch(const std::vector<index_entry>& entries) {
  ++batch_number_;
  batch_streams_.resize(entries.size());
  batch_runs_.clear();
  std::uint64_t expected_position = head_ + 1;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const index_entry& entry = entries[i];
    if (entry.position != expected_position)
      return "event position does not continue the journal";
    ++expected_position;
    std::uint32_t number = streams_.intern(entry.stream_id, stream_table::hash(entry.stream_id));
    auto& stream = streams_[number];
    if (stream.check_batch != batch_number_) {
      stream.check_batch = batch_number_;
      stream.check_version = stream.positions.size();
    }
    if (entry.stream_version != stream.check_version + 1)
      return "stream version does not continue its stream";
    stream.check_version = entry.stream_version;
    batch_streams_[i] = number;
    streams_.prefetch_append(number);  // index_batch() appends there
    if (entry.command.is_nil())
      continue;
    if (i > 0 && entries[i - 1].command == entry.command) {
      if (batch_streams_[i - 1] != number)
        return "events of one command are not contiguous in one stream";
      ++batch_runs_.back().events;
      continue;
    }
    command_run run;
    run.command = entry.command;
    run.hash = command_table::hash(entry.command);
    run.first = static_cast<std::uint32_t>(i);
    run.events = 1;
    run.stream = number;
    batch_runs_.push_back(run);
  }
  if (batch_runs_.empty())
    return nullptr;
  // A command must not come back later in the batch after another one.
  if (batch_runs_.size() > 1) {
    std::size_t size = 8;
    while (size < batch_runs_.size() * 2)
      size *= 2;
    run_set_.assign(size, 0);
    std::size_t mask = size - 1;
    for (std::size_t r = 0; r < batch_runs_.size(); ++r) {
      std::size_t slot = batch_runs_[r].hash & mask;
      for (; run_set_[slot] != 0; slot = (slot + 1) & mask)
        if (batch_runs_[run_set_[slot] - 1].command == batch_runs_[r].command)
          return "events of one command are not contiguous in one stream";
      run_set_[slot] = static_cast<std::uint32_t>(r + 1);
    }
  }
  // Room for every run as a new command, so index_batch() never rehashes (which would
  // move the slots found here).
  commands_.reserve(commands_.size() + batch_runs_.size());
  constexpr std::size_t prefetch_distance = 16;
  for (std::size_t r = 0; r < std::min(prefetch_distance, batch_runs_.size()); ++r)
    commands_.prefetch(batch_runs_[r].hash);
  for (std::size_t r = 0; r < batch_runs_.size(); ++r) {
    if (r + prefetch_distance < batch_runs_.size())
      commands_.prefetch(batch_runs_[r + prefetch_distance].hash);
    command_run& run = batch_runs_[r];
    const auto* known = commands_.find(run.command, run.hash, &run.slot);
    if (known == nullptr)
      continue;
    // Only the batch's first run can continue a command of an earlier batch.
    if (known->stream != run.stream || known->last_position() + 1 != entries[run.first].position)
      return "events of one command are not contiguous in one stream";
    if (std::uint64_t{known->events} + run.events > UINT32_MAX)
      return "command has more events than the index can count";
    run.known = true;
  }
  return nullptr;
}

void file_journal::index_batch(const std::vector<index_entry>& entries) {
  TALLY_ASSERT(batch_streams_.size() == entries.size());
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const index_entry& entry = entries[i];
    TALLY_ASSERT(entry.position == head_ + 1);
    auto& positions = streams_[batch_streams_[i]].positions;
    TALLY_ASSERT(entry.stream_version == positions.size() + 1);
    positions.push_back(entry.position);
    head_ = entry.position;
  }
  for (const command_run& run : batch_runs_) {
    if (run.known) {
      command_table::entry* known = commands_.find(run.command, run.hash);
      TALLY_ASSERT(known != nullptr);
      known->events += run.events;
      continue;
    }
    command_table::entry& added = commands_.insert_at(run.command, run.slot);
    const index_entry& first = entries[run.first];
    added.command_hash = first.command_hash;
    added.first_position = first.position;
    added.events = run.events;
    added.stream = run.stream;
  }
  batch_runs_.clear();
}

status file_journal::fail(const status& cause) {
  failure_ = cause.detail_under(error_code::store_unavailable);
  return status{error_code::store_unavailable, "journal stopped after a failed write: " + failure_};
}

status file_journal::seal_segment(segment_state& segment) {
  // A sealed segment ends with its last record: readers of old segments (verify,
  // inspect, the index checkpoint's size check) see exactly the committed bytes.
  if (segment.zeroed_end <= segment.end_offset)
    return status::ok();
  if (auto cut = segment.handle->truncate(segment.end_offset))
    return cut;
  if (auto synced = segment.handle->sync())
    return synced;
  segment.zeroed_end = segment.end_offset;
  return status::ok();
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
  std::vector<index_entry>& entries = entries_;
  entries.clear();
  std::size_t batch_bytes = 0;
  for (const auto& event : events) {
    entries.push_back(index_entry{event.position, event.stream_id, event.stream_version,
                                  event.command, event.command_hash});
    batch_bytes += encoded_event_record_bytes(event);
  }
  {
    // check_batch interns new streams (readers may see a stream with no events, which
    // is what an unknown stream looks like) and prepares index_batch(): CPU only.
    std::unique_lock guard{mutex_};
    const char* problem = check_batch(entries);
    TALLY_ASSERT_MSG(problem == nullptr,
                     "append_batch precondition: positions and versions must continue");
  }
  encoded_.resize(batch_bytes);
  char* next = encoded_.data();
  for (std::size_t i = 0; i < events.size(); ++i)
    next = encode_event_record(
      events[i], i + 1 == events.size() ? record_type::event_batch_end : record_type::event, next);
  TALLY_ASSERT(next == encoded_.data() + encoded_.size());
  // A batch never spans segments (recovery keeps whole batches per segment). Start a
  // new segment when this one has records and the batch would push it over the limit.
  if (segments_.empty()
      || (segments_.back()->end_offset > segment_header_bytes
          && segments_.back()->end_offset + batch_bytes > options_.segment_bytes_max)) {
    if (!segments_.empty())
      if (auto sealed = seal_segment(*segments_.back()))
        return fail(sealed);
    if (auto started = start_segment(events.front().position))
      return fail(started);
  }
  segment_state& segment = *segments_.back();
  // One write and one fdatasync for the whole batch: this is the group commit. Past
  // the zero-filled part, the same sync also makes the next stretch of zeros durable.
  const std::uint64_t batch_end = segment.end_offset + batch_bytes;
  std::uint64_t zeroed_end = std::max(segment.zeroed_end, segment.end_offset);
  if (auto written = segment.handle->write_at(segment.end_offset, encoded_))
    return fail(written);
  if (batch_end > zeroed_end && options_.preallocate_bytes > 0) {
    zeroed_end = std::max(batch_end, std::min(batch_end + options_.preallocate_bytes,
                                              options_.segment_bytes_max));
    if (auto written = write_zeros(*segment.handle, batch_end, zeroed_end - batch_end))
      return fail(written);
  }
  if (auto synced = segment.handle->sync())
    return fail(synced);
  segment.zeroed_end = zeroed_end;
  std::unique_lock guard{mutex_};
  std::uint64_t offset = segment.end_offset;
  for (const auto& event : events) {
    segment.record_offsets.push_back(static_cast<std::uint32_t>(offset));
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
  const auto* found = streams_.positions(stream_id);
  if (found == nullptr)
    return out;
  const auto& positions = *found;
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
    const auto* positions = streams_.positions(saved.stream_id);
    TALLY_ASSERT_MSG(positions != nullptr && saved.stream_version <= positions->size(),
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

// ---- index checkpoint ------------------------------------------------------------------
//
// index.checkpoint (format in docs/log_format.md and store/record_format.hpp) holds the
// indexes as of a head position: the covered segments with their record offsets, every
// stream's positions and the command table's slots as they are in memory, so loading is
// sequential reads and no hashing. The arrays are written in host order, so only
// little-endian hosts (the format's byte order) write or read checkpoints.

constexpr bool host_is_little_endian =
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  true;
#else
  false;
#endif

constexpr std::size_t checkpoint_io_bytes = 4U * 1024 * 1024;

std::uint64_t load_u64(const char* bytes) noexcept {
  std::uint64_t value = 0;
  for (int i = 7; i >= 0; --i)
    value = (value << 8) | static_cast<unsigned char>(bytes[i]);
  return value;
}

std::uint32_t load_u32(const char* bytes) noexcept {
  std::uint32_t value = 0;
  for (int i = 3; i >= 0; --i)
    value = (value << 8) | static_cast<unsigned char>(bytes[i]);
  return value;
}

void store_u64(char* bytes, std::uint64_t value) noexcept {
  for (int i = 0; i < 8; ++i)
    bytes[i] = static_cast<char>(value >> (8 * i));
}

void store_u32(char* bytes, std::uint32_t value) noexcept {
  for (int i = 0; i < 4; ++i)
    bytes[i] = static_cast<char>(value >> (8 * i));
}

// Writes a file sequentially in large pieces, with the CRC of everything written.
class checkpoint_writer {
public:
  checkpoint_writer(file& out, std::uint64_t offset) : out_(out), offset_(offset) {}

  void put(const void* data, std::size_t size) {
    if (failed_ || size == 0)
      return;
    crc_ = crc32c_extend(crc_, data, size);
    if (buffer_.size() + size <= checkpoint_io_bytes) {
      buffer_.append(static_cast<const char*>(data), size);
      return;
    }
    flush();
    if (size >= checkpoint_io_bytes)
      write(std::string_view{static_cast<const char*>(data), size});
    else
      buffer_.append(static_cast<const char*>(data), size);
  }
  void put_u64(std::uint64_t value) {
    char bytes[8];
    store_u64(bytes, value);
    put(bytes, sizeof bytes);
  }
  void put_u32(std::uint32_t value) {
    char bytes[4];
    store_u32(bytes, value);
    put(bytes, sizeof bytes);
  }
  void put_u16(std::uint16_t value) {
    char bytes[2] = {static_cast<char>(value), static_cast<char>(value >> 8)};
    put(bytes, sizeof bytes);
  }

  status finish() {
    flush();
    return error_;
  }
  std::uint32_t crc() const noexcept { return crc_; }

private:
  void flush() {
    if (!buffer_.empty())
      write(buffer_);
    buffer_.clear();
  }
  void write(std::string_view data) {
    if (failed_)
      return;
    if (auto written = out_.write_at(offset_, data)) {
      failed_ = true;
      error_ = written;
      return;
    }
    offset_ += data.size();
  }

  file& out_;
  std::uint64_t offset_;
  std::string buffer_;
  std::uint32_t crc_ = 0;
  bool failed_ = false;
  status error_;
};

// Reads a file sequentially in large pieces, with the CRC of everything read. Reads
// past `end` fail (so a damaged count cannot make it read, or allocate, much).
class checkpoint_reader {
public:
  checkpoint_reader(const file& in, std::uint64_t offset, std::uint64_t end)
    : in_(in), offset_(offset), end_(end) {}

  /// Bytes left in the file.
  std::uint64_t left() const noexcept { return end_ - offset_ + (buffer_.size() - used_); }

  bool get(void* data, std::size_t size) {
    if (size == 0 && !failed_)
      return true;  // `data` may be null (an empty vector's)
    if (failed_ || size > left()) {
      failed_ = true;
      return false;
    }
    char* out = static_cast<char*>(data);
    std::size_t buffered = std::min(size, buffer_.size() - used_);
    std::memcpy(out, buffer_.data() + used_, buffered);
    used_ += buffered;
    out += buffered;
    std::size_t rest = size - buffered;
    if (rest >= checkpoint_io_bytes) {
      if (!read_into(out, rest))
        return false;
    } else if (rest > 0) {
      buffer_.resize(static_cast<std::size_t>(std::min<std::uint64_t>(checkpoint_io_bytes,
                                                                      end_ - offset_)));
      used_ = 0;
      if (!read_into(buffer_.data(), buffer_.size()))
        return false;
      std::memcpy(out, buffer_.data(), rest);
      used_ = rest;
    }
    crc_ = crc32c_extend(crc_, data, size);
    return true;
  }
  bool get_u64(std::uint64_t& value) {
    char bytes[8];
    if (!get(bytes, sizeof bytes))
      return false;
    value = load_u64(bytes);
    return true;
  }
  bool get_u32(std::uint32_t& value) {
    char bytes[4];
    if (!get(bytes, sizeof bytes))
      return false;
    value = load_u32(bytes);
    return true;
  }
  bool get_u16(std::uint16_t& value) {
    unsigned char bytes[2];
    if (!get(bytes, sizeof bytes))
      return false;
    value = static_cast<std::uint16_t>(bytes[0] | (bytes[1] << 8));
    return true;
  }

  std::uint32_t crc() const noexcept { return crc_; }
  /// The read error, if reading failed because of I/O (not a short file).
  const status& error() const noexcept { return error_; }

private:
  bool read_into(char* out, std::size_t size) {
    auto read = in_.read_at(offset_, out, size);
    if (!read || *read != size) {
      failed_ = true;
      if (!read)
        error_ = read.error();
      return false;
    }
    offset_ += size;
    return true;
  }

  const file& in_;
  std::uint64_t offset_;
  std::uint64_t end_;
  std::string buffer_;
  std::size_t used_ = 0;
  std::uint32_t crc_ = 0;
  bool failed_ = false;
  status error_;
};

void file_journal::reset_indexes() {
  segments_.clear();
  head_ = 0;
  streams_ = stream_table{};
  commands_.clear();
}

status file_journal::write_checkpoint() {
  if (!host_is_little_endian)
    return status::ok();
  commands_.finish_growth();  // the checkpoint holds one table
  std::string final_path = join_path(options_.directory, checkpoint_file_name);
  std::string temporary_path = final_path + std::string{temporary_file_suffix};
  auto exists = fs_.file_exists(temporary_path);
  if (!exists)
    return exists.error();
  if (*exists)
    if (auto removed = fs_.remove_file(temporary_path))
      return removed;
  auto opened = fs_.open_file(temporary_path, file_access::read_write,
                              file_creation::create_exclusive);
  if (!opened)
    return opened.error();
  file& out = **opened;
  checkpoint_writer writer{out, checkpoint_header_bytes};
  for (const auto& segment : segments_) {
    // The CRC field of the segment's last record identifies the bytes the checkpoint
    // was made from: a rewritten or replaced file fails the check at load.
    std::uint32_t last_crc = 0;
    if (!segment->record_offsets.empty()) {
      char field[4];
      auto read = segment->handle->read_at(segment->record_offsets.back() + record_crc_offset,
                                           field, sizeof field);
      if (!read)
        return read.error();
      if (*read != sizeof field)
        return corrupt(segment->path + ": shorter than its index");
      last_crc = load_u32(field);
    }
    writer.put_u64(segment->first_position);
    writer.put_u64(segment->end_offset);
    writer.put_u64(segment->record_offsets.size());
    writer.put_u32(last_crc);
    writer.put_u32(0);
  }
  for (const auto& segment : segments_)
    writer.put(segment->record_offsets.data(), segment->record_offsets.size() * sizeof(std::uint32_t));
  for (std::size_t number = 0; number < streams_.size(); ++number) {
    const auto& stream = streams_[static_cast<std::uint32_t>(number)];
    writer.put_u16(static_cast<std::uint16_t>(stream.id.size()));
    writer.put(stream.id.data(), stream.id.size());
    writer.put_u64(stream.positions.size());
    writer.put(stream.positions.data(), stream.positions.size() * sizeof(std::uint64_t));
  }
  static_assert(sizeof(command_table::entry) == checkpoint_command_bytes);
  writer.put(commands_.slots(), commands_.capacity() * sizeof(command_table::entry));
  if (auto written = writer.finish())
    return written;
  char header[checkpoint_header_bytes] = {};
  store_u64(header, checkpoint_magic);
  store_u32(header + 8, checkpoint_format_version);
  store_u32(header + 12, 0);
  store_u64(header + 16, head_);
  store_u64(header + 24, segments_.size());
  store_u64(header + 32, streams_.size());
  store_u64(header + 40, commands_.capacity());
  store_u64(header + 48, commands_.size());
  store_u32(header + 56, mask_crc(writer.crc()));
  store_u32(header + checkpoint_header_crc_offset,
            mask_crc(crc32c_extend(0, header, checkpoint_header_crc_offset)));
  if (auto written = out.write_at(0, std::string_view{header, sizeof header}))
    return written;
  if (auto synced = out.sync())
    return synced;
  opened->reset();
  if (auto renamed = fs_.rename_file(temporary_path, final_path))
    return renamed;
  if (auto synced = fs_.sync_directory(options_.directory))
    return synced;
  checkpoint_head_ = head_;
  return status::ok();
}

result<std::size_t> file_journal::load_checkpoint(
  const std::vector<std::pair<std::uint64_t, std::string>>& found, recovery_report& report) {
  if (!host_is_little_endian)
    return std::size_t{0};
  std::string path = join_path(options_.directory, checkpoint_file_name);
  auto exists = fs_.file_exists(path);
  if (!exists || !*exists)
    return std::size_t{0};
  auto opened = fs_.open_file(path, file_access::read_only, file_creation::open_existing);
  if (!opened)
    return std::size_t{0};  // unreadable now: scan, and leave it for next time
  auto file_bytes = (*opened)->size();
  if (!file_bytes)
    return std::size_t{0};
  // Returns why the checkpoint cannot be used, nullptr when it is loaded.
  bool io_failed = false;
  std::string verify_problem;  // where the log differs from it
  auto load = [&]() -> const char* {
    if (*file_bytes < checkpoint_header_bytes)
      return "file shorter than its header";
    char header[checkpoint_header_bytes];
    auto read = (*opened)->read_at(0, header, sizeof header);
    if (!read || *read != sizeof header) {
      io_failed = true;
      return "read failed";
    }
    if (load_u64(header) != checkpoint_magic)
      return "bad magic";
    if (mask_crc(crc32c_extend(0, header, checkpoint_header_crc_offset))
        != load_u32(header + checkpoint_header_crc_offset))
      return "header crc mismatch";
    if (load_u32(header + 8) != checkpoint_format_version)
      return "unsupported checkpoint format version";
    if (load_u32(header + 12) != 0)
      return "unknown flags";
    std::uint64_t head = load_u64(header + 16);
    std::uint64_t segment_count = load_u64(header + 24);
    std::uint64_t stream_count = load_u64(header + 32);
    std::uint64_t capacity = load_u64(header + 40);
    std::uint64_t command_count = load_u64(header + 48);
    std::uint32_t body_crc = load_u32(header + 56);
    std::uint64_t body_bytes = *file_bytes - checkpoint_header_bytes;
    // Bounds before any allocation: every count is limited by the bytes it needs.
    if (head == 0 || segment_count == 0 || segment_count > found.size()
        || segment_count > body_bytes / checkpoint_segment_bytes
        || head > body_bytes / sizeof(std::uint32_t) || stream_count > body_bytes / 10
        || capacity > body_bytes / checkpoint_command_bytes || command_count > head)
      return "counts do not fit the file";
    checkpoint_reader reader{**opened, checkpoint_header_bytes, *file_bytes};
    struct covered_segment {
      std::uint64_t first_position, end_offset, records;
      std::uint32_t last_crc;
    };
    std::vector<covered_segment> covered(static_cast<std::size_t>(segment_count));
    std::uint64_t next_position = 1;
    for (std::size_t i = 0; i < covered.size(); ++i) {
      auto& segment = covered[i];
      std::uint32_t reserved = 0;
      if (!reader.get_u64(segment.first_position) || !reader.get_u64(segment.end_offset)
          || !reader.get_u64(segment.records) || !reader.get_u32(segment.last_crc)
          || !reader.get_u32(reserved))
        return "truncated";
      if (segment.first_position != next_position || found[i].first != segment.first_position)
        return "its segments are not the segments in the directory";
      if (segment.end_offset < segment_header_bytes || segment.end_offset > segment_file_bytes_max
          || segment.records > head || reserved != 0)
        return "bad segment entry";
      next_position = segment.first_position + segment.records;
    }
    if (next_position != head + 1)
      return "segments do not add up to its head";
    for (std::size_t i = 0; i < covered.size(); ++i) {
      auto state = std::make_unique<segment_state>();
      state->first_position = covered[i].first_position;
      state->path = found[i].second;
      state->end_offset = covered[i].end_offset;
      state->record_offsets.resize(static_cast<std::size_t>(covered[i].records));
      if (!reader.get(state->record_offsets.data(),
                      state->record_offsets.size() * sizeof(std::uint32_t)))
        return "truncated";
      segments_.push_back(std::move(state));
    }
    std::uint64_t events = 0;
    std::string id;
    for (std::uint64_t number = 0; number < stream_count; ++number) {
      std::uint16_t id_bytes = 0;
      if (!reader.get_u16(id_bytes) || id_bytes > record_stream_id_bytes_max)
        return "bad stream entry";
      id.resize(id_bytes);
      std::uint64_t positions = 0;
      if (!reader.get(id.data(), id.size()) || !reader.get_u64(positions))
        return "truncated";
      if (positions > head - events)
        return "streams hold more events than its head";
      events += positions;
      std::uint64_t hash = stream_table::hash(id);
      if (streams_.find(id, hash) != stream_table::npos)
        return "a stream id appears twice";
      auto& stream = streams_[streams_.intern(id, hash)];
      stream.positions.resize(static_cast<std::size_t>(positions));
      if (!reader.get(stream.positions.data(), stream.positions.size() * sizeof(std::uint64_t)))
        return "truncated";
    }
    if (events != head)
      return "streams do not add up to its head";
    if (capacity * checkpoint_command_bytes != reader.left())
      return "file size does not match its counts";
    auto* slots = commands_.assign_raw(static_cast<std::size_t>(capacity),
                                       static_cast<std::size_t>(command_count));
    if (slots == nullptr)
      return "bad command table size";
    if (!reader.get(slots, static_cast<std::size_t>(capacity) * checkpoint_command_bytes))
      return "truncated";
    if (!reader.error().is_ok()) {
      io_failed = true;
      return "read failed";
    }
    if (mask_crc(reader.crc()) != body_crc)
      return "body crc mismatch";
    if (!commands_.tag_assigned())
      return "command table holds a different number of commands";
    // The segments must still hold what the checkpoint indexed: at least its bytes,
    // the same header, and the same last record (a log cut back by a repair, or
    // rewritten, fails here).
    for (std::size_t i = 0; i < segments_.size(); ++i) {
      auto& segment = *segments_[i];
      auto handle = fs_.open_file(segment.path, file_access::read_write,
                                  file_creation::open_existing);
      if (!handle) {
        io_failed = true;
        return "read failed";
      }
      auto size = (*handle)->size();
      if (!size) {
        io_failed = true;
        return "read failed";
      }
      if (*size < segment.end_offset)
        return "ahead of the log: a segment is shorter than the checkpoint";
      char segment_header[segment_header_bytes];
      auto header_read = (*handle)->read_at(0, segment_header, sizeof segment_header);
      std::uint64_t first_position = 0;
      if (!header_read || *header_read != sizeof segment_header
          || decode_segment_header(std::string_view{segment_header, sizeof segment_header},
                                   first_position)
               != nullptr
          || first_position != segment.first_position)
        return "a segment header does not match";
      if (!segment.record_offsets.empty()) {
        std::uint64_t last = segment.record_offsets.back();
        char record_header[record_header_bytes];
        if (segment.record_offsets.front() != segment_header_bytes
            || last + record_header_bytes > segment.end_offset)
          return "bad record offsets";
        auto record_read = (*handle)->read_at(last, record_header, sizeof record_header);
        if (!record_read || *record_read != sizeof record_header
            || load_u32(record_header) != record_magic
            || load_u32(record_header + record_crc_offset) != covered[i].last_crc
            || last + record_header_bytes + load_u32(record_header + record_length_offset)
                 != segment.end_offset)
          return "a segment's last record does not match";
      } else if (segment.end_offset != segment_header_bytes) {
        return "bad segment entry";
      }
      if (i + 1 < segments_.size() && *size != segment.end_offset)
        return "a sealed segment changed size since the checkpoint";
      segment.handle = std::move(*handle);
    }
    // The checkpoint saves indexing the covered records, not checking them: every
    // record's framing, CRC and position is still checked, and must be where the
    // checkpoint says (cheap next to the hashing it saves).
    scan_buffers buffers;
    for (auto& segment_pointer : segments_) {
      segment_state& segment = *segment_pointer;
      std::size_t next = 0;
      const char* misplaced = nullptr;
      auto scanned = scan_segment_file(
        *segment.handle, segment.end_offset, segment.first_position,
        [&](const std::vector<located_record>& batch) -> const char* {
          for (const auto& record : batch) {
            if (next >= segment.record_offsets.size()
                || segment.record_offsets[next] != record.offset)
              return misplaced = "records are not where the checkpoint has them";
            ++next;
          }
          return nullptr;
        },
        buffers);
      if (!scanned) {
        io_failed = true;
        return "read failed";
      }
      if (scanned->has_problem) {
        verify_problem = segment.path + ": offset " + std::to_string(scanned->problem_offset)
                         + ": " + scanned->problem;
        return misplaced != nullptr ? misplaced : "the log does not match it";
      }
      if (next != segment.record_offsets.size())
        return "records are not where the checkpoint has them";
      report.bytes_scanned += segment.end_offset;
    }
    head_ = head;
    return nullptr;
  };
  const char* problem = load();
  if (problem == nullptr) {
    checkpoint_head_ = head_;
    return segments_.size();
  }
  reset_indexes();
  report.bytes_scanned = 0;  // the full scan counts them again
  opened->reset();
  if (io_failed)
    return std::size_t{0};
  // It does not describe this log (damaged, from another version, or ahead of a log
  // that was cut back): remove it, so it cannot seem to match once the log grows.
  if (auto removed = fs_.remove_file(path))
    return removed;
  if (auto synced = fs_.sync_directory(options_.directory))
    return synced;
  report.actions.push_back(recovery_action{
    path, 0, *file_bytes,
    std::string{"index checkpoint dropped: "} + problem
      + (verify_problem.empty() ? "" : " (" + verify_problem + ")")});
  return std::size_t{0};
}

status file_journal::recover(recovery_report& report) {
  // Recovery runs before the journal is shared; the lock only honours the indexes'
  // "caller holds the lock" contract (uncontended, it costs nothing).
  std::unique_lock guard{mutex_};
  auto start = std::chrono::steady_clock::now();
  if (auto recovered = recover_segments(report))
    return recovered;
  report.scan_duration_us = static_cast<std::uint64_t>(
    std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now()
                                                          - start)
      .count());
  report.events_recovered = head_;
  if (auto loaded = recover_snapshots(report))
    return loaded;
  recovered_ = true;
  // A long scan (a crash since the last clean close, or no checkpoint yet): persist
  // the indexes now, so another crash does not make the next open scan it again.
  if (options_.index_checkpoint && head_ > checkpoint_head_
      && report.segments_scanned >= std::max<std::uint64_t>(1, options_.index_checkpoint_segments))
    (void)write_checkpoint();  // best effort, like at close
  return status::ok();
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

  std::vector<std::uint64_t> sizes;  // for sizing the indexes before they grow
  for (const auto& segment_file : found) {
    auto size = fs_.file_size(segment_file.second);
    if (!size)
      return size.error();
    sizes.push_back(*size);
  }
  std::size_t covered = 0;
  if (options_.index_checkpoint) {
    auto loaded = load_checkpoint(found, report);
    if (!loaded)
      return loaded.error();
    covered = *loaded;
    report.checkpoint_events = head_;
  }

  bool directory_changed = false;
  scan_buffers buffers;
  const std::size_t commands_before_scan = commands_.size();
  const std::uint64_t events_before_scan = head_;
  std::uint64_t indexed_bytes = 0;  // scanned and indexed (not just checked)
  for (std::size_t i = covered > 0 ? covered - 1 : 0; i < found.size(); ++i) {
    const auto& [name_position, path] = found[i];
    bool is_last = i + 1 == found.size();
    std::unique_ptr<segment_state> segment;
    std::uint64_t resume_offset = 0;
    if (covered > 0 && i == covered - 1) {
      // The checkpoint's last segment: scan only what was appended after it.
      segment = std::move(segments_.back());
      segments_.pop_back();
      resume_offset = segment->end_offset;
    } else {
      auto opened = fs_.open_file(path, file_access::read_write, file_creation::open_existing);
      if (!opened)
        return opened.error();
      segment = std::make_unique<segment_state>();
      segment->first_position = name_position;
      segment->path = path;
      segment->handle = std::move(*opened);
    }
    file& handle = *segment->handle;
    auto file_bytes = handle.size();
    if (!file_bytes)
      return file_bytes.error();
    if (*file_bytes > segment_file_bytes_max)
      return corrupt(path + ": file of " + std::to_string(*file_bytes)
                     + " bytes is larger than the limit of "
                     + std::to_string(segment_file_bytes_max));
    ++report.segments_scanned;
    if (indexed_bytes > 0 && head_ > events_before_scan) {
      // Size the indexes from what the scan found per byte so far, so they grow once
      // here instead of rehashing millions of commands on the way.
      double scanned = static_cast<double>(indexed_bytes);
      double left = static_cast<double>(*file_bytes - resume_offset);
      for (std::size_t later = i + 1; later < found.size(); ++later)
        left += static_cast<double>(sizes[later]);
      double commands_per_byte
        = static_cast<double>(commands_.size() - commands_before_scan) / scanned;
      commands_.reserve(commands_.size()
                        + static_cast<std::size_t>(commands_per_byte * left * 1.02));
      double events_per_byte = static_cast<double>(head_ - events_before_scan) / scanned;
      segment->record_offsets.reserve(
        segment->record_offsets.size()
        + static_cast<std::size_t>(events_per_byte
                                   * static_cast<double>(*file_bytes - resume_offset) * 1.02));
    }
    segment_scan scan;
    char header[segment_header_bytes];
    auto header_read = handle.read_at(0, header, sizeof header);
    if (!header_read)
      return header_read.error();
    std::uint64_t header_position = 0;
    if (decode_segment_header(std::string_view{header, *header_read}, header_position) == nullptr
        && header_position != name_position) {
      // A renamed or copied file: its name and contents disagree.
      scan.has_problem = true;
      scan.problem = "file name says first position " + std::to_string(name_position)
                     + " but the header says " + std::to_string(header_position);
      scan.valid_record_after_problem = true;
      scan.file_bytes = *file_bytes;
    } else {
      std::vector<index_entry>& entries = entries_;
      segment_state* target = segment.get();
      auto scanned = scan_segment_file(
        handle, *file_bytes, resume_offset > 0 ? name_position : head_ + 1,
        [&](const std::vector<located_record>& batch) {
          entries.clear();
          for (const auto& record : batch)
            entries.push_back(index_entry{record.event.position, record.event.stream_id,
                                          record.event.stream_version, record.event.command,
                                          record.event.command_hash});
          if (const char* problem = check_batch(entries))
            return problem;
          for (const auto& record : batch)
            target->record_offsets.push_back(static_cast<std::uint32_t>(record.offset));
          index_batch(entries);
          return static_cast<const char*>(nullptr);
        },
        buffers, resume_offset, head_ + 1);
      if (!scanned)
        return scanned.error();
      scan = std::move(*scanned);
    }
    indexed_bytes += scan.file_bytes - std::min(scan.file_bytes, resume_offset);
    report.bytes_scanned += scan.file_bytes - std::min(scan.file_bytes, resume_offset);
    segment->end_offset = scan.valid_bytes;
    if (!scan.has_problem) {
      segment->zeroed_end = scan.valid_bytes + scan.zero_tail_bytes;
      if (scan.zero_tail_bytes > 0 && !is_last) {
        // Sealed while its preallocated zeros were still there (a crash before
        // seal_segment's cut was durable): seal it again.
        if (auto sealed = seal_segment(*segment))
          return sealed;
        report.actions.push_back(recovery_action{
          path, scan.valid_bytes, scan.zero_tail_bytes,
          "preallocated zeros after the last record of a sealed segment cut"});
      }
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
      report.actions.push_back(recovery_action{path, 0, scan.file_bytes, reason});
    } else {
      if (auto cut = segment->handle->truncate(scan.valid_bytes))
        return cut;
      if (auto synced = segment->handle->sync())
        return synced;
      report.actions.push_back(
        recovery_action{path, scan.valid_bytes, scan.file_bytes - scan.valid_bytes, reason});
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
  // The last segment may end in bytes that were written and never synced: after a
  // failed fdatasync the journal stops, the process exits, and a restart without a
  // power loss finds the batch whole in the page cache. From now on it is served (a
  // retry is answered "duplicate", projections apply it, later batches may go to a
  // newer segment), so it must be durable first, and so must the directory entry of
  // a segment whose creation stopped before its directory sync. Otherwise a later
  // power loss takes it back, and a torn segment followed by newer ones refuses to
  // open (bank_simulation seeds 4, 14, 48 found this).
  if (!segments_.empty())
    if (auto synced = segments_.back()->handle->sync())
      return synced;
  if (directory_changed || !segments_.empty())
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
    else if (loaded.stream_version > stream_size(loaded.stream_id))
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
