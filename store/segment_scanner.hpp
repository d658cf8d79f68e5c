// Scans one segment: checks the header, every record's framing and CRC, that positions
// continue without gaps, and that batches are whole. Shared by recovery (which then cuts
// or refuses) and verify (which reports). The rules are in docs/log_format.md.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "store/record_codec.hpp"
#include "tally/error.hpp"
#include "tally/file_system.hpp"

namespace tally::store {

/// A decoded record and where it is in the segment.
struct located_record {
  std::uint64_t offset = 0;
  std::uint64_t bytes = 0;
  event_view event;
};

/// Called once per whole batch, in order. Returns nullptr to accept it, or a reason
/// why the batch is inconsistent (e.g. a stream version gap), which stops the scan
/// there as a problem at the batch's first record. The records' views are valid only
/// during the call.
using batch_visitor = std::function<const char*(const std::vector<located_record>& batch)>;

struct segment_scan {
  bool header_valid = false;
  std::uint64_t first_position = 0;  ///< from the header (when valid)
  /// End of the last whole, accepted batch: the longest valid prefix of the segment.
  /// 0 when the header is invalid.
  std::uint64_t valid_bytes = 0;
  std::uint64_t events = 0;          ///< events in the valid prefix
  std::uint64_t next_position = 0;   ///< position after the valid prefix
  std::uint64_t file_bytes = 0;      ///< bytes the segment has (what was scanned)
  /// Preallocated zeros after the records: a zero byte where a record would start,
  /// and nothing but zeros from there to the end of the file (docs/log_format.md).
  /// They end the segment's records and are not a problem.
  std::uint64_t zero_tail_bytes = 0;

  bool has_problem = false;          ///< anything after valid_bytes
  std::uint64_t problem_offset = 0;  ///< where the first bad byte or record is
  std::string problem;               ///< why it is bad
  /// True when a record with a valid CRC starts at or after problem_offset. Then the
  /// problem is not a torn tail from a crash: acknowledged data follows it.
  bool valid_record_after_problem = false;
};

/// Scans `bytes` (a whole segment file). `expected_first_position` is the position
/// the segment must start with (the previous segment's next position, 1 for the
/// first). Never reads outside `bytes`.
segment_scan scan_segment(std::string_view bytes, std::uint64_t expected_first_position,
                          const batch_visitor& visit);

/// Buffers a file scan reuses from one segment to the next, so recovery allocates
/// nothing per record and, in the steady state, nothing per segment.
struct scan_buffers {
  std::string window;                  ///< grows to hold the largest batch (>= chunk)
  std::vector<located_record> batch;
};

/// Bytes scan_segment_file() reads per read_at(): large sequential reads, bounded memory.
inline constexpr std::size_t scan_chunk_bytes = 4U * 1024 * 1024;

/// Scans the segment file `handle` of `file_bytes` bytes like scan_segment(), reading
/// it in chunks of `chunk_bytes` (the window grows only when one batch is larger)
/// instead of whole. A file that turns out shorter than `file_bytes` is scanned to its
/// end. With `resume_offset` > the header size the header is still checked, but the
/// scan starts at that offset (a record boundary) expecting `resume_position`: the
/// records before it are known from an index checkpoint; `events` counts only the
/// records scanned. Errors: store_unavailable when a read fails.
result<segment_scan> scan_segment_file(const file& handle, std::uint64_t file_bytes,
                                       std::uint64_t expected_first_position,
                                       const batch_visitor& visit, scan_buffers& buffers,
                                       std::uint64_t resume_offset = 0,
                                       std::uint64_t resume_position = 0,
                                       std::size_t chunk_bytes = scan_chunk_bytes);

/// True when a record with a valid CRC starts anywhere in `bytes` at or after `from`.
bool valid_record_at_or_after(std::string_view bytes, std::uint64_t from);

}  // namespace tally::store
