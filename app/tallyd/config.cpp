#include "app/tallyd/config.hpp"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <boost/asio/ip/address.hpp>
#include <CLI/CLI.hpp>

#include "app/tallyd/limits.hpp"
#include "tally/checkpoint_store.hpp"
#include "tally/file_journal.hpp"

namespace tally::daemon {

namespace {

enum class value_kind : std::uint8_t { text, integer, boolean };

/// One configuration option. `apply` validates a textual value and stores it; it
/// returns the reason when the value is not acceptable.
struct option_spec {
  const char* name;
  const char* help;
  value_kind kind;
  std::function<std::string(daemon_config&, const std::string&)> apply;
  std::function<std::string(const daemon_config&)> show;  ///< the default, for --help
};

/// Renders user text for an error message: printable ASCII as is, the rest escaped, so
/// a hostile value cannot forge lines on a terminal or in a log.
std::string shown(const std::string& text) {
  std::string out = "'";
  for (unsigned char c : text.substr(0, 200)) {
    if (c >= 0x20 && c < 0x7f && c != '\'') {
      out += static_cast<char>(c);
    } else {
      char buffer[8];
      std::snprintf(buffer, sizeof buffer, "\\x%02x", c);
      out += buffer;
    }
  }
  if (text.size() > 200)
    out += "...";
  return out + "'";
}

std::string parse_unsigned(const std::string& text, std::uint64_t min, std::uint64_t max,
                           std::uint64_t& out) {
  auto fail = [&] {
    return "expected an integer in " + std::to_string(min) + ".." + std::to_string(max) + ", got "
           + shown(text);
  };
  if (text.empty() || text.size() > 20)
    return fail();
  std::uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9')
      return fail();
    if (__builtin_mul_overflow(value, 10u, &value)
        || __builtin_add_overflow(value, static_cast<std::uint64_t>(c - '0'), &value))
      return fail();
  }
  if (value < min || value > max)
    return fail();
  out = value;
  return {};
}

std::string parse_bool(const std::string& text, bool& out) {
  if (text == "true") {
    out = true;
    return {};
  }
  if (text == "false") {
    out = false;
    return {};
  }
  return "expected true or false, got " + shown(text);
}

option_spec integer_option(const char* name, const char* help, std::uint64_t daemon_config::*field,
                           std::uint64_t min, std::uint64_t max) {
  return {name, help, value_kind::integer,
          [=](daemon_config& config, const std::string& text) {
            return parse_unsigned(text, min, max, config.*field);
          },
          [=](const daemon_config& config) { return std::to_string(config.*field); }};
}

const std::vector<option_spec>& option_table() {
  static const std::vector<option_spec> table = {
    {"listen", "address to bind, HOST:PORT (port 0 picks a free port)", value_kind::text,
     [](daemon_config& config, const std::string& text) {
       return parse_listen_address(text, config.listen);
     },
     [](const daemon_config& config) {
       return config.listen.host + ":" + std::to_string(config.listen.port);
     }},
    {"data-dir", "data directory of the file journal and checkpoints", value_kind::text,
     [](daemon_config& config, const std::string& text) -> std::string {
       if (text.empty())
         return "must not be empty";
       config.data_dir = text;
       return {};
     },
     [](const daemon_config&) { return std::string{"(none; required for journal=file)"}; }},
    {"journal", "event journal: file (durable, in data-dir) or memory (lost on exit)",
     value_kind::text,
     [](daemon_config& config, const std::string& text) -> std::string {
       if (text == "file")
         config.journal = journal_kind::file;
       else if (text == "memory")
         config.journal = journal_kind::memory;
       else
         return "expected file or memory, got " + shown(text);
       return {};
     },
     [](const daemon_config&) { return std::string{"file"}; }},
    {"token-file", "file holding the bearer token clients must send (required off loopback)",
     value_kind::text,
     [](daemon_config& config, const std::string& text) -> std::string {
       if (text.empty())
         return "must not be empty";
       config.token_file = text;
       return {};
     },
     [](const daemon_config&) { return std::string{"(none)"}; }},
    integer_option("request-body-bytes-max", "largest request body; larger gets 413",
                   &daemon_config::request_body_bytes_max, 64, request_body_bytes_max_ceiling),
    integer_option("request-header-bytes-max", "largest request header block; larger gets 431",
                   &daemon_config::request_header_bytes_max, 512, request_header_bytes_max_ceiling),
    integer_option("read-timeout-ms", "a connection idle or slow for this long is closed",
                   &daemon_config::read_timeout_ms, 100, 3'600'000),
    integer_option("connections-max", "open connections at once; more are refused with 503",
                   &daemon_config::connections_max, 1, 100'000),
    integer_option("commands-in-flight-max",
                   "commands being executed at once; more are refused with 503",
                   &daemon_config::commands_in_flight_max, 1, 1'000'000),
    integer_option("transfers-in-progress-max",
                   "transfers the runtime drives at once; more are refused with 503",
                   &daemon_config::transfers_in_progress_max, 1, 10'000'000),
    integer_option("query-wait-ms-max", "longest a query with min_position waits",
                   &daemon_config::query_wait_ms_max, 0, 60'000),
    integer_option("snapshot-interval-events", "snapshot an account every N events (0: never)",
                   &daemon_config::snapshot_interval_events, 0, 1'000'000'000),
    integer_option("journal-preallocate-bytes",
                   "zeros the journal writes ahead of its records, so a commit's sync writes "
                   "data only (0: none)",
                   &daemon_config::journal_preallocate_bytes, 0, 1ULL << 30),
    integer_option("resident-accounts-max", "account actors kept in memory at once",
                   &daemon_config::resident_accounts_max, 1, 100'000'000),
    integer_option("idle-ms-max", "passivate accounts idle this long (0: never)",
                   &daemon_config::idle_ms_max, 0, 86'400'000),
    integer_option("checkpoint-interval-events", "save projection checkpoints every N events",
                   &daemon_config::checkpoint_interval_events, 1, 1'000'000'000),
    integer_option("checkpoint-bytes-per-event-max",
                   "a checkpoint also waits until the events since the last one times this "
                   "reach its size, so read models that grow with the log are not re-encoded "
                   "every interval (0: no bound)",
                   &daemon_config::checkpoint_bytes_per_event_max, 0, 1ULL << 30),
    integer_option("sse-buffer-events-max",
                   "events buffered per /events connection before a slow consumer is dropped",
                   &daemon_config::sse_buffer_events_max, 16, 1'000'000),
    integer_option("shutdown-timeout-ms", "longest a graceful shutdown may take",
                   &daemon_config::shutdown_timeout_ms, 100, 600'000),
    integer_option("worker-threads", "CAF scheduler threads", &daemon_config::worker_threads, 1,
                   256),
    {"log-level", "trace, debug, info, warn, error or off", value_kind::text,
     [](daemon_config& config, const std::string& text) -> std::string {
       static const std::set<std::string> levels{"trace", "debug", "info", "warn", "error", "off"};
       if (levels.count(text) == 0)
         return "expected one of trace, debug, info, warn, error, off; got " + shown(text);
       config.log_level = text;
       return {};
     },
     [](const daemon_config& config) { return config.log_level; }},
    {"request-log", "log one line per HTTP request", value_kind::boolean,
     [](daemon_config& config, const std::string& text) {
       return parse_bool(text, config.request_log);
     },
     [](const daemon_config&) { return std::string{"false"}; }},
    {"allow-root", "allow running as root (refused by default)", value_kind::boolean,
     [](daemon_config& config, const std::string& text) {
       return parse_bool(text, config.allow_root);
     },
     [](const daemon_config&) { return std::string{"false"}; }},
  };
  return table;
}

const option_spec* find_option(const std::string& name) {
  for (const auto& spec : option_table())
    if (name == spec.name)
      return &spec;
  return nullptr;
}

std::string environment_name(const std::string& option) {
  std::string out = "TALLY_";
  for (char c : option)
    out += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string trim(const std::string& text) {
  auto first = text.find_first_not_of(" \t");
  if (first == std::string::npos)
    return {};
  auto last = text.find_last_not_of(" \t");
  return text.substr(first, last - first + 1);
}

}  // namespace

daemon_config default_config() {
  daemon_config config;
  config.request_body_bytes_max = request_body_bytes_max_default;
  config.request_header_bytes_max = request_header_bytes_max_default;
  config.read_timeout_ms = read_timeout_ms_default;
  config.connections_max = connections_max_default;
  config.commands_in_flight_max = commands_in_flight_max_default;
  config.transfers_in_progress_max = transfers_in_progress_max_default;
  config.query_wait_ms_max = query_wait_ms_max_default;
  config.snapshot_interval_events = 1000;
  config.journal_preallocate_bytes = preallocate_bytes_default;
  config.resident_accounts_max = 100'000;
  config.idle_ms_max = 600'000;
  config.checkpoint_interval_events = 100'000;
  config.checkpoint_bytes_per_event_max = checkpoint_bytes_per_event_max_default;
  config.sse_buffer_events_max = sse_buffer_events_max_default;
  config.shutdown_timeout_ms = shutdown_timeout_ms_default;
  config.worker_threads = 1;
  config.log_level = "info";
  return config;
}

std::vector<std::string> config_option_names() {
  std::vector<std::string> names{"config"};
  for (const auto& spec : option_table())
    names.emplace_back(spec.name);
  return names;
}

bool is_loopback_host(const std::string& host) {
  if (host == "localhost")
    return true;
  boost::system::error_code failure;
  auto address = boost::asio::ip::make_address(host, failure);
  return !failure && address.is_loopback();
}

std::string parse_listen_address(const std::string& text, listen_address& out) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0)
    return "expected HOST:PORT, got " + shown(text);
  auto host = text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  std::uint64_t port = 0;
  if (!parse_unsigned(text.substr(colon + 1), 0, 65535, port).empty())
    return "expected a port in 0..65535 after ':', got " + shown(text);
  if (host != "localhost") {
    boost::system::error_code failure;
    boost::asio::ip::make_address(host, failure);
    if (failure)
      return "expected an IP address or localhost as host, got " + shown(host);
  }
  out.host = host == "localhost" ? "127.0.0.1" : host;
  out.port = static_cast<std::uint16_t>(port);
  return {};
}

config_file_outcome parse_config_file(const std::string& text, const std::string& name) {
  config_file_outcome out;
  std::istringstream lines{text};
  std::string line;
  std::set<std::string> seen;
  int number = 0;
  while (std::getline(lines, line)) {
    ++number;
    auto where = name + ":" + std::to_string(number);
    if (!line.empty() && line.back() == '\r')
      line.pop_back();
    auto stripped = trim(line);
    if (stripped.empty() || stripped.front() == '#')
      continue;
    auto equals = stripped.find('=');
    if (equals == std::string::npos) {
      out.error = where + ": expected key = value";
      return out;
    }
    auto key = trim(stripped.substr(0, equals));
    auto value = trim(stripped.substr(equals + 1));
    if (key == "config") {
      out.error = where + ": key 'config' is only allowed as a flag or environment variable";
      return out;
    }
    if (!find_option(key)) {
      out.error = where + ": unknown key " + shown(key);
      return out;
    }
    if (!seen.insert(key).second) {
      out.error = where + ": key '" + key + "' is set twice";
      return out;
    }
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      value = value.substr(1, value.size() - 2);
      if (value.find('"') != std::string::npos) {
        out.error = where + ": key '" + key + "': stray '\"' inside a quoted value";
        return out;
      }
    } else if (value.find('"') != std::string::npos) {
      out.error = where + ": key '" + key + "': unbalanced '\"'";
      return out;
    }
    out.entries.push_back({key, value, where});
  }
  return out;
}

config_outcome parse_config(int argc, const char* const* argv, const environment_lookup& environment) {
  config_outcome out;
  out.config = default_config();
  // 1. Flags, collected as text so every source goes through one validator.
  CLI::App app{"tallyd: the Tally bank daemon (HTTP/JSON API over the event-sourced runtime)",
               "tallyd"};
  app.set_help_flag("-h,--help", "print this help and exit");
  std::string config_path;
  auto* config_flag = app.add_option("--config", config_path,
                                     "configuration file of key = value lines (same names as "
                                     "the flags)");
  std::map<std::string, std::string> flag_text;
  std::map<std::string, bool> flag_bool;
  std::vector<std::pair<const option_spec*, CLI::Option*>> flags;
  auto defaults = default_config();
  for (const auto& spec : option_table()) {
    std::string help = std::string{spec.help} + " [default: " + spec.show(defaults) + "] (env "
                       + environment_name(spec.name) + ")";
    CLI::Option* option = nullptr;
    if (spec.kind == value_kind::boolean)
      option = app.add_flag(std::string{"--"} + spec.name, flag_bool[spec.name], help);
    else
      option = app.add_option(std::string{"--"} + spec.name, flag_text[spec.name], help);
    flags.emplace_back(&spec, option);
  }
  app.footer("Every option may also be set in the --config file (key = value) or as an\n"
             "environment variable TALLY_<NAME>; precedence: flag > environment > file > "
             "default.\nExit codes: 0 clean stop, 1 runtime failure (store, journal), 2 bad "
             "configuration.");
  try {
    app.parse(argc, const_cast<char**>(argv));
  } catch (const CLI::CallForHelp&) {
    out.action = config_outcome::kind::help;
    out.message = app.help();
    return out;
  } catch (const CLI::ParseError& failure) {
    out.message = std::string{"invalid command line: "} + failure.what();
    return out;
  }
  // 2. Sources, lowest precedence first; later ones overwrite.
  std::vector<config_entry> entries;
  if (config_flag->count() == 0)
    if (const char* from_env = environment("TALLY_CONFIG"))
      config_path = from_env;
  if (!config_path.empty()) {
    std::ifstream file{config_path, std::ios::binary};
    if (!file) {
      out.message = "invalid configuration: key 'config': cannot read file " + shown(config_path);
      return out;
    }
    std::ostringstream text;
    text << file.rdbuf();
    auto parsed = parse_config_file(text.str(), config_path);
    if (!parsed.error.empty()) {
      out.message = "invalid configuration: " + parsed.error;
      return out;
    }
    entries = std::move(parsed.entries);
    out.config.config = config_path;
  }
  for (const auto& spec : option_table()) {
    auto name = environment_name(spec.name);
    if (const char* value = environment(name))
      entries.push_back({spec.name, value, "environment " + name});
  }
  for (auto& [spec, option] : flags) {
    if (option->count() == 0)
      continue;
    auto value = spec->kind == value_kind::boolean ? (flag_bool[spec->name] ? "true" : "false")
                                                   : flag_text[spec->name];
    entries.push_back({spec->name, value, std::string{"flag --"} + spec->name});
  }
  for (const auto& entry : entries) {
    const auto* spec = find_option(entry.key);
    auto reason = spec->apply(out.config, entry.value);
    if (!reason.empty()) {
      out.message = "invalid configuration: key '" + entry.key + "' (" + entry.source + "): " + reason;
      return out;
    }
  }
  // 3. Rules that involve several keys.
  if (out.config.journal == journal_kind::file && out.config.data_dir.empty()) {
    out.message = "invalid configuration: key 'data-dir' is required when journal=file "
                  "(or use --journal memory)";
    return out;
  }
  if (!is_loopback_host(out.config.listen.host) && out.config.token_file.empty()) {
    out.message = "invalid configuration: key 'listen' is not a loopback address ("
                  + out.config.listen.host + "); set key 'token-file' to bind it";
    return out;
  }
  out.action = config_outcome::kind::run;
  return out;
}

}  // namespace tally::daemon
