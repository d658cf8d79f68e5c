#include "store/segment_scanner.hpp"

#include <algorithm>
#include <cstring>

namespace tally::store {

bool valid_record_at_or_after(std::string_view bytes, std::uint64_t from) {
  // Look for the record magic at every byte offset: a record may start anywhere once a
  // length field was damaged. The magic makes candidates rare, so the CRC is computed
  // only where a record plausibly starts.
  unsigned char magic[4];
  for (int i = 0; i < 4; ++i)
    magic[i] = static_cast<unsigned char>(record_magic >> (8 * i));
  std::uint64_t offset = from;
  while (offset + record_header_bytes <= bytes.size()) {
    const void* hit = std::memchr(bytes.data() + offset, magic[0], bytes.size() - offset);
    if (hit == nullptr)
      return false;
    offset = static_cast<std::uint64_t>(static_cast<const char*>(hit) - bytes.data());
    if (offset + record_header_bytes > bytes.size())
      return false;
    if (std::memcmp(bytes.data() + offset, magic, sizeof magic) == 0) {
      decoded_record record;
      if (decode_event_record(bytes.substr(offset), record) == nullptr)
        return true;
    }
    ++offset;
  }
  return false;
}

namespace {

std::uint32_t load_u32(const char* bytes) noexcept {
  std::uint32_t value = 0;
  for (int i = 3; i >= 0; --i)
    value = (value << 8) | static_cast<unsigned char>(bytes[i]);
  return value;
}

// The bytes of one segment: either all of them in memory, or a window that slides
// over the file, reading it in large chunks.
class segment_window {
public:
  explicit segment_window(std::string_view whole)
    : whole_(whole), data_(whole.data()), length_(whole.size()), end_(whole.size()) {}

  segment_window(const file& handle, std::uint64_t file_bytes, std::string& buffer,
                 std::size_t chunk_bytes)
    : handle_(&handle), buffer_(&buffer),
      // No larger than the file: small segments (tests) do not cost a 4 MiB buffer.
      chunk_bytes_(static_cast<std::size_t>(
        std::clamp<std::uint64_t>(file_bytes, 64, std::max<std::size_t>(chunk_bytes, 64)))),
      data_(buffer.data()), end_(file_bytes) {}

  /// Size of the segment (shrinks if the file turns out shorter than announced).
  std::uint64_t end() const noexcept { return end_; }

  /// Bytes from `offset` (>= the window start) to the end of the window.
  std::string_view from(std::uint64_t offset) const noexcept {
    return {data_ + (offset - start_), static_cast<std::size_t>(start_ + length_ - offset)};
  }

  /// Makes [keep_from, to) available, `to` clipped to end(); bytes before keep_from may
  /// be dropped. Sets `moved` when the window's bytes moved in memory (views into it
  /// must be rebuilt).
  status ensure(std::uint64_t keep_from, std::uint64_t to, bool& moved) {
    moved = false;
    to = std::min(to, end_);
    if (to <= start_ + length_ || handle_ == nullptr)
      return status::ok();
    std::size_t keep = keep_from >= start_ + length_
                         ? 0
                         : static_cast<std::size_t>(start_ + length_ - keep_from);
    std::size_t need = static_cast<std::size_t>(to - keep_from);
    std::string& buffer = *buffer_;
    if (buffer.size() < std::max(need, chunk_bytes_)) {
      // Grow geometrically, so a batch larger than a chunk costs O(batch) copies.
      std::string larger(std::max({need, chunk_bytes_, 2 * buffer.size()}), '\0');
      if (keep > 0)
        std::memcpy(larger.data(), data_ + (keep_from - start_), keep);
      buffer.swap(larger);
    } else if (keep > 0 && keep_from != start_) {
      std::memmove(buffer.data(), data_ + (keep_from - start_), keep);
    }
    moved = data_ != buffer.data() || keep_from != start_;
    data_ = buffer.data();
    start_ = keep_from;
    length_ = keep;
    // Fill the whole buffer: one large read instead of one per record.
    std::size_t want = static_cast<std::size_t>(
      std::min<std::uint64_t>(buffer.size() - length_, end_ - (start_ + length_)));
    while (want > 0) {
      auto read = handle_->read_at(start_ + length_, buffer.data() + length_, want);
      if (!read)
        return read.error();
      length_ += *read;
      if (*read == 0) {
        end_ = start_ + length_;  // the file is shorter than announced
        break;
      }
      want -= *read;
    }
    return status::ok();
  }

