#include "store/segment_scanner.hpp"

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

segment_scan scan_segment(std::string_view bytes, std::uint64_t expected_first_position,
                          const batch_visitor& visit) {
  segment_scan out;
  auto fail = [&](std::uint64_t problem_offset, std::string reason, bool record_is_valid) {
    out.has_problem = true;
    out.problem_offset = problem_offset;
    out.problem = std::move(reason);
    out.valid_record_after_problem
      = record_is_valid || valid_record_at_or_after(bytes, problem_offset + 1);
    return out;
  };
  std::uint64_t first_position = 0;
  if (const char* header_problem = decode_segment_header(bytes, first_position))
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
  std::vector<located_record> batch;
  std::uint64_t offset = segment_header_bytes;
  std::uint64_t expected_position = first_position;
  while (offset < bytes.size()) {
    decoded_record record;
    if (const char* problem = decode_event_record(bytes.substr(offset), record))
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
        return out;
      }
      out.valid_bytes = offset;
      out.events += batch.size();
      out.next_position = expected_position;
      batch.clear();
    }
  }
  if (!batch.empty()) {
    // A batch whose last record never made it to disk: the append was not acknowledged.
    out.has_problem = true;
    out.problem_offset = batch.front().offset;
    out.problem = "incomplete batch (no batch end record)";
    out.valid_record_after_problem = false;
  }
  return out;
}

}  // namespace tally::store
