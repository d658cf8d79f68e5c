// The file-system interface (LevelDB's Env, reduced to what the journal needs). All file
// I/O of the durable journal goes through it, so tests can swap in a file system that
// loses unsynced bytes, tears writes and fails with EIO/ENOSPC on demand, without
// mocking any of the journal's own logic.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tally/error.hpp"

namespace tally {

/// Whether an opened file may be written.
enum class file_access : std::uint8_t { read_only, read_write };

/// What open_file() does when the file does or does not exist.
enum class file_creation : std::uint8_t {
  open_existing,      ///< fail when the file does not exist
  create_if_missing,  ///< open, or create an empty file
  create_exclusive,   ///< create; fail when the file exists (O_EXCL)
};

/// Permission bits for what the journal creates: its data is readable by its owner only.
inline constexpr std::uint32_t file_permissions_private = 0600;
inline constexpr std::uint32_t directory_permissions_private = 0700;

/// An open file. Errors are store_unavailable with a message naming the path and the
/// operating system's reason.
///
/// Threads: read_at() and size() may run concurrently with each other and with one
/// writer calling write_at(), sync() or truncate(); readers of a range that is being
/// written see old or new bytes.
class file {
public:
  virtual ~file() = default;

  /// Writes all of `data` at `offset`. On error a prefix of `data` may have been
  /// written; the caller must treat the file's contents past `offset` as unknown.
  virtual status write_at(std::uint64_t offset, std::string_view data) = 0;

  /// Reads up to `size` bytes at `offset` into `buffer`. Returns the number of bytes
  /// read, which is less than `size` only at the end of the file.
  virtual result<std::size_t> read_at(std::uint64_t offset, char* buffer,
                                      std::size_t size) const = 0;

  /// Makes every byte written so far, and the file's size, durable (fdatasync). Until
  /// it returns ok, a power loss may drop or garble any unsynced byte.
  virtual status sync() = 0;

  /// Current size in bytes.
  virtual result<std::uint64_t> size() const = 0;

  /// Cuts the file to `size` bytes (not durable until sync()).
  virtual status truncate(std::uint64_t size) = 0;

  /// The path the file was opened with, for error messages.
  virtual const std::string& path() const = 0;
};

/// An advisory lock on a file, held until this object is destroyed.
class file_lock {
public:
  virtual ~file_lock() = default;
};

/// The operations the journal performs on a file system. Paths are plain strings joined
/// with '/'. Errors are store_unavailable with a message naming the path and reason.
///
/// Threads: all functions may be called from several threads at once.
class file_system {
public:
  virtual ~file_system() = default;

  /// Opens `path`. `permissions` applies when the file is created. The returned file
  /// is owned by the caller and may outlive nothing but this file system.
  virtual result<std::unique_ptr<file>> open_file(const std::string& path, file_access access,
                                                  file_creation creation,
                                                  std::uint32_t permissions
                                                  = file_permissions_private)
    = 0;

  /// Creates the directory `path` (its parent must exist). Returns true when it was
  /// created, false when it already existed. The new entry is durable only after
  /// sync_directory() of the parent.
  virtual result<bool> create_directory(const std::string& path, std::uint32_t permissions
                                                                 = directory_permissions_private)
    = 0;

  /// Makes the entries of directory `path` (creations, renames, removals) durable.
  virtual status sync_directory(const std::string& path) = 0;

  /// Atomically replaces `to` with `from` (rename(2)); durable after sync_directory().
  virtual status rename_file(const std::string& from, const std::string& to) = 0;

  /// Removes the file `path`; durable after sync_directory().
  virtual status remove_file(const std::string& path) = 0;

  /// Names (not paths) of the entries of directory `path`, without "." and "..", in
  /// no particular order.
  virtual result<std::vector<std::string>> list_directory(const std::string& path) = 0;

  /// True when `path` exists (file or directory).
  virtual result<bool> file_exists(const std::string& path) = 0;

  /// Size of the file `path` in bytes.
  virtual result<std::uint64_t> file_size(const std::string& path) = 0;

  /// Takes an exclusive lock on `path` (created when missing), so a second process (or
  /// a second journal in this process) fails instead of writing the same directory.
  /// Fails at once when the lock is held elsewhere.
  virtual result<std::unique_ptr<file_lock>> lock_file(const std::string& path) = 0;
};

/// The operating system's file system (POSIX: pread/pwrite/fdatasync/flock). It has no
/// state; the returned object is a process-wide singleton.
file_system& posix_file_system();

}  // namespace tally
