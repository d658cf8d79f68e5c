// Helpers over the file_system interface (include/tally/file_system.hpp) that the
// journal, recovery and verify share.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "tally/error.hpp"
#include "tally/file_system.hpp"

namespace tally::store {

/// Returns "directory/name" (no doubled '/').
std::string join_path(std::string_view directory, std::string_view name);

/// Returns the directory part of `path` ("/" for "/x", "." for "x").
std::string parent_directory(std::string_view path);

/// Reads the whole of `handle`. Errors: store_unavailable; invalid_argument when the
/// file is larger than `bytes_max` (so a damaged file cannot exhaust memory).
result<std::string> read_whole_file(const file& handle, std::uint64_t bytes_max);

/// Replaces `directory/name` with `contents` so that after a crash the file holds
/// either its old or its new contents, never a mix: writes `name.tmp`, syncs it,
/// renames it over `name` and syncs the directory.
status write_file_atomically(file_system& fs, const std::string& directory,
                             const std::string& name, std::string_view contents);

/// Suffix of the temporary files write_file_atomically() leaves behind on a crash.
inline constexpr std::string_view temporary_file_suffix = ".tmp";

}  // namespace tally::store
