// `tally verify` and `tally inspect`: read a data directory offline, change nothing.
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>

namespace tally::cli {

/// Verifies `directory` (store/verify.hpp, with the bank's snapshot check) and prints
/// a report. Returns 0 when there is no error, 1 when there are problems of severity
/// error, 2 when the directory does not exist.
int run_verify(const std::string& directory, bool as_json, std::ostream& out, std::ostream& err);

struct inspect_options {
  std::string directory;
  std::string stream;            ///< only this stream (empty: all)
  std::uint64_t from_position = 1;
  std::uint64_t limit = UINT64_MAX;
};

/// Prints every event record of the journal in `directory` as one JSON object per
/// line, in position order. Returns 0, 1 when a segment is damaged (what was read
/// before the damage is printed, the problem goes to `err`), 2 when the directory does
/// not exist.
int run_inspect(const inspect_options& options, std::ostream& out, std::ostream& err);

}  // namespace tally::cli
