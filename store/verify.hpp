// Offline verification of a data directory (`tally verify`): reads everything, changes
// nothing, and lists every problem with file and offset.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "tally/event.hpp"
#include "tally/file_system.hpp"
#include "tally/journal.hpp"

namespace tally::store {

enum class problem_severity : std::uint8_t {
  warning,  ///< a torn tail or leftover a crash leaves; opening repairs it by itself
  error,    ///< corruption or an invariant violation; opening refuses or data is wrong
};

struct verify_problem {
  problem_severity severity = problem_severity::error;
  std::string file;
  std::uint64_t offset = 0;
  std::string description;
};

/// Checks that a snapshot equals the state rebuilt from `events` (the stream's events
/// with version <= snapshot.stream_version, in order). Returns a description of the
/// difference, or nullopt when they agree. Supplied by the aggregate (its evolve).
using snapshot_check = std::function<std::optional<std::string>(
  const snapshot& saved, const std::vector<recorded_event>& events)>;

struct verify_options {
  snapshot_check check_snapshot;     ///< none by default: snapshots checked for form only
  std::size_t problems_max = 1000;   ///< stop listing after this many
};

struct verify_report {
  std::uint64_t segments = 0;
  std::uint64_t events = 0;
  std::uint64_t streams = 0;
  std::uint64_t commands = 0;
  std::uint64_t snapshots = 0;
  std::uint64_t bytes = 0;
  std::vector<verify_problem> problems;

  /// True when there is no problem of severity error.
  bool ok() const noexcept;
};

/// Verifies the data directory `directory`: every record and snapshot CRC, positions
/// contiguous from 1 across segments, versions contiguous per stream, event ids and
/// command ids unique (a command's events contiguous in one stream), snapshots
/// well-formed and not ahead of their stream, and, with `options.check_snapshot`,
/// equal to the replayed state. Read-only: it takes no lock, so run it on a directory
/// no journal is writing, or expect a torn-tail warning for an append in flight.
verify_report verify_data_directory(file_system& fs, const std::string& directory,
                                    const verify_options& options = {});

}  // namespace tally::store
