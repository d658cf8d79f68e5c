// Target segment_scanner: arbitrary bytes as a segment file (store/segment_scanner.hpp,
// rules in docs/log_format.md) scan to whole batches plus a corruption report.
//
// Input: one control byte, then the segment file. Control bits 0-1 pick the chunk size
// of the chunked file scan (64, 100 or 1000 bytes, or scan_chunk_bytes); bit 2 makes
// the expected first position one more than the header's (a segment that does not
// continue the log); bits 3-5, when not 0, make the batch visitor refuse the batch that
// starts at the header's first position + (that number - 1), as recovery refuses a
// stream version gap.
//
// Properties: the in-memory scan (verify, tally inspect) and the chunked file scan
// (recovery) report the same thing and visit the same batches; every visited record is
// the record at its offset (the chunked scan rebuilds its views when its window moves);
// the report is consistent (valid prefix, events, next position); the valid prefix
// scans clean on its own; a scan resumed after the first batch (from an index
// checkpoint) reports the same as the full scan.
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_input.hpp"
#include "fuzz_targets.hpp"
#include "store/record_codec.hpp"
#include "store/segment_scanner.hpp"
#include "tally/assert.hpp"

namespace tally::fuzz {

namespace {

using namespace tally::store;

// A read-only file over bytes in memory.
class memory_file final : public file {
public:
  explicit memory_file(std::string_view bytes) : bytes_(bytes) {}

  status write_at(std::uint64_t, std::string_view) override {
    return status{error_code::invalid_argument, "memory_file is read-only"};
  }
  result<std::size_t> read_at(std::uint64_t offset, char* buffer,
                              std::size_t size) const override {
    if (offset >= bytes_.size())
      return std::size_t{0};
    std::size_t count = std::min<std::uint64_t>(size, bytes_.size() - offset);
    std::copy_n(bytes_.data() + offset, count, buffer);
    return count;
  }
  status sync() override { return status::ok(); }
  result<std::uint64_t> size() const override { return std::uint64_t{bytes_.size()}; }
  status truncate(std::uint64_t) override {
    return status{error_code::invalid_argument, "memory_file is read-only"};
  }
  const std::string& path() const override { return path_; }

private:
  std::string_view bytes_;
  std::string path_ = "memory-segment.log";
};

struct visited_record {
  std::uint64_t offset = 0;
  std::uint64_t bytes = 0;
  recorded_event event;
  bool operator==(const visited_record& other) const {
    return offset == other.offset && bytes == other.bytes && event == other.event;
  }
};

// The batch visitor of one scan: checks each batch against the segment's bytes, logs it
// and refuses the batch that starts at `refused_position` (0: none).
struct batch_checker {
  std::string_view segment;
  std::uint64_t refused_position = 0;
  std::vector<std::vector<visited_record>> batches;

  const char* operator()(const std::vector<located_record>& batch) {
    TALLY_ASSERT(!batch.empty());
    std::vector<visited_record> visited;
    for (std::size_t i = 0; i < batch.size(); ++i) {
      const located_record& record = batch[i];
      TALLY_ASSERT(record.offset >= segment_header_bytes);
      TALLY_ASSERT(record.offset + record.bytes <= segment.size());
      if (i > 0) {
        TALLY_ASSERT_MSG(batch[i - 1].offset + batch[i - 1].bytes == record.offset,
                         "records of a batch are not contiguous");
        TALLY_ASSERT_MSG(batch[i - 1].event.position + 1 == record.event.position,
                         "positions in a batch do not continue");
      }
      // The record the scanner hands over is the one at its offset in the file.
      decoded_record at_offset;
      TALLY_ASSERT(decode_event_record(segment.substr(record.offset), at_offset) == nullptr);
      TALLY_ASSERT(at_offset.bytes == record.bytes);
      bool last = i + 1 == batch.size();
      TALLY_ASSERT_MSG(at_offset.type == (last ? record_type::event_batch_end : record_type::event),
                       "a batch is not events closed by one batch end");
      recorded_event event = record.event.to_event();
      TALLY_ASSERT_MSG(event == at_offset.event.to_event(),
                       "a visited record differs from the record at its offset");
      visited.push_back(visited_record{record.offset, record.bytes, std::move(event)});
    }
    batches.push_back(std::move(visited));
    if (refused_position != 0 && batch.front().event.position == refused_position)
      return "refused by the fuzz visitor";
    return nullptr;
  }

