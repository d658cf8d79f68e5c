// Projection checkpoints in files, one per projection, in a directory of their own.
//
// Format of <directory>/<projection>.checkpoint (little-endian), version 1:
//   magic "TCKP" (4) | format_version u16 (2) | reserved u16 = 0 (2) | position u64 (8)
//   | state_bytes u64 (8) | state (state_bytes) | crc32c u32 (4, masked, over all
//   bytes before it)
// A save writes <name>.checkpoint.tmp, syncs it, renames it over the old file and
// syncs the directory, so a crash leaves either the old or the new checkpoint. A file
// that fails any check loads as "no checkpoint": the projection rebuilds from the
// journal, which is always correct, only slower.
#pragma once

#include <memory>
#include <string>

#include "tally/checkpoint_store.hpp"
#include "tally/file_system.hpp"

namespace tally::daemon {

inline constexpr std::uint16_t checkpoint_format_version = 1;
inline constexpr std::size_t checkpoint_header_bytes = 24;
inline constexpr std::size_t checkpoint_state_bytes_max = 1ULL << 32;

/// Checkpoints under `directory` (created with mode 0700 when missing; its parent
/// must exist). `fs` must outlive the store. blocks_on_io() is true, so projections
/// run on threads of their own. Errors: store_unavailable when the directory cannot
/// be created.
result<std::shared_ptr<checkpoint_store>> make_file_checkpoint_store(file_system& fs,
                                                                     const std::string& directory);

}  // namespace tally::daemon
