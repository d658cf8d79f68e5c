// Encoding and decoding of segment headers, event records and snapshot files (format in
// docs/log_format.md and store/record_format.hpp). Decoders accept arbitrary bytes: they
// return a reason instead of crashing or reading out of bounds (fuzzed).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "store/record_format.hpp"
#include "tally/event.hpp"
#include "tally/journal.hpp"

namespace tally::store {

/// A decoded event whose strings point into the decoded bytes (no copies), so a scan
/// of a whole segment allocates nothing per record.
struct event_view {
  std::uint64_t position = 0;
  std::uint64_t stream_version = 0;
  command_id event_id;
  command_id command;
  command_id correlation;
  std::uint64_t command_hash = 0;
  std::int64_t timestamp_ns = 0;
  std::uint16_t schema_version = 0;
  std::string_view stream_id;
  std::string_view type;
  std::string_view payload;

  /// Copies the view into an owning event.
  recorded_event to_event() const;
};

/// A record decoded from the front of a byte range.
struct decoded_record {
  record_type type = record_type::invalid;
  event_view event;
  std::size_t bytes = 0;  ///< header + body: where the next record starts
};

/// Appends the 32-byte header of a segment whose first record has `first_position`.
void encode_segment_header(std::uint64_t first_position, std::string& out);

/// Decodes a segment header from the front of `bytes`. Returns nullptr and sets
/// `first_position` on success, otherwise a static string naming what is wrong.
const char* decode_segment_header(std::string_view bytes, std::uint64_t& first_position) noexcept;

/// Bytes encode_event_record() appends for `event`.
std::size_t encoded_event_record_bytes(const recorded_event& event) noexcept;

/// Appends the framed record of `event`. Preconditions (asserted): the variable fields
/// are within record_stream_id_bytes_max, record_type_name_bytes_max and
/// record_payload_bytes_max; `type` is event or event_batch_end.
void encode_event_record(const recorded_event& event, record_type type, std::string& out);
/// The same into `out`, which has room for encoded_event_record_bytes(event) bytes;
/// returns the end of the record.
char* encode_event_record(const recorded_event& event, record_type type, char* out) noexcept;

/// Decodes the record at the front of `bytes` (which may extend past it). Returns
/// nullptr on success, otherwise a static string naming what is wrong ("bad magic",
/// "crc mismatch", "record extends past end of data", ...). Never reads outside `bytes`.
const char* decode_event_record(std::string_view bytes, decoded_record& out) noexcept;

/// Returns the whole snapshot file for `saved`. Preconditions (asserted): stream id
/// and state within record_stream_id_bytes_max and snapshot_state_bytes_max.
std::string encode_snapshot_file(const snapshot& saved);

/// Decodes a whole snapshot file. Returns nullptr on success, otherwise a static
/// string naming what is wrong. Trailing bytes after the body are an error.
const char* decode_snapshot_file(std::string_view bytes, snapshot& out);

}  // namespace tally::store
