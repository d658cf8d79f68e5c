// tallyd: the Tally bank daemon. Reads its configuration, opens the journal (durable
// file journal by default), starts the runtime and the HTTP server, and stops cleanly
// on SIGTERM/SIGINT: stop accepting, finish in-flight commands, drain the runtime and
// write projection checkpoints, exit 0. A second signal exits at once. A store failure
// (fsync error: fail-stop) is logged and makes the daemon exit 1.
//
// Exit codes: 0 clean stop; 1 runtime failure (journal corrupt or unavailable, bind
// failed, store failed, unclean shutdown); 2 bad configuration or refused to start.
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "app/tallyd/bank_gateway.hpp"
#include "app/tallyd/config.hpp"
#include "app/tallyd/file_checkpoint_store.hpp"
#include "app/tallyd/http_server.hpp"
#include "app/tallyd/limits.hpp"
#include "app/tallyd/metrics.hpp"
#include "tally/file_journal.hpp"
#include "tally/runtime.hpp"

namespace {

using namespace tally;
using namespace tally::daemon;

constexpr int exit_clean = 0;
constexpr int exit_failure = 1;
constexpr int exit_bad_config = 2;

/// Why the daemon stops; set once by the signal thread or the store's failure hook.
struct stop_request {
  std::mutex mutex;
  std::condition_variable changed;
  bool requested = false;
  bool store_failed = false;
  std::string reason;

  void request(bool failed, std::string why) {
    std::lock_guard guard{mutex};
    if (requested)
      return;
    requested = true;
    store_failed = failed;
    reason = std::move(why);
    changed.notify_all();
  }
};

std::shared_ptr<spdlog::logger> make_logger(const std::string& level) {
  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  auto log = std::make_shared<spdlog::logger>("tallyd", sink);
  // One line per event, UTC, key=value fields; flushed at once (start/stop lines are
  // what operators and tools wait for, and there are few of them).
  log->set_pattern("%Y-%m-%dT%H:%M:%S.%fZ level=%l %v", spdlog::pattern_time_type::utc);
  log->set_level(spdlog::level::from_str(level));
  log->flush_on(spdlog::level::trace);
  return log;
}

/// Reads the token file: the first line, without surrounding whitespace.
std::string read_token(const std::string& path, std::string& problem,
                       const std::shared_ptr<spdlog::logger>& log) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) {
    problem = "cannot read token-file";
    return {};
  }
  if ((info.st_mode & 077) != 0)
    log->warn("config key=token-file problem=readable_by_group_or_others path={}", path);
  std::ifstream file{path, std::ios::binary};
  std::string token;
  if (!file || !std::getline(file, token)) {
    problem = "cannot read token-file";
    return {};
  }
  while (!token.empty() && (token.back() == '\r' || token.back() == ' ' || token.back() == '\t'))
    token.pop_back();
  while (!token.empty() && (token.front() == ' ' || token.front() == '\t'))
    token.erase(token.begin());
  if (token.size() < 16) {
    problem = "token-file must hold a token of at least 16 characters";
    return {};
  }
  for (unsigned char c : token)
    if (c < 0x21 || c > 0x7e) {
      problem = "token must be printable ASCII without spaces";
      return {};
    }
  return token;
}

}  // namespace