  /// True when every byte from `offset` to the end of the segment is zero: the
  /// preallocated end of the records. Reads what the window does not hold in chunks.
  result<bool> all_zero_from(std::uint64_t offset) {
    auto zero = [](const char* bytes, std::size_t count) {
      return count == 0 || (bytes[0] == 0 && std::memcmp(bytes, bytes + 1, count - 1) == 0);
    };
    if (handle_ == nullptr)
      return zero(whole_.data() + offset, static_cast<std::size_t>(end_ - offset));
    std::uint64_t held_end = start_ + length_;
    if (offset >= start_ && offset < held_end) {
      if (!zero(data_ + (offset - start_), static_cast<std::size_t>(held_end - offset)))
        return false;
      offset = held_end;
    }
    std::string chunk(static_cast<std::size_t>(std::min<std::uint64_t>(end_ - std::min(offset, end_),
                                                                       chunk_bytes_)),
                      '\0');
    while (offset < end_) {
      auto want = static_cast<std::size_t>(std::min<std::uint64_t>(chunk.size(), end_ - offset));
      auto read = handle_->read_at(offset, chunk.data(), want);
      if (!read)
        return read.error();
      if (*read == 0) {
        end_ = offset;  // the file is shorter than announced
        break;
      }
      if (!zero(chunk.data(), *read))
        return false;
      offset += *read;
    }
    return true;
  }

