// The clients' record of every command they sent: id, payload, and the reply (or that
// there was none). Thread-safe; every change is also written as one JSON line to the
// command log, so a failed run can be read afterwards command by command.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <fstream>
#include <mutex>
#include <string>
#include <vector>

#include "tests/crash/bank_operations.hpp"

namespace tally::crash {

enum class command_state : std::uint8_t {
  in_flight,     ///< sent, no reply yet
  acknowledged,  ///< the daemon decided it and said so
  in_doubt,      ///< sent, but no decision came back (the daemon was killed)
  resolved,      ///< was in doubt; its retry with the same id and payload was decided
};

std::string_view to_string(command_state state) noexcept;

struct command_record {
  std::string key;           ///< the command id the client sent (a transfer: its transfer id)
  std::string id;            ///< the daemon's 128-bit id for `key` (UUID text, as events carry it;
                             ///< a transfer's events carry ids derived from `key` instead)
  operation op;
  std::uint32_t client = 0;
  std::uint32_t round = 0;   ///< the daemon run (between kills) it was first sent in
  command_state state = command_state::in_flight;
  command_outcome outcome;   ///< valid when acknowledged or resolved
  std::string doubt;         ///< why it was in doubt
};

/// True when `record` was decided as accepted (acknowledged or resolved).
bool is_applied(const command_record& record) noexcept;

class command_ledger {
public:
  /// Writes the command log to `log_path` (truncated).
  explicit command_ledger(const std::string& log_path);

  struct submitted {
    std::size_t index = 0;
    std::string key;
  };

  /// Records `op` as sent by `client` in `round`, before it is sent, under a new
  /// unique command id.
  submitted submit(const operation& op, std::uint32_t client, std::uint32_t round);

  void acknowledge(std::size_t index, const command_outcome& outcome);
  void mark_in_doubt(std::size_t index, const std::string& why);
  /// Records the decided reply to the retry of an in-doubt command.
  void resolve(std::size_t index, const command_outcome& outcome);
  /// Notes something about a command in the log only (a retry that failed, ...).
  void note(std::size_t index, const std::string& what);

  /// A copy of one record / of all of them, in submission order.
  command_record record(std::size_t index) const;
  std::vector<command_record> records() const;
  /// The indexes of the commands in doubt now.
  std::vector<std::size_t> in_doubt() const;

  /// Accounts whose open was accepted, in the order the ledger learned it; not the
  /// closable ones (their own client closes them, nothing else addresses them).
  std::vector<std::string> open_accounts() const;

  struct counts {
    std::uint64_t submitted = 0;
    std::uint64_t acknowledged = 0;
    std::uint64_t in_doubt_ever = 0;  ///< every command that was ever in doubt
    std::uint64_t resolved = 0;
  };
  counts totals() const;

private:
  void log_line(const std::string& line);
  void learn_open(const command_record& record);

  mutable std::mutex mutex_;
  std::deque<command_record> records_;
  std::vector<std::string> open_accounts_;
  counts counts_;
  std::ofstream log_;
};

}  // namespace tally::crash
