// Internals of the file journal shared with verify and the tests: file names and the
// layout of the data directory. The public factory is in include/tally/file_journal.hpp.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tally::store {

// Data directory layout (docs/log_format.md):
//   LOCK                              flock'ed while a journal has the directory open
//   segment-<20-digit first position>.log
//   snapshots/<name>.snapshot         latest snapshot per stream
//   index.checkpoint                  the indexes as of some position (optional)
inline constexpr std::string_view lock_file_name = "LOCK";
inline constexpr std::string_view segment_file_prefix = "segment-";
inline constexpr std::string_view segment_file_suffix = ".log";
inline constexpr std::size_t segment_file_position_digits = 20;  // UINT64_MAX has 20
inline constexpr std::string_view snapshot_directory_name = "snapshots";
inline constexpr std::string_view snapshot_file_suffix = ".snapshot";
inline constexpr std::string_view checkpoint_file_name = "index.checkpoint";

/// Recovery reads segments in chunks, verify reads them whole; a file larger than this
/// is refused rather than exhausting memory (a segment is segment_bytes_max plus one
/// batch). Record offsets are kept in 32 bits, which this bound guarantees.
inline constexpr std::uint64_t segment_file_bytes_max = 2ULL * 1024 * 1024 * 1024;

/// "segment-00000000000000000001.log" for first position 1.
std::string segment_file_name(std::uint64_t first_position);

/// The first position in a segment file name, nullopt for any other name.
std::optional<std::uint64_t> parse_segment_file_name(std::string_view name);

/// The file name (in snapshots/) of `stream_id`'s snapshot: the stream id in hex, so
/// any bytes are safe in a file name; ids longer than 100 bytes use their 64-bit
/// stable_hash instead (the file holds the full id, which loading checks).
std::string snapshot_file_name(std::string_view stream_id);

}  // namespace tally::store
