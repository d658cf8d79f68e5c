// The `fsync-raw` baseline: the disk's ceiling for a journal that replies only after
// the sync. It writes records of a given size in batches with one write() and one
// fdatasync() per batch, as a group-committing journal at best would, and reports
// events/s and the fdatasync latency. Blocking POSIX code; no runtime involved.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "app/tally-load/parse_result.hpp"

namespace tally::load {

/// How the temp file is prepared before timing.
enum class file_preparation : std::uint8_t {
  /// The file starts empty and every batch extends it, so each fdatasync also flushes
  /// the new file size: what an appending journal segment pays. The default.
  appended,
  /// The file is written with zeros and synced before timing, and batches overwrite
  /// it in place, so fdatasync flushes data only: the ceiling of a journal that
  /// preallocates its segments.
  preallocated,
};

/// Returns "appended" or "preallocated".
std::string_view to_string(file_preparation preparation) noexcept;

/// Limits that keep one baseline run bounded in time and disk space.
inline constexpr std::uint32_t fsync_record_bytes_max = 1 << 20;
inline constexpr std::uint32_t fsync_batch_size_max = 1 << 20;
inline constexpr std::uint64_t fsync_file_bytes_max = std::uint64_t{1} << 30;

struct fsync_baseline_config {
  std::string directory;                         ///< the temp file goes here
  std::vector<std::uint32_t> batch_sizes{1, 16, 256, 4096};
  std::uint32_t record_bytes = 150;              ///< about one encoded Tally event
  file_preparation preparation = file_preparation::appended;
  /// Each batch size runs until this much time passed or events_per_batch_size_max
  /// events were written, whichever comes first; at least one batch always runs.
  double duration_per_batch_size_s = 2.0;
  std::uint64_t events_per_batch_size_max = 1'000'000;
};

/// What one batch size achieved.
struct fsync_baseline_result {
  std::uint32_t batch_size = 0;
  std::uint64_t events = 0;
  std::uint64_t syncs = 0;
  double elapsed_s = 0.0;
  double events_per_s = 0.0;
  double fdatasync_latency_us_p50 = 0.0;
  double fdatasync_latency_us_p99 = 0.0;
  double fdatasync_latency_us_max = 0.0;
};

/// Checks `config` (directory given, sizes in range, batch sizes non-empty and >= 1,
/// record_bytes * batch size <= fsync_file_bytes_max). Returns an error naming the
/// field, or nullopt.
std::optional<std::string> validate(const fsync_baseline_config& config);

/// Runs every batch size in order, each on a fresh temp file (mkstemp in `directory`,
/// unlinked when done, also on error). The file never grows past
/// fsync_file_bytes_max: a batch that would cross it wraps to offset 0 (preallocated)
/// or truncates the file to 0 and syncs untimed (appended). Errors name the failed
/// system call and path. Blocks the calling thread for about
/// batch_sizes.size() * duration_per_batch_size_s.
parse_result<std::vector<fsync_baseline_result>> run_fsync_baseline(
    const fsync_baseline_config& config);

/// Formats the results as a table for stdout.
std::string format_fsync_baseline(const fsync_baseline_config& config,
                                  const std::vector<fsync_baseline_result>& results);

}  // namespace tally::load
