// The embedded durable journal: a segmented, checksummed log in one local directory.
// The on-disk format and the recovery rules are in docs/log_format.md.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tally/error.hpp"
#include "tally/file_system.hpp"
#include "tally/journal.hpp"

namespace tally {

/// What opening does with corruption that is followed by valid records (which a crash
/// cannot produce: it means lost or damaged acknowledged data).
enum class repair_mode : std::uint8_t {
  refuse,                     ///< fail with journal_corrupt naming file, offset and reason
  truncate_after_corruption,  ///< keep the valid prefix, delete everything after it
};

inline constexpr std::uint64_t segment_bytes_max_default = 64ULL * 1024 * 1024;
/// Zeros written ahead of the records (see file_journal_options::preallocate_bytes).
inline constexpr std::uint64_t preallocate_bytes_default = 1ULL * 1024 * 1024;
/// Segments smaller than this only make sense in tests.
inline constexpr std::uint64_t segment_bytes_min = 4096;

struct file_journal_options {
  /// The data directory. Created (mode 0700) when missing; its parent must exist.
  std::string directory;
  /// A segment is closed and a new one started when the next batch would make it
  /// larger than this. A single batch larger than this gets a segment of its own.
  std::uint64_t segment_bytes_max = segment_bytes_max_default;
  repair_mode repair = repair_mode::refuse;
  /// Persist the indexes in `index.checkpoint` (docs/log_format.md) at a clean close,
  /// and at open after a scan of at least `index_checkpoint_segments` segments, so the
  /// next open loads them and scans only the log after them. With a valid checkpoint,
  /// open checks the CRCs of the records after it only; the records it covers are
  /// checked when read (and by verify). A stale, damaged or mismatching checkpoint is
  /// ignored (a full scan), and removed when it does not match the log.
  bool index_checkpoint = true;
  std::uint64_t index_checkpoint_segments = 8;
  /// When an append reaches the end of the zero-filled part of its segment, the
  /// segment is extended with this many zero bytes (never past segment_bytes_max), in
  /// the same write and sync as the batch. Commits then overwrite space the file
  /// already has: fdatasync writes the data only, not the file size (on the 2-core
  /// machine's ext4 about a third less time and CPU per sync, docs/benchmarks.md). The
  /// commit that writes a step waits for it (1 MiB: about 1.6 ms there). A sealed
  /// segment is cut back to its records; recovery reads the zeros after the last
  /// record as the end of the log (docs/log_format.md).
  /// 0: no preallocation (every commit grows the file).
  std::uint64_t preallocate_bytes = preallocate_bytes_default;
};

/// One thing recovery changed on disk.
struct recovery_action {
  std::string file;             ///< path of the file that was cut or removed
  std::uint64_t offset = 0;     ///< where the dropped bytes started
  std::uint64_t bytes_dropped = 0;
  std::string reason;           ///< e.g. "torn tail: crc mismatch"
};

/// What opening the journal found and did.
struct recovery_report {
  std::uint64_t segments_scanned = 0;
  std::uint64_t events_recovered = 0;
  std::uint64_t bytes_scanned = 0;
  std::uint64_t snapshots_loaded = 0;
  std::uint64_t scan_duration_us = 0;  ///< wall time of the segment scan
  /// Events whose index entries came from the index checkpoint (not scanned; they
  /// are part of events_recovered). 0 when there was no usable checkpoint.
  std::uint64_t checkpoint_events = 0;
  /// Truncated tails, removed empty segments, dropped snapshots, repairs.
  std::vector<recovery_action> actions;
  /// True when corruption (not just a torn tail) was repaired by truncation.
  bool repaired_corruption = false;

  bool clean() const noexcept { return actions.empty(); }
};

/// Opens (or creates) the file journal in `options.directory`.
///
/// Recovery: checks every record's CRC (with an index checkpoint: every record after
/// it). A torn or corrupt tail with no valid record
/// after it is cut back to the longest valid prefix of whole batches. Corruption with
/// valid records after it fails with journal_corrupt (file, offset, reason) unless
/// `options.repair` is truncate_after_corruption. What was cut is listed in `*report`
/// (optional, may be null). Takes an exclusive lock on the directory: a second open of
/// the same directory, from any process, fails with store_unavailable until the first
/// journal is destroyed.
///
/// `fs` must outlive the returned journal. Errors: store_unavailable (I/O, lock),
/// journal_corrupt, invalid_argument (options).
result<std::unique_ptr<journal>> open_file_journal(file_system& fs,
                                                   const file_journal_options& options,
                                                   recovery_report* report = nullptr);

}  // namespace tally