  /// True when a record with a valid CRC starts at or after `offset` (the rare search
  /// after a problem: reads the rest of the file at once).
  result<bool> valid_record_from(std::uint64_t offset) {
    if (handle_ == nullptr)
      return valid_record_at_or_after(whole_, offset);
    if (offset >= end_)
      return false;
    std::string rest(static_cast<std::size_t>(end_ - offset), '\0');
    auto read = handle_->read_at(offset, rest.data(), rest.size());
    if (!read)
      return read.error();
    rest.resize(*read);
    return valid_record_at_or_after(rest, 0);
  }

private:
  const file* handle_ = nullptr;
  std::string* buffer_ = nullptr;
  std::size_t chunk_bytes_ = 0;
  std::string_view whole_;
  const char* data_ = nullptr;
  std::uint64_t start_ = 0;   // file offset of data_[0]
  std::size_t length_ = 0;    // valid bytes at data_
  std::uint64_t end_ = 0;     // file size
};

// The views of a decoded event point into the window; after the window moved they
// are rebuilt from the record's offset (the variable fields follow the fixed ones).
void rebase(std::vector<located_record>& batch, const segment_window& window) {
  for (auto& record : batch) {
    const char* variable
      = window.from(record.offset).data() + record_header_bytes + event_body_fixed_bytes;
    event_view& event = record.event;
    event.stream_id = {variable, event.stream_id.size()};
    event.type = {variable + event.stream_id.size(), event.type.size()};
    event.payload = {variable + event.stream_id.size() + event.type.size(), event.payload.size()};
  }
}

result<segment_scan> scan(segment_window& window, std::uint64_t expected_first_position,
                          const batch_visitor& visit, std::vector<located_record>& batch,
                          std::uint64_t resume_offset = 0, std::uint64_t resume_position = 0) {
  segment_scan out;
  batch.clear();
  auto fail = [&](std::uint64_t problem_offset, std::string reason,
                  bool record_is_valid) -> result<segment_scan> {
    out.has_problem = true;
    out.problem_offset = problem_offset;
    out.problem = std::move(reason);
    out.file_bytes = window.end();
    if (record_is_valid) {
      out.valid_record_after_problem = true;
    } else {
      auto found = window.valid_record_from(problem_offset + 1);
      if (!found)
        return found.error();
      out.valid_record_after_problem = *found;
    }
    batch.clear();
    return out;
  };
  bool moved = false;
  if (auto read = window.ensure(0, segment_header_bytes, moved))
    return read;
  std::uint64_t first_position = 0;
  if (const char* header_problem = decode_segment_header(window.from(0), first_position))
    return fail(0, header_problem, false);
  out.header_valid = true;
  out.first_position = first_position;
  out.valid_bytes = segment_header_bytes;
  out.next_position = first_position;
  if (first_position != expected_first_position) {
    // Nothing in this segment can be kept: its positions do not continue the log.
    out.valid_bytes = 0;
    return fail(0,
                "segment starts at position " + std::to_string(first_position) + ", expected "
                  + std::to_string(expected_first_position)
                  + (first_position > expected_first_position ? " (positions missing)" : ""),
                true);
  }
  std::uint64_t offset = segment_header_bytes;
  std::uint64_t expected_position = first_position;
  if (resume_offset > segment_header_bytes) {
    // The records before resume_offset are known (an index checkpoint covers them).
    offset = resume_offset;
    expected_position = resume_position;
    out.valid_bytes = resume_offset;
    out.next_position = resume_position;
  }
  while (offset < window.end()) {
    // Keep the current batch's bytes in the window: the visitor sees all its records.
    std::uint64_t keep_from = batch.empty() ? offset : batch.front().offset;
    if (auto read = window.ensure(keep_from, offset + record_header_bytes, moved))
      return read;
    if (moved)
      rebase(batch, window);
    std::string_view rest = window.from(offset);
    if (!rest.empty() && rest.front() == 0) {
      // No record starts with a zero byte (the magic's first byte is not zero): this is
      // the preallocated end of the segment if only zeros follow, else a problem below.
      auto zero_tail = window.all_zero_from(offset);
      if (!zero_tail)
        return zero_tail.error();
      if (*zero_tail) {
        out.zero_tail_bytes = window.end() - offset;
        break;
      }
    }
    if (rest.size() >= record_header_bytes) {
      std::uint32_t body_bytes = load_u32(rest.data() + record_length_offset);
      if (body_bytes <= record_body_bytes_max) {
        if (auto read = window.ensure(keep_from, offset + record_header_bytes + body_bytes, moved))
          return read;
        if (moved)
          rebase(batch, window);
        rest = window.from(offset);
      }
    }
    decoded_record record;
    if (const char* problem = decode_event_record(rest, record))
      return fail(offset, problem, false);
    if (record.event.position != expected_position)
      return fail(offset,
                  "record has position " + std::to_string(record.event.position) + ", expected "
                    + std::to_string(expected_position),
                  true);
    batch.push_back(located_record{offset, record.bytes, record.event});
    offset += record.bytes;
    ++expected_position;
    if (record.type == record_type::event_batch_end) {
      if (const char* problem = visit ? visit(batch) : nullptr) {
        // The batch passed its CRCs, so this is not a torn write: report it as
        // corruption at the batch, with valid data (the batch itself) after it.
        out.has_problem = true;
        out.problem_offset = batch.front().offset;
        out.problem = problem;
        out.valid_record_after_problem = true;
        out.file_bytes = window.end();
        batch.clear();
        return out;
      }
      out.valid_bytes = offset;
      out.events += batch.size();
      out.next_position = expected_position;
      batch.clear();
    }
  }
  out.file_bytes = window.end();
  if (!batch.empty()) {
    // A batch whose last record never made it to disk: the append was not acknowledged.
    out.has_problem = true;
    out.problem_offset = batch.front().offset;
    out.problem = "incomplete batch (no batch end record)";
    out.valid_record_after_problem = false;
    batch.clear();
  }
  return out;
}

}  // namespace

segment_scan scan_segment(std::string_view bytes, std::uint64_t expected_first_position,
                          const batch_visitor& visit) {
  segment_window window{bytes};
  std::vector<located_record> batch;
  auto scanned = scan(window, expected_first_position, visit, batch);
  // Nothing is read from a file here, so there is no error to return.
  return scanned ? std::move(*scanned) : segment_scan{};
}

result<segment_scan> scan_segment_file(const file& handle, std::uint64_t file_bytes,
                                       std::uint64_t expected_first_position,
                                       const batch_visitor& visit, scan_buffers& buffers,
                                       std::uint64_t resume_offset,
                                       std::uint64_t resume_position, std::size_t chunk_bytes) {
  segment_window window{handle, file_bytes, buffers.window, chunk_bytes};
  return scan(window, expected_first_position, visit, buffers.batch, resume_offset,
              resume_position);
}

}  // namespace tally::store