  batch_visitor visitor() {
    return [this](const std::vector<located_record>& batch) { return (*this)(batch); };
  }
};

void check_same_report(const segment_scan& a, const segment_scan& b) {
  TALLY_ASSERT(a.header_valid == b.header_valid);
  TALLY_ASSERT(a.first_position == b.first_position);
  TALLY_ASSERT(a.valid_bytes == b.valid_bytes);
  TALLY_ASSERT(a.events == b.events);
  TALLY_ASSERT(a.next_position == b.next_position);
  TALLY_ASSERT(a.file_bytes == b.file_bytes);
  TALLY_ASSERT(a.has_problem == b.has_problem);
  TALLY_ASSERT(a.problem_offset == b.problem_offset);
  TALLY_ASSERT(a.problem == b.problem);
  TALLY_ASSERT(a.valid_record_after_problem == b.valid_record_after_problem);
  TALLY_ASSERT(a.zero_tail_bytes == b.zero_tail_bytes);
}

void check_report(const segment_scan& scan, std::string_view segment,
                  std::uint64_t expected_first_position, const batch_checker& checker) {
  TALLY_ASSERT(scan.file_bytes == segment.size());
  TALLY_ASSERT(scan.valid_bytes <= segment.size());
  if (!scan.header_valid) {
    TALLY_ASSERT(scan.has_problem && scan.valid_bytes == 0 && scan.problem_offset == 0);
    TALLY_ASSERT(checker.batches.empty());
    return;
  }
  if (scan.first_position != expected_first_position) {
    TALLY_ASSERT(scan.has_problem && scan.valid_bytes == 0 && checker.batches.empty());
    return;
  }
  TALLY_ASSERT(scan.valid_bytes >= segment_header_bytes);
  TALLY_ASSERT_MSG(scan.next_position == scan.first_position + scan.events,
                   "next position does not follow from the events kept");
  if (scan.has_problem) {
    TALLY_ASSERT(scan.problem_offset >= scan.valid_bytes);
    TALLY_ASSERT(scan.problem_offset < segment.size());
    TALLY_ASSERT(!scan.problem.empty());
  } else {
    // Everything is kept but preallocated zeros, which are zeros to the end.
    TALLY_ASSERT_MSG(scan.valid_bytes + scan.zero_tail_bytes == segment.size(),
                     "no problem, yet bytes are not kept");
    TALLY_ASSERT_MSG(segment.substr(static_cast<std::size_t>(scan.valid_bytes))
                         .find_first_not_of('\0')
                       == std::string_view::npos,
                     "a zero tail with a non-zero byte in it");
  }
  if (scan.zero_tail_bytes > 0)
    TALLY_ASSERT(!scan.has_problem || scan.problem == "incomplete batch (no batch end record)");
  // The accepted batches are the visited ones, minus a refused last one.
  std::uint64_t visited_events = 0;
  std::uint64_t end_of_accepted = segment_header_bytes;
  for (std::size_t i = 0; i < checker.batches.size(); ++i) {
    const auto& batch = checker.batches[i];
    bool refused = checker.refused_position != 0
                   && batch.front().event.position == checker.refused_position;
    if (refused) {
      TALLY_ASSERT(i + 1 == checker.batches.size() && scan.has_problem);
      TALLY_ASSERT(scan.problem_offset == batch.front().offset);
      break;
    }
    TALLY_ASSERT(batch.front().offset == end_of_accepted);
    visited_events += batch.size();
    end_of_accepted = batch.back().offset + batch.back().bytes;
  }
  TALLY_ASSERT_MSG(visited_events == scan.events, "events differ from the batches visited");
  TALLY_ASSERT_MSG(end_of_accepted == scan.valid_bytes, "valid prefix is not the accepted batches");
}

std::size_t chunk_bytes_for(std::uint8_t control) {
  switch (control & 3) {
    case 0: return 64;
    case 1: return 100;
    case 2: return 1000;
    default: return scan_chunk_bytes;
  }
}

}  // namespace

int fuzz_segment_scanner(const std::uint8_t* data, std::size_t size) {
  fuzz_input input{data, size};
  std::uint8_t control = input.take_byte();
  std::string_view segment = input.take_rest();

  std::uint64_t header_position = 0;
  bool header_decodes = decode_segment_header(segment, header_position) == nullptr;
  std::uint64_t expected = header_decodes ? header_position : 1;
  if ((control & 4) != 0 && expected < UINT64_MAX)
    ++expected;
  std::uint64_t refused_offset = (control >> 3) & 7;
  std::uint64_t refused_position
    = refused_offset != 0 && header_decodes ? header_position + refused_offset - 1 : 0;

  batch_checker in_memory{segment, refused_position, {}};
  segment_scan whole = scan_segment(segment, expected, in_memory.visitor());
  check_report(whole, segment, expected, in_memory);

  memory_file handle{segment};
  scan_buffers buffers;
  batch_checker chunked{segment, refused_position, {}};
  auto from_file = scan_segment_file(handle, segment.size(), expected, chunked.visitor(), buffers,
                                     0, 0, chunk_bytes_for(control));
  TALLY_ASSERT_MSG(from_file.has_value(), "a scan of a file in memory failed to read");
  check_same_report(whole, *from_file);
  TALLY_ASSERT_MSG(in_memory.batches == chunked.batches,
                   "the chunked scan visited other batches than the in-memory scan");

  if (whole.header_valid && whole.first_position == expected && whole.valid_bytes > 0) {
    // The longest valid prefix is itself a clean segment with the same events.
    batch_checker prefix_checker{segment.substr(0, whole.valid_bytes), 0, {}};
    segment_scan prefix = scan_segment(prefix_checker.segment, expected, prefix_checker.visitor());
    TALLY_ASSERT_MSG(!prefix.has_problem, "the valid prefix does not scan clean");
    TALLY_ASSERT(prefix.valid_bytes == whole.valid_bytes && prefix.events == whole.events);
    TALLY_ASSERT(prefix.next_position == whole.next_position);
  }

  bool first_batch_accepted = !in_memory.batches.empty()
                              && in_memory.batches.front().front().event.position
                                   != refused_position;
  if (whole.header_valid && whole.first_position == expected && first_batch_accepted) {
    // Resume after the first batch, as recovery does from an index checkpoint.
    const auto& first = in_memory.batches.front();
    std::uint64_t resume_offset = first.back().offset + first.back().bytes;
    std::uint64_t resume_position = first.back().event.position + 1;
    batch_checker resumed_checker{segment, refused_position, {}};
    scan_buffers resumed_buffers;
    auto resumed = scan_segment_file(handle, segment.size(), expected, resumed_checker.visitor(),
                                     resumed_buffers, resume_offset, resume_position,
                                     chunk_bytes_for(control));
    TALLY_ASSERT(resumed.has_value());
    segment_scan expected_report = whole;
    expected_report.events -= first.size();
    check_same_report(expected_report, *resumed);
    std::vector<std::vector<visited_record>> later(in_memory.batches.begin() + 1,
                                                   in_memory.batches.end());
    TALLY_ASSERT_MSG(resumed_checker.batches == later,
                     "a resumed scan visited other batches than the full scan after the resume point");
  }
  return 0;
}

}  // namespace tally::fuzz