int main(int argc, char** argv) {
  // Signals are taken by one thread with sigwait(); every other thread, including
  // those CAF and Asio start later, inherits this mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  // A file-size limit (RLIMIT_FSIZE) must surface as EFBIG from write(), a store
  // failure that is logged and ends in exit 1, not as a silent SIGXFSZ kill.
  ::signal(SIGXFSZ, SIG_IGN);

  auto parsed = parse_config(argc, argv, [](const std::string& name) { return std::getenv(name.c_str()); });
  if (parsed.action == config_outcome::kind::help) {
    std::fputs(parsed.message.c_str(), stdout);
    return exit_clean;
  }
  if (parsed.action == config_outcome::kind::error) {
    std::fprintf(stderr, "tallyd: %s\n", parsed.message.c_str());
    std::fprintf(stderr, "tallyd: run tallyd --help for the list of options\n");
    return exit_bad_config;
  }
  const auto& config = parsed.config;
  auto log = make_logger(config.log_level);
  // The library's actors (the transfer manager) log through spdlog's default logger,
  // which writes to stdout: its lines could come before "listening on HOST:PORT", the
  // first stdout line tools wait for, and they never reached this log. Everything goes
  // to this one structured log on stderr.
  spdlog::set_default_logger(log);
  log->info("starting version={} journal={} data_dir={} config_file={}", "0.1.0",
            config.journal == journal_kind::file ? "file" : "memory", config.data_dir,
            config.config.empty() ? "(none)" : config.config);
  log->info("config listen={}:{} journal={} token_file={} request_body_bytes_max={} "
            "request_header_bytes_max={} read_timeout_ms={} connections_max={} "
            "commands_in_flight_max={} transfers_in_progress_max={} query_wait_ms_max={} "
            "snapshot_interval_events={} journal_preallocate_bytes={} "
            "resident_accounts_max={} idle_ms_max={} checkpoint_interval_events={} "
            "checkpoint_bytes_per_event_max={} "
            "sse_buffer_events_max={} shutdown_timeout_ms={} worker_threads={} log_level={} "
            "request_log={}",
            config.listen.host, config.listen.port,
            config.journal == journal_kind::file ? "file" : "memory",
            config.token_file.empty() ? "(none)" : config.token_file, config.request_body_bytes_max,
            config.request_header_bytes_max, config.read_timeout_ms, config.connections_max,
            config.commands_in_flight_max, config.transfers_in_progress_max,
            config.query_wait_ms_max, config.snapshot_interval_events,
            config.journal_preallocate_bytes,
            config.resident_accounts_max, config.idle_ms_max, config.checkpoint_interval_events,
            config.checkpoint_bytes_per_event_max,
            config.sse_buffer_events_max, config.shutdown_timeout_ms, config.worker_threads,
            config.log_level, config.request_log);
  if (::geteuid() == 0 && !config.allow_root) {
    log->error("refusing to start reason=running_as_root hint=\"run as an unprivileged user or pass "
               "--allow-root\"");
    return exit_bad_config;
  }
  std::string token;
  if (!config.token_file.empty()) {
    std::string problem;
    token = read_token(config.token_file, problem, log);
    if (token.empty()) {
      log->error("invalid configuration key=token-file problem=\"{}\" path={}", problem,
                 config.token_file);
      return exit_bad_config;
    }
  }

  // The journal and the checkpoints.
  runtime_config runtime_options;
  if (config.journal == journal_kind::file) {
    auto& fs = posix_file_system();
    recovery_report report;
    file_journal_options journal_options{config.data_dir};
    journal_options.preallocate_bytes = config.journal_preallocate_bytes;
    auto opened = open_file_journal(fs, journal_options, &report);
    if (!opened) {
      log->error("journal refused data_dir={} error=\"{}\"", config.data_dir,
                 opened.error().to_string());
      return exit_failure;
    }
    log->info("journal recovered data_dir={} segments={} events={} bytes={} snapshots={} "
              "scan_us={} clean={}",
              config.data_dir, report.segments_scanned, report.events_recovered,
              report.bytes_scanned, report.snapshots_loaded, report.scan_duration_us,
              report.clean());
    for (const auto& action : report.actions)
      log->warn("journal recovery action file={} offset={} bytes_dropped={} reason=\"{}\"",
                action.file, action.offset, action.bytes_dropped, action.reason);
    runtime_options.events = std::shared_ptr<journal>{std::move(*opened)};
    auto checkpoints = make_file_checkpoint_store(fs, config.data_dir + "/checkpoints");
    if (!checkpoints) {
      log->error("checkpoint store failed error=\"{}\"", checkpoints.error().to_string());
      return exit_failure;
    }
    runtime_options.checkpoints = *checkpoints;
  } else {
    runtime_options.events = std::shared_ptr<journal>{make_memory_journal()};
    runtime_options.checkpoints = make_memory_checkpoint_store();
  }

  stop_request stop;
  runtime_options.store.on_failure = [&stop, log](const status& failure) {
    log->error("store failed error=\"{}\" action=fail_stop", failure.to_string());
    stop.request(true, failure.to_string());
  };
  runtime_options.transfers_in_progress_max = config.transfers_in_progress_max;
  runtime_options.accounts.resident_max = config.resident_accounts_max;
  runtime_options.accounts.idle_max = std::chrono::milliseconds{config.idle_ms_max};
  runtime_options.accounts.aggregate.snapshot_interval_events = config.snapshot_interval_events;
  runtime_options.projections.checkpoint_interval_events = config.checkpoint_interval_events;
  runtime_options.projections.checkpoint_bytes_per_event_max =
    config.checkpoint_bytes_per_event_max;
  runtime_options.projections.query_wait_max = std::chrono::milliseconds{config.query_wait_ms_max};
  runtime_options.call_timeout = std::chrono::milliseconds{runtime_call_ms_default};
  runtime_options.shutdown_timeout = std::chrono::milliseconds{config.shutdown_timeout_ms};

  // Our own actor system rather than runtime::start_private(): the runtime must be
  // destroyed (dropping its actor handles) before the system, whose destructor waits
  // for every detached actor (the journal's and the projections' threads).
  // Connections may outlive the HTTP server object (an answer in flight holds one), and
  // they count themselves in `metrics` when destroyed: it must outlive the actor system.
  daemon_metrics metrics;
  caf::actor_system_config system_config;
  runtime::configure_private(system_config, config.worker_threads);
  caf::actor_system system{system_config};
  auto started = runtime::start(system, runtime_options);
  if (!started) {
    log->error("runtime failed to start error=\"{}\"", started.error().to_string());
    return exit_failure;
  }
  auto bank = std::move(*started);
  bank_gateway gateway{*bank, runtime_options.call_timeout};
  auto server = std::make_unique<http_server>(make_server_options(config, token), gateway, metrics, log);
  if (auto failure = server->bind(); !failure.empty()) {
    log->error("bind failed listen={}:{} error=\"{}\"", config.listen.host, config.listen.port, failure);
    bank->shutdown();
    return exit_failure;
  }
  server->start();
  auto endpoint = server->local_endpoint();
  // Tools wait for this line (port 0 picks a free port): first line on stdout, flushed.
  std::printf("listening on %s\n", endpoint.c_str());
  std::fflush(stdout);
  log->info("listening on {} auth={} body_bytes_max={} header_bytes_max={} connections_max={} "
            "commands_in_flight_max={}",
            endpoint, token.empty() ? "none" : "bearer", config.request_body_bytes_max,
            config.request_header_bytes_max, config.connections_max, config.commands_in_flight_max);

  // The signal thread: the first signal asks for a clean stop, a second exits at once.
  std::thread signal_thread{[&stop, &signals, log] {
    int received = 0;
    int count = 0;
    while (sigwait(&signals, &received) == 0) {
      if (++count == 1) {
        log->info("signal received signal={} action=graceful_stop", strsignal(received));
        stop.request(false, strsignal(received));
      } else {
        log->warn("second signal received signal={} action=exit_now", strsignal(received));
        std::_Exit(128 + received);
      }
    }
  }};
  signal_thread.detach();

  {
    std::unique_lock lock{stop.mutex};
    stop.changed.wait(lock, [&] { return stop.requested; });
  }
  auto shutdown_started = std::chrono::steady_clock::now();
  auto shutdown_budget = std::chrono::milliseconds{config.shutdown_timeout_ms};
  // A watchdog bounds the whole stop: if draining hangs, exit non-zero anyway.
  std::thread watchdog{[budget = shutdown_budget, log] {
    std::this_thread::sleep_for(budget * 2 + std::chrono::seconds{2});
    log->error("shutdown took too long action=exit_now");
    std::_Exit(exit_failure);
  }};
  watchdog.detach();

  log->info("stopping reason=\"{}\" store_failed={}", stop.reason, stop.store_failed);
  server->stop_accepting();
  bool idle = server->wait_idle(shutdown_budget / 2);
  if (!idle)
    log->warn("stopping with requests in flight commands_in_flight={} responses_pending={}",
              metrics.commands_in_flight.load(), server->responses_pending());
  auto drained = bank->shutdown();
  if (drained)
    log->error("runtime shutdown incomplete error=\"{}\"", drained.to_string());
  server->stop();
  server.reset();
  bank.reset();
  auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
    std::chrono::steady_clock::now() - shutdown_started);
  int code = stop.store_failed || drained ? exit_failure : exit_clean;
  log->info("stopped exit_code={} duration_ms={}", code, elapsed.count());
  return code;
}
