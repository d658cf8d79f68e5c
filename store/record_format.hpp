// The on-disk layout of the file journal: sizes, magic numbers and limits. Every number
// here is part of format version 1 and documented in docs/log_format.md; change one and
// you must bump the format version.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tally::store {

/// Version of the segment and snapshot formats written by this code.
inline constexpr std::uint32_t log_format_version = 1;

// ---- segment header --------------------------------------------------------------
// magic (8) | format version (4) | flags (4) | first position (8) | masked crc32c of
// the 24 bytes before it (4) | reserved, zero (4).
inline constexpr std::uint64_t segment_magic = 0x474F4C594C4C4154ULL;  // "TALLYLOG" (LE)
inline constexpr std::size_t segment_header_bytes = 32;
inline constexpr std::size_t segment_header_crc_offset = 24;
static_assert(8 + 4 + 4 + 8 == segment_header_crc_offset);
static_assert(segment_header_crc_offset + 4 + 4 == segment_header_bytes);

// ---- record framing --------------------------------------------------------------
// magic (4) | masked crc32c of everything after this field (4) | body length (4) |
// type (1) | body (length bytes).
inline constexpr std::uint32_t record_magic = 0xA17E11A7U;
inline constexpr std::size_t record_header_bytes = 13;
inline constexpr std::size_t record_crc_offset = 4;
inline constexpr std::size_t record_length_offset = 8;
inline constexpr std::size_t record_type_offset = 12;
static_assert(4 + 4 + 4 + 1 == record_header_bytes);
static_assert(record_type_offset + 1 == record_header_bytes);
// A record's first byte (the magic's low byte, little-endian) is never zero: a zero byte
// where a record would start marks the preallocated, zero-filled end of a segment.
static_assert((record_magic & 0xFFU) != 0);

/// A batch is a run of records whose last one is `event_batch_end`; recovery keeps
/// only whole batches, which makes append_batch() atomic across a power loss.
enum class record_type : std::uint8_t {
  invalid = 0,          ///< never written: zero-filled space decodes as invalid
  event = 1,            ///< an event; more events of the same batch follow
  event_batch_end = 2,  ///< the last event of a batch
};

// ---- event body --------------------------------------------------------------------
// position (8) | stream version (8) | event id (16) | command id (16) |
// correlation id (16) | command hash (8) | timestamp ns (8, signed) |
// schema version (2) | stream id bytes (2) | type bytes (2) | payload bytes (4) |
// stream id | type | payload. Ids are (high, low) as two u64.
inline constexpr std::size_t event_body_fixed_bytes = 90;
static_assert(8 + 8 + 16 + 16 + 16 + 8 + 8 + 2 + 2 + 2 + 4 == event_body_fixed_bytes);

/// Limits on the variable fields. They bound what a decoder accepts, so a damaged
/// length cannot make recovery allocate gigabytes.
inline constexpr std::size_t record_stream_id_bytes_max = 1024;
inline constexpr std::size_t record_type_name_bytes_max = 256;
inline constexpr std::size_t record_payload_bytes_max = 16ULL * 1024 * 1024;
inline constexpr std::size_t record_body_bytes_max = event_body_fixed_bytes
                                                     + record_stream_id_bytes_max
                                                     + record_type_name_bytes_max
                                                     + record_payload_bytes_max;
static_assert(record_stream_id_bytes_max <= UINT16_MAX);
static_assert(record_type_name_bytes_max <= UINT16_MAX);
static_assert(record_body_bytes_max <= UINT32_MAX);

// ---- snapshot file -------------------------------------------------------------------
// magic (8) | format version (4) | body length (4) | masked crc32c of the body (4) |
// reserved, zero (4) | body: stream version (8) | state format version (2) |
// stream id bytes (2) | state bytes (4) | stream id | state.
inline constexpr std::uint64_t snapshot_magic = 0x504E53594C4C4154ULL;  // "TALLYSNP" (LE)
inline constexpr std::size_t snapshot_header_bytes = 24;
inline constexpr std::size_t snapshot_body_fixed_bytes = 16;
static_assert(8 + 4 + 4 + 4 + 4 == snapshot_header_bytes);
static_assert(8 + 2 + 2 + 4 == snapshot_body_fixed_bytes);
inline constexpr std::size_t snapshot_state_bytes_max = 64ULL * 1024 * 1024;
static_assert(snapshot_body_fixed_bytes + record_stream_id_bytes_max + snapshot_state_bytes_max
              <= UINT32_MAX);

// ---- index checkpoint file (index.checkpoint) -------------------------------------------
// Header (64): magic (8) | checkpoint format version (4) | flags, zero (4) | head (8) |
// segments (8) | streams (8) | command table capacity (8) | commands (8) | masked crc32c
// of the body (4) | masked crc32c of the 60 header bytes before it (4).
// Body: per segment {first position (8), end offset (8), records (8), CRC field of its
// last record (4), zero (4)}; per segment its record offsets (4 each); per stream {id
// bytes (2), id, events (8), positions (8 each)}; the command table's slots (40 each:
// id high (8), id low (8), command hash (8), first position (8), events (4), stream
// number (4); all zero when empty). The slot of a command depends on
// command_table::hash(): changing that hash requires a new checkpoint version.
inline constexpr std::uint64_t checkpoint_magic = 0x584449594C4C4154ULL;  // "TALLYIDX" (LE)
inline constexpr std::uint32_t checkpoint_format_version = 1;
inline constexpr std::size_t checkpoint_header_bytes = 64;
inline constexpr std::size_t checkpoint_header_crc_offset = 60;
inline constexpr std::size_t checkpoint_segment_bytes = 32;
inline constexpr std::size_t checkpoint_command_bytes = 40;

}  // namespace tally::store
