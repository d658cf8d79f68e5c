// tallyd's configuration: one table of options, read from a key=value file, from
// TALLY_* environment variables and from command-line flags, all with the same names
// (precedence: flag > environment > file > default). Parsing is strict: an unknown
// key, a duplicate key or a bad value is an error that names the key and its source.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace tally::daemon {

enum class journal_kind : std::uint8_t { file, memory };

struct listen_address {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;
};

/// Everything tallyd is configured with. Names match the option names with '-' as '_'.
struct daemon_config {
  std::string config;  ///< the file that was read (empty: none)
  listen_address listen;
  std::string data_dir;
  journal_kind journal = journal_kind::file;
  std::string token_file;
  std::uint64_t request_body_bytes_max = 0;
  std::uint64_t request_header_bytes_max = 0;
  std::uint64_t read_timeout_ms = 0;
  std::uint64_t connections_max = 0;
  std::uint64_t commands_in_flight_max = 0;
  std::uint64_t transfers_in_progress_max = 0;
  std::uint64_t query_wait_ms_max = 0;
  std::uint64_t snapshot_interval_events = 0;
  std::uint64_t journal_preallocate_bytes = 0;
  std::uint64_t resident_accounts_max = 0;
  std::uint64_t idle_ms_max = 0;
  std::uint64_t checkpoint_interval_events = 0;
  std::uint64_t checkpoint_bytes_per_event_max = 0;
  std::uint64_t sse_buffer_events_max = 0;
  std::uint64_t shutdown_timeout_ms = 0;
  std::uint64_t worker_threads = 0;
  std::string log_level;
  bool request_log = false;
  bool allow_root = false;
};

/// The configuration with every default applied (what an empty file gives).
daemon_config default_config();

/// What parse_config() decided.
struct config_outcome {
  enum class kind : std::uint8_t { run, help, error } action = kind::error;
  daemon_config config;
  std::string message;  ///< help text (help) or the error (error), one line per problem
};

/// Looks up an environment variable; nullptr when unset.
using environment_lookup = std::function<const char*(const std::string& name)>;

/// Reads the configuration from `argv` (flags), `environment` (TALLY_<NAME>, '-' as
/// '_', upper case) and the file named by --config / TALLY_CONFIG. Never exits; the
/// caller prints `message` and exits 0 (help) or 2 (error).
config_outcome parse_config(int argc, const char* const* argv, const environment_lookup& environment);

/// Parses the text of a configuration file (`name` is used in messages). Lines are
/// `key = value` (value optionally in double quotes), blank, or `#` comments. Returns
/// the pairs in order, or an error naming the line and key.
struct config_entry {
  std::string key;
  std::string value;
  std::string source;  ///< e.g. "tallyd.conf:3"
};
struct config_file_outcome {
  std::vector<config_entry> entries;
  std::string error;  ///< empty on success
};
config_file_outcome parse_config_file(const std::string& text, const std::string& name);

/// Names of every option, in help order (for docs and tests).
std::vector<std::string> config_option_names();

/// Parses "HOST:PORT" (IPv4 literal or "localhost"; "[v6]:PORT"). Empty on success,
/// else the reason.
std::string parse_listen_address(const std::string& text, listen_address& out);

/// True when `host` is a loopback address (127.0.0.0/8, ::1, localhost).
bool is_loopback_host(const std::string& host);

}  // namespace tally::daemon
