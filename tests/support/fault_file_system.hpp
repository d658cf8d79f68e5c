// An in-memory file system for crash and I/O-error tests. It remembers which bytes and
// directory entries are durable (synced) and which are not; crash() throws away what a
// power loss would (optionally keeping a torn, garbled prefix of unsynced appends), and
// faults make the n-th open/write/sync/rename/... fail with EIO or ENOSPC, once or from
// then on. Every mutating operation is counted, so a test can crash at each one.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "tally/file_system.hpp"

namespace tally::testing {

/// The operations that count (and that faults and crash points apply to).
enum class fault_operation : std::uint8_t {
  open,
  write,
  sync,
  sync_directory,
  rename,
  remove,
  truncate,
  create_directory,
};

enum class fault_persistence : std::uint8_t {
  once,        ///< only the n-th operation fails
  persistent,  ///< the n-th and every later operation of that kind fail
};

/// What a power loss does to bytes appended after a file's last sync.
enum class unsynced_bytes : std::uint8_t {
  dropped,              ///< all lost
  torn_prefix_kept,     ///< a random prefix survives (a torn write)
  torn_prefix_garbled,  ///< a random prefix survives with its last bytes garbled
};

class fault_file_system final : public file_system {
public:
  fault_file_system();
  ~fault_file_system() override;

  // file_system
  result<std::unique_ptr<file>> open_file(const std::string& path, file_access access,
                                          file_creation creation,
                                          std::uint32_t permissions) override;
  result<bool> create_directory(const std::string& path, std::uint32_t permissions) override;
  status sync_directory(const std::string& path) override;
  status rename_file(const std::string& from, const std::string& to) override;
  status remove_file(const std::string& path) override;
  result<std::vector<std::string>> list_directory(const std::string& path) override;
  result<bool> file_exists(const std::string& path) override;
  result<std::uint64_t> file_size(const std::string& path) override;
  result<std::unique_ptr<file_lock>> lock_file(const std::string& path) override;

  /// Makes the `nth` (1-based, counted from this call) operation of kind `operation`
  /// fail with `error_number` (EIO, ENOSPC, ...); with `persistent`, every later one
  /// too. A failing write first writes half of its bytes, like a short write.
  void inject_fault(fault_operation operation, std::uint64_t nth, int error_number,
                    fault_persistence persistence);
  void clear_faults();

  /// Power fails at mutating operation number `operation_number` (see operations()):
  /// that operation and everything after it fail with EIO until crash() is called.
  void crash_at_operation(std::uint64_t operation_number);

  /// Mutating operations so far (all fault_operation kinds).
  std::uint64_t operations() const;

  /// True once the crash point was reached.
  bool power_lost() const;

  /// Simulates the power loss and restart: unsynced bytes and unsynced directory
  /// entries are lost (per `mode`, with `seed` for the torn length and garbage), locks
  /// are released, faults and the crash point are cleared.
  void crash(unsynced_bytes mode = unsynced_bytes::dropped, std::uint64_t seed = 0);

  /// The process dies and the machine keeps running (kill -9): from now on every
  /// operation fails as after a power loss, so nothing the dying process still runs
  /// (destructors) reaches the disk. Follow with restart_process() or crash().
  void kill_process();

  /// Restarts a process that died without a power loss: unsynced bytes and entries
  /// stay (the page cache survives), locks are released, faults and the crash point
  /// are cleared.
  void restart_process();

  /// Test access to current contents, bypassing faults and counting.
  std::optional<std::string> contents(const std::string& path) const;
  /// Replaces a file's contents durably (for corruption tests); creates it if needed.
  void set_contents(const std::string& path, const std::string& bytes);
  /// Names of files (not directories) under `directory`, sorted.
  std::vector<std::string> files_in(const std::string& directory) const;
  /// Permission bits a file or directory was created with.
  std::optional<std::uint32_t> permissions(const std::string& path) const;

  struct inode {
    std::string data;
    std::string durable;  ///< contents as of the last sync
  };

private:
  friend class fault_file;
  friend class fault_lock;
  struct entry {
    bool directory = false;
    std::shared_ptr<inode> node;  ///< null for directories
    std::uint32_t permissions = 0;
  };
  struct fault {
    fault_operation operation;
    std::uint64_t nth;
    int error_number;
    fault_persistence persistence;
    std::uint64_t seen = 0;
  };

  // Counts `operation` and returns the error it must fail with, if any. Caller holds
  // mutex_.
  std::optional<status> count(fault_operation operation, const std::string& path);
  status failure_locked(const char* operation, const std::string& path) const;
  bool parent_exists_locked(const std::string& path, const std::map<std::string, entry>& names) const;

  mutable std::mutex mutex_;
  std::map<std::string, entry> current_;
  std::map<std::string, entry> durable_;
  std::vector<fault> faults_;
  std::uint64_t operations_ = 0;
  std::uint64_t crash_at_ = 0;  // 0: no crash point
  bool dead_ = false;
  std::map<std::string, std::uint64_t> locks_;  // path -> holder token
  std::uint64_t next_lock_token_ = 1;
};

}  // namespace tally::testing
