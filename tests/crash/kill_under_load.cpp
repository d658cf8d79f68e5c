// kill_under_load: starts the real tallyd on a durable journal, drives it from several
// client threads that record every command and transfer and its reply, and SIGKILLs it
// at a seeded random moment (after a random number of decided commands). Then, with the
// daemon dead, `tally verify` checks the data directory; tallyd restarts on it; the
// in-doubt commands and transfers (sent, never answered) are retried with the same id
// and payload; the driver waits until no transfer is in progress (quiescence); and the
// journal, the read models and the clients' own tally are audited (crash_audit.hpp,
// transfer_audit.hpp).
// Repeats for --kills rounds. Prints the seed first and, on any violation, the violation
// and the command that replays the run; exits 1 then.
//
// "Replays" means the same seed, so the same kill points, operation mix and amounts;
// thread and I/O timing still differ between runs, so a failure that depends on a
// narrow interleaving may need a few tries (or more kills) to show again.
//
// Exit codes: 0 every check held; 1 a violation; 2 bad options or the run could not be
// set up (tallyd did not start the first time, no temp directory).
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "support/seed.hpp"
#include "support/tallyd_process.hpp"
#include "tally/transfer.hpp"
#include "tests/crash/bank_operations.hpp"
#include "tests/crash/command_ledger.hpp"
#include "tests/crash/crash_audit.hpp"
#include "tests/crash/daemon_reader.hpp"
#include "tests/crash/transfer_audit.hpp"

namespace {

using namespace tally::crash;
using tally::http_common::http_client;
using tally::test_support::splitmix64;
using tally::testing::run_program;
using tally::testing::tallyd_process;
using clock_type = std::chrono::steady_clock;
using json = nlohmann::json;

constexpr int exit_ok = 0;
constexpr int exit_violation = 1;
constexpr int exit_setup = 2;

// Limits of the run.
constexpr std::uint64_t kills_max = 100'000;
constexpr std::uint32_t clients_max = 64;
constexpr std::uint32_t accounts_max = 10'000;
constexpr std::uint64_t round_commands_max_limit = 1'000'000;
/// Longest the load of one round may go without reaching its kill point: far more than
/// a healthy daemon needs for round_commands_max acknowledgements on a slow machine.
constexpr std::chrono::seconds round_load_wait_max{60};
/// Longest a SIGKILLed daemon may take to be reaped, and a SIGTERMed one to stop.
constexpr std::chrono::seconds daemon_exit_wait_max{20};
/// Longest `tally verify` may run.
constexpr std::chrono::seconds verify_run_max{120};
/// A retry of an in-doubt command answered 503 or not at all is sent again this many
/// times, this far apart, before the driver calls it a violation.
constexpr int retry_attempts_max = 20;
constexpr std::chrono::milliseconds retry_pause{250};
/// Largest deposit; withdrawals go a bit higher so that some are refused.
constexpr std::int64_t deposit_amount_max = 10'000;
constexpr std::int64_t withdrawal_amount_max = 12'000;
/// Largest transfer: small next to the balances the deposits build, so most transfers
/// complete, and some find their source short and fail (insufficient_funds).
constexpr std::int64_t transfer_amount_max = 4'000;
/// After the retries, the longest the driver waits for every transfer to end (resumed
/// sagas included), polling this often; not reaching it is a violation.
constexpr std::chrono::seconds quiescence_wait_max{30};
constexpr std::chrono::milliseconds quiescence_poll_pause{20};
/// Transfers of earlier rounds whose read model view is checked again after each restart
/// (the transfers projection restarts from a checkpoint): a seeded sample of this many.
constexpr std::size_t earlier_transfers_rechecked_max = 16;
/// One command in this many is followed by a GET /totals whose invariant is checked at
/// its as_of_position: the read model must be consistent mid-load, not only at the audit.
constexpr std::uint64_t totals_read_every = 16;

/// GET /totals answers whose invariant the clients checked during the load (reported,
/// so a run shows the check ran).
std::atomic<std::uint64_t> totals_reads_checked{0};

struct driver_options {
  std::uint64_t kills = 20;
  std::uint64_t seed = 0;
  std::uint32_t clients = 8;
  std::uint32_t accounts = 32;
  std::uint64_t round_commands_max = 600;
  std::uint32_t transfer_percent = 20;
  std::uint32_t close_percent = 3;
  std::string tallyd = TALLYD_PATH;
  std::string tally = TALLY_CLI_PATH;
  std::string data_dir;
  bool keep = false;
};

std::string replay_command(const std::string& program, const driver_options& options) {
  std::ostringstream text;
  text << program << " --kills " << options.kills << " --seed " << options.seed;
  const driver_options defaults;
  if (options.clients != defaults.clients)
    text << " --clients " << options.clients;
  if (options.accounts != defaults.accounts)
    text << " --accounts " << options.accounts;
  if (options.round_commands_max != defaults.round_commands_max)
    text << " --round-commands-max " << options.round_commands_max;
  if (options.transfer_percent != defaults.transfer_percent)
    text << " --transfer-percent " << options.transfer_percent;
  if (options.close_percent != defaults.close_percent)
    text << " --close-percent " << options.close_percent;
  if (options.tallyd != defaults.tallyd)
    text << " --tallyd " << options.tallyd;
  if (options.tally != defaults.tally)
    text << " --tally " << options.tally;
  return text.str();
}

std::string account_name(std::uint32_t index) { return "account-" + std::to_string(index); }

std::uint64_t milliseconds_since(clock_type::time_point start) {
  return static_cast<std::uint64_t>(
    std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - start).count());
}

/// Violations found so far; any one fails the run.
class violation_log {
public:
  void add(const std::string& text) {
    std::lock_guard guard{mutex_};
    lines_.push_back(text);
  }
  std::vector<std::string> lines() const {
    std::lock_guard guard{mutex_};
    return lines_;
  }
  bool empty() const {
    std::lock_guard guard{mutex_};
    return lines_.empty();
  }

private:
  mutable std::mutex mutex_;
  std::vector<std::string> lines_;
};

/// One round: the clients' load until the kill point, then SIGKILL.
struct round_load {
  std::uint32_t round = 0;
  std::uint64_t kill_after_acknowledged = 0;
  std::atomic<std::uint64_t> acknowledged{0};
  std::atomic<std::uint32_t> clients_running{0};
  std::atomic<bool> kill_sent{false};
  std::atomic<bool> stop{false};
  std::mutex mutex;
  std::condition_variable changed;
};

/// One client's closable account (bank_operations.hpp): opened, then closed by the
/// client's next command once the open is accepted.
struct closable_progress {
  std::string account_id;      ///< empty: none in progress
  bool open_accepted = false;  ///< its open was decided as accepted
  std::uint64_t opened = 0;    ///< closable accounts this client opened in this round
};

/// What one client sends next. Each client first opens its own accounts (index ≡
/// client mod clients) that no command has tried to open yet. After that it closes its
/// closable account once that account's open was accepted; or else opens a new one
/// (--close-percent, 3 % by default, when none is in progress); or else transfers
/// between two different accounts whose open was accepted (--transfer-percent, 20 % by
/// default, once two are open), or else deposits (55 %) or withdraws (45 %) on a random
/// account whose open was accepted. nullopt when there is nothing to do yet (no account
/// open).
std::optional<operation> next_operation(splitmix64& random, std::uint32_t round, std::uint32_t client,
                                        const driver_options& options, std::vector<char>& open_sent,
                                        std::vector<std::string>& open_accounts, closable_progress& closable,
                                        const command_ledger& ledger, std::uint64_t& sent_since_refresh) {
  for (std::uint32_t index = client; index < options.accounts; index += options.clients)
    if (!open_sent[index]) {
      open_sent[index] = 1;
      return operation{operation_kind::open_account, account_name(index), 0, {}};
    }
  if (closable.open_accepted) {
    operation close{operation_kind::close_account, closable.account_id, 0, {}};
    closable.account_id.clear();
    closable.open_accepted = false;
    return close;
  }
  if (closable.account_id.empty() && random.below(100) < options.close_percent) {
    closable.account_id = closable_account_name(round, client, closable.opened++);
    return operation{operation_kind::open_account, closable.account_id, 0, {}};
  }
  // Refresh the list of open accounts now and then, not per command (it is copied).
  if (open_accounts.empty() || ++sent_since_refresh >= 64) {
    open_accounts = ledger.open_accounts();
    sent_since_refresh = 0;
  }
  if (open_accounts.empty())
    return std::nullopt;
  const auto& account_id = open_accounts[random.below(open_accounts.size())];
  if (random.below(100) < options.transfer_percent && open_accounts.size() >= 2) {
    // The target is drawn among the other accounts, so it never equals the source.
    auto target_index = random.below(open_accounts.size() - 1);
    if (open_accounts[target_index] == account_id)
      target_index = open_accounts.size() - 1;
    return operation{operation_kind::transfer_money, account_id,
                     1 + static_cast<std::int64_t>(random.below(transfer_amount_max)), open_accounts[target_index]};
  }
  if (random.below(100) < 55)
    return operation{operation_kind::deposit_money, account_id,
                     1 + static_cast<std::int64_t>(random.below(deposit_amount_max)), {}};
  return operation{operation_kind::withdraw_money, account_id,
                   1 + static_cast<std::int64_t>(random.below(withdrawal_amount_max)), {}};
}

void run_client(std::uint32_t client, const driver_options& options, const tally::http_common::endpoint& where,
                round_load& load, command_ledger& ledger, std::vector<char>& open_sent,
                violation_log& violations) {
  splitmix64 random{options.seed ^ (std::uint64_t{load.round} << 32) ^ (std::uint64_t{client} * 0x9E3779B97F4A7C15ULL)};
  http_client http{where, daemon_request_timeout};
  std::vector<std::string> open_accounts;
  closable_progress closable;
  std::uint64_t sent_since_refresh = 0;
  while (!load.stop.load()) {
    auto op = next_operation(random, load.round, client, options, open_sent, open_accounts, closable, ledger,
                             sent_since_refresh);
    if (!op) {
      std::this_thread::sleep_for(std::chrono::milliseconds{1});
      continue;
    }
    if (random.below(totals_read_every) == 0) {
      auto totals = http.request("GET", "/totals");
      auto body = nlohmann::json::parse(totals.body, nullptr, false);
      if (totals.ok() && totals.status == 200 && body.is_object()) {
        totals_reads_checked.fetch_add(1);
        if (auto wrong = check_totals_invariant(body.value("total_balance", std::int64_t{0}),
                                                body.value("money_in_flight", std::int64_t{0}),
                                                body.value("total_deposited", std::int64_t{0}),
                                                body.value("total_withdrawn", std::int64_t{0}),
                                                body.value("as_of_position", std::uint64_t{0})))
          violations.add("round " + std::to_string(load.round) + ": GET /totals during the load: " + *wrong);
      } else if (!load.kill_sent.load()) {
        violations.add("round " + std::to_string(load.round) + ": GET /totals failed while the daemon was alive: HTTP "
                       + std::to_string(totals.status) + " " + totals.error + totals.body);
      } else {
        break;  // the daemon is gone: this client's round is over
      }
    }
    auto sent = ledger.submit(*op, client, load.round);
    auto response = http.request("POST", request_target(*op), request_body(*op, sent.key));
    command_outcome outcome;
    std::string problem;
    switch (read_command_reply(*op, sent.key, response, outcome, problem)) {
      case reply_reading::decided:
        ledger.acknowledge(sent.index, outcome);
        if (op->kind == operation_kind::open_account && op->account_id == closable.account_id) {
          if (outcome.accepted)
            closable.open_accepted = true;
          else
            closable.account_id.clear();  // refused (a violation read_command_reply reported)
        }
        // Every id is sent once during the load: a replay means two commands share an id.
        if (outcome.replayed)
          violations.add("round " + std::to_string(load.round) + ": key " + sent.key
                         + " was answered as a replay on its first send");
        if (load.acknowledged.fetch_add(1) + 1 == load.kill_after_acknowledged) {
          std::lock_guard guard{load.mutex};
          load.changed.notify_all();
        }
        continue;
      case reply_reading::in_doubt:
        ledger.mark_in_doubt(sent.index, problem);
        // kill_sent is set before the signal: a command left without a decision while
        // it is still false lost its reply although the daemon was alive.
        if (!load.kill_sent.load())
          violations.add("round " + std::to_string(load.round) + ": no decision before the kill for key " + sent.key
                         + ": " + problem);
        break;
      case reply_reading::violation:
        ledger.mark_in_doubt(sent.index, problem);
        violations.add("round " + std::to_string(load.round) + ": key " + sent.key + ": " + problem);
        break;
    }
    break;  // no reply: the daemon is gone (or misbehaved); this client's round is over
  }
  std::lock_guard guard{load.mutex};
  load.clients_running.fetch_sub(1);
  load.changed.notify_all();
}

struct run_paths {
  std::string data_dir;
  std::string logs_dir;
  std::string created_root;  ///< a temp directory this run made (removed after success)
};

std::vector<std::string> tallyd_flags(const driver_options& options, const std::string& data_dir) {
  // Small snapshot and checkpoint intervals and fewer resident accounts than accounts:
  // kills then land while snapshots, projection checkpoints and passivations are written
  // or read, not only between plain appends.
  std::vector<std::string> flags{"--listen",
                                 "127.0.0.1:0",
                                 "--data-dir",
                                 data_dir,
                                 "--snapshot-interval-events",
                                 "8",
                                 "--checkpoint-interval-events",
                                 "128",
                                 "--resident-accounts-max",
                                 std::to_string(std::max<std::uint32_t>(1, options.accounts / 2))};
  if (::geteuid() == 0)
    flags.push_back("--allow-root");
  return flags;
}

/// `tally verify DIR --json`; returns an empty string when it passed (warnings are
/// allowed: a kill leaves a torn tail that the next open repairs), else the report.
std::string run_verify(const driver_options& options, const std::string& data_dir, std::uint64_t& warnings) {
  auto result = run_program({options.tally, "--json", "verify", data_dir}, {}, verify_run_max);
  auto report = json::parse(result.output, nullptr, false);
  warnings = 0;
  if (report.is_object() && report["problems"].is_array())
    for (const auto& problem : report["problems"])
      warnings += problem.value("severity", "") == "warning" ? 1 : 0;
  if (result.exit_code != 0 || !report.is_object() || !report.value("ok", false))
    return "tally verify " + data_dir + " exited " + std::to_string(result.exit_code) + ": " + result.output;
  return {};
}

struct round_figures {
  std::uint64_t acknowledged = 0;
  std::uint64_t in_doubt = 0;          ///< commands and transfers
  std::uint64_t in_doubt_applied = 0;  ///< of the commands, found in the journal before their retry
  std::uint64_t transfers_in_doubt = 0;
  std::uint64_t transfers_requested_before_retry = 0;  ///< of those, requested in the journal before their retry
  std::uint64_t transfers_ended_before_retry = 0;      ///< of those, ended in the journal before their retry
  std::uint64_t transfers_audited = 0;                 ///< transfers in the ledger at the audit
  std::uint64_t closes_applied = 0;                    ///< accounts closed, in the ledger at the audit
  std::uint64_t quiescence_ms = 0;
  std::uint64_t head = 0;
};

/// Waits until the daemon has nothing left to do: the transfers read model applied the
/// store's head and has no transfer in progress, and no command or transfer is being
/// executed. The resumed sagas and the retries run to their end before the audit, so
/// "every transfer ended" is a fact the audit can demand. Returns the problem when that
/// does not happen within quiescence_wait_max.
std::string wait_for_quiescence(http_client& http, std::uint64_t& waited_ms) {
  const auto start = clock_type::now();
  daemon_activity activity;
  while (true) {
    activity = daemon_activity{};
    if (auto problem = read_daemon_activity(http, activity); !problem.empty())
      return problem;
    if (activity.transfers_position >= activity.head && activity.transfers_in_progress == 0
        && activity.commands_in_flight == 0)
      break;
    if (clock_type::now() - start >= quiescence_wait_max)
      return "no quiescence after " + std::to_string(quiescence_wait_max.count()) + " s: store head "
             + std::to_string(activity.head) + ", transfers read model at " + std::to_string(activity.transfers_position)
             + " with " + std::to_string(activity.transfers_in_progress) + " transfer(s) in progress, "
             + std::to_string(activity.commands_in_flight) + " command(s) in flight";
    std::this_thread::sleep_for(quiescence_poll_pause);
  }
  waited_ms = milliseconds_since(start);
  return {};
}

/// The transfers whose read model view the audit checks: every transfer of `round` (the
/// in-doubt ones are among them), and a seeded sample of earlier ones.
std::vector<std::string> transfers_to_read(const std::vector<command_record>& records, std::uint32_t round,
                                           std::uint64_t seed) {
  std::vector<std::string> to_read;
  std::vector<std::string> earlier;
  for (const auto& record : records)
    if (record.op.kind == operation_kind::transfer_money)
      (record.round == round ? to_read : earlier).push_back(record.key);
  splitmix64 random{seed ^ (std::uint64_t{round} * 0xD1B54A32D192ED03ULL)};
  for (std::size_t drawn = 0; drawn < earlier_transfers_rechecked_max && !earlier.empty(); ++drawn) {
    const auto index = random.below(earlier.size());
    to_read.push_back(std::move(earlier[index]));
    earlier[index] = std::move(earlier.back());
    earlier.pop_back();
  }
  return to_read;
}

/// After a restart: retry the in-doubt commands and transfers, wait for quiescence, read
/// the journal and the read models, and audit everything. `journal` is what the
/// previous audit saw; it is replaced.
void audit_after_restart(const driver_options& options, std::uint32_t round, const tallyd_process& daemon,
                         command_ledger& ledger, std::vector<logged_event>& journal, round_figures& figures,
                         violation_log& violations) {
  http_client http{daemon.where(), daemon_request_timeout};
  std::uint64_t head_before = 0;
  if (auto problem = read_head(http, head_before); !problem.empty())
    return violations.add(problem);
  std::vector<logged_event> log;
  if (auto problem = read_journal(daemon.where(), 1, head_before, log); !problem.empty())
    return violations.add(problem);

  auto doubtful = ledger.in_doubt();
  figures.in_doubt = doubtful.size();
  for (auto index : doubtful) {
    auto record = ledger.record(index);
    const bool is_transfer = record.op.kind == operation_kind::transfer_money;
    std::vector<logged_event> events_before;
    if (is_transfer) {
      // Its own stream says how far it got (its account steps carry derived ids).
      const auto stream = tally::bank::transfer_stream_id(record.key);
      bool ended = false;
      for (const auto& event : log)
        if (event.stream_id == stream) {
          events_before.push_back(event);
          ended = ended || event.type == "transfer_completed" || event.type == "transfer_failed";
        }
      ++figures.transfers_in_doubt;
      figures.transfers_requested_before_retry += events_before.empty() ? 0 : 1;
      figures.transfers_ended_before_retry += ended ? 1 : 0;
    } else {
      for (const auto& event : log)
        if (event.command_id == record.id)
          events_before.push_back(event);
      figures.in_doubt_applied += events_before.empty() ? 0 : 1;
    }
    bool decided = false;
    for (int attempt = 0; attempt < retry_attempts_max && !decided; ++attempt) {
      auto response = http.request("POST", request_target(record.op), request_body(record.op, record.key));
      command_outcome outcome;
      std::string problem;
      auto reading = read_command_reply(record.op, record.key, response, outcome, problem);
      if (reading == reply_reading::decided) {
        ledger.resolve(index, outcome);
        auto wrong = is_transfer ? check_transfer_retry(record, log, head_before, outcome)
                                 : check_retry(record, events_before, head_before, outcome);
        if (wrong)
          violations.add(*wrong);
        decided = true;
      } else if (reading == reply_reading::violation) {
        ledger.note(index, "retry: " + problem);
        return violations.add("retry of in-doubt key " + record.key + ": " + problem);
      } else {
        ledger.note(index, "retry " + std::to_string(attempt + 1) + ": " + problem);
        std::this_thread::sleep_for(retry_pause);
      }
    }
    if (!decided)
      return violations.add("retry of in-doubt key " + record.key + " was not decided in "
                            + std::to_string(retry_attempts_max) + " attempts");
  }

  if (auto problem = wait_for_quiescence(http, figures.quiescence_ms); !problem.empty())
    return violations.add("round " + std::to_string(round) + ": " + problem);

  std::uint64_t head = 0;
  if (auto problem = read_head(http, head); !problem.empty())
    return violations.add(problem);
  if (auto problem = read_journal(daemon.where(), head_before + 1, head, log); !problem.empty())
    return violations.add(problem);
  figures.head = head;
  std::vector<std::string> account_ids;
  for (std::uint32_t index = 0; index < options.accounts; ++index)
    account_ids.push_back(account_name(index));
  const auto records = ledger.records();
  for (const auto& record : records)
    if (record.op.kind == operation_kind::open_account && is_closable_account(record.op.account_id))
      account_ids.push_back(record.op.account_id);  // each is opened by one command only
  for (const auto& record : records) {
    figures.transfers_audited += record.op.kind == operation_kind::transfer_money ? 1 : 0;
    figures.closes_applied += record.op.kind == operation_kind::close_account && is_applied(record) ? 1 : 0;
  }
  read_models models;
  if (auto problem = read_models_at(http, account_ids, transfers_to_read(records, round, options.seed), head, models);
      !problem.empty())
    return violations.add(problem);
  for (const auto& line : audit_journal(records, log, journal, models))
    violations.add(line);
  journal = std::move(log);
}

bool prepare_paths(const driver_options& options, run_paths& paths, std::string& problem) {
  namespace fs = std::filesystem;
  std::error_code failure;
  if (!options.data_dir.empty()) {
    paths.data_dir = options.data_dir;
    if (fs::exists(paths.data_dir, failure) && !fs::is_empty(paths.data_dir, failure)) {
      problem = "--data-dir " + paths.data_dir + " is not empty (the audit needs a journal it wrote itself)";
      return false;
    }
    paths.logs_dir = paths.data_dir + ".logs";
  } else {
    std::string pattern = (fs::temp_directory_path(failure) / "kill_under_load_XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      problem = "cannot create a temp directory " + pattern;
      return false;
    }
    paths.created_root = pattern;
    paths.data_dir = pattern + "/data";
    paths.logs_dir = pattern + "/logs";
  }
  fs::create_directories(paths.data_dir, failure);
  fs::create_directories(paths.logs_dir, failure);
  if (failure) {
    problem = "cannot create " + paths.data_dir + " or " + paths.logs_dir + ": " + failure.message();
    return false;
  }
  return true;
}

int report_failure(const std::string& program, const driver_options& options, const violation_log& violations,
                   const run_paths& paths) {
  auto lines = violations.lines();
  std::cout << "kill_under_load: FAILED with " << lines.size() << " violation(s):\n";
  for (const auto& line : lines)
    std::cout << "  " << line << "\n";
  std::cout << "kill_under_load: data, tallyd logs and the command log (commands.jsonl) kept in "
            << (paths.created_root.empty() ? paths.logs_dir : paths.created_root) << "\n"
            << "kill_under_load: replay with: " << replay_command(program, options) << std::endl;
  return exit_violation;
}

}  // namespace

int main(int argc, char** argv) {
  // The daemon dies under the clients' sockets: a write to a reset connection must be
  // an error, not a SIGPIPE that ends the driver.
  ::signal(SIGPIPE, SIG_IGN);
  driver_options options;
  CLI::App app{"kill_under_load: SIGKILL tallyd under concurrent load, restart it, and audit every "
               "acknowledged command, the journal and the read models after each restart",
               "kill_under_load"};
  app.add_option("--kills", options.kills, "rounds: SIGKILLs, each followed by a restart and an audit")
    ->capture_default_str()->check(CLI::Range(std::uint64_t{1}, kills_max));
  auto* seed_option = app.add_option("--seed", options.seed, "seed of the kill points and the load (default: random)");
  app.add_option("--clients", options.clients, "client threads, one connection each")
    ->capture_default_str()->check(CLI::Range(std::uint32_t{1}, clients_max));
  app.add_option("--accounts", options.accounts, "accounts the clients open and use")
    ->capture_default_str()->check(CLI::Range(std::uint32_t{1}, accounts_max));
  app.add_option("--round-commands-max", options.round_commands_max,
                 "a round's kill comes after 1..N acknowledged commands (seeded)")
    ->capture_default_str()->check(CLI::Range(std::uint64_t{1}, round_commands_max_limit));
  app.add_option("--transfer-percent", options.transfer_percent,
                 "percent of the commands after the opens that are transfers (seeded; 0: none)")
    ->capture_default_str()->check(CLI::Range(std::uint32_t{0}, std::uint32_t{100}));
  app.add_option("--close-percent", options.close_percent,
                 "percent of the commands after the opens that open a closable account, which "
                 "the client closes next (seeded; 0: none)")
    ->capture_default_str()->check(CLI::Range(std::uint32_t{0}, std::uint32_t{100}));
  app.add_option("--tallyd", options.tallyd, "the tallyd binary")->capture_default_str()->check(CLI::ExistingFile);
  app.add_option("--tally", options.tally, "the tally CLI (for tally verify)")
    ->capture_default_str()->check(CLI::ExistingFile);
  app.add_option("--data-dir", options.data_dir,
                 "the daemon's data directory, new or empty (default: a temp directory); logs go to DIR.logs");
  app.add_flag("--keep", options.keep, "keep the temp directory after a run that passed");
  app.footer("Exit codes: 0 every check held, 1 a violation (printed, with the command that replays the run),\n"
             "2 bad options or the run could not be set up.");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& failure) {
    return app.exit(failure) == 0 ? exit_ok : exit_setup;
  }
  if (seed_option->count() == 0)
    options.seed = (std::uint64_t{std::random_device{}()} << 32) ^ std::random_device{}();
  const std::string program = argv[0];

  run_paths paths;
  std::string setup_problem;
  if (!prepare_paths(options, paths, setup_problem)) {
    std::cerr << "kill_under_load: " << setup_problem << "\n";
    return exit_setup;
  }
  std::cout << "kill_under_load: seed " << options.seed << ", " << options.kills << " kills, " << options.clients
            << " clients, " << options.accounts << " accounts, " << options.transfer_percent
            << " % transfers, " << options.close_percent << " % closable accounts, kill after 1.." << options.round_commands_max << " decided commands; data "
            << paths.data_dir << "\n"
            << "kill_under_load: replay with: " << replay_command(program, options) << std::endl;

  const auto run_start = clock_type::now();
  command_ledger ledger{paths.logs_dir + "/commands.jsonl"};
  violation_log violations;
  splitmix64 kill_points{options.seed};
  std::vector<char> open_sent(options.accounts, 0);
  std::vector<logged_event> journal;
  std::uint64_t in_doubt_applied_total = 0;
  std::uint64_t torn_tail_warnings_total = 0;
  std::uint64_t transfers_in_doubt_total = 0;
  std::uint64_t transfers_requested_before_retry_total = 0;
  std::uint64_t transfers_ended_before_retry_total = 0;

  auto daemon = std::make_unique<tallyd_process>();
  if (!daemon->start(options.tallyd, tallyd_flags(options, paths.data_dir), paths.logs_dir + "/tallyd-1.log")) {
    std::cerr << "kill_under_load: tallyd did not start: " << daemon->start_problem() << "\n" << daemon->log() << "\n";
    return exit_setup;
  }

  for (std::uint32_t round = 1; round <= options.kills && violations.empty(); ++round) {
    const auto round_start = clock_type::now();
    round_load load;
    load.round = round;
    load.kill_after_acknowledged = 1 + kill_points.below(options.round_commands_max);
    load.clients_running = options.clients;
    std::vector<std::thread> clients;
    for (std::uint32_t client = 0; client < options.clients; ++client)
      clients.emplace_back(run_client, client, std::cref(options), daemon->where(), std::ref(load), std::ref(ledger),
                           std::ref(open_sent), std::ref(violations));
    {
      std::unique_lock guard{load.mutex};
      bool reached = load.changed.wait_for(guard, round_load_wait_max, [&] {
        return load.acknowledged.load() >= load.kill_after_acknowledged || load.clients_running.load() == 0;
      });
      if (!reached)
        violations.add("round " + std::to_string(round) + ": only " + std::to_string(load.acknowledged.load())
                       + " commands acknowledged in " + std::to_string(round_load_wait_max.count()) + " s");
    }
    load.kill_sent = true;
    const auto exit_code = daemon->stop(SIGKILL, daemon_exit_wait_max);
    load.stop = true;
    for (auto& thread : clients)
      thread.join();
    if (exit_code != 128 + SIGKILL)
      violations.add("round " + std::to_string(round) + ": tallyd had exited " + std::to_string(exit_code)
                     + " before the kill: " + daemon->log());

    // The daemon is dead: nothing writes the directory, so verify sees all of it.
    const auto load_ms = milliseconds_since(round_start);
    std::uint64_t torn_tail_warnings = 0;
    if (auto problem = run_verify(options, paths.data_dir, torn_tail_warnings); !problem.empty())
      violations.add("round " + std::to_string(round) + ": " + problem);
    torn_tail_warnings_total += torn_tail_warnings;

    const auto restart_start = clock_type::now();
    daemon = std::make_unique<tallyd_process>();
    const auto log_path = paths.logs_dir + "/tallyd-" + std::to_string(round + 1) + ".log";
    if (!daemon->start(options.tallyd, tallyd_flags(options, paths.data_dir), log_path)) {
      violations.add("round " + std::to_string(round) + ": tallyd did not restart: " + daemon->start_problem() + "\n"
                     + daemon->log());
      break;
    }
    const auto restart_ms = milliseconds_since(restart_start);
    const auto audit_start = clock_type::now();
    round_figures figures;
    figures.acknowledged = load.acknowledged.load();
    audit_after_restart(options, round, *daemon, ledger, journal, figures, violations);
    const auto audit_ms = milliseconds_since(audit_start);
    in_doubt_applied_total += figures.in_doubt_applied;
    transfers_in_doubt_total += figures.transfers_in_doubt;
    transfers_requested_before_retry_total += figures.transfers_requested_before_retry;
    transfers_ended_before_retry_total += figures.transfers_ended_before_retry;
    std::cout << "round " << round << ": killed after " << figures.acknowledged << " decided (target "
              << load.kill_after_acknowledged << "), " << figures.in_doubt << " in doubt ("
              << figures.in_doubt_applied << " commands applied before the kill; " << figures.transfers_in_doubt
              << " transfers, " << figures.transfers_requested_before_retry << " requested and "
              << figures.transfers_ended_before_retry << " ended before the retry), verify warnings "
              << torn_tail_warnings << ", head " << figures.head << ", " << figures.transfers_audited
              << " transfers audited, " << figures.closes_applied << " accounts closed, " << milliseconds_since(round_start) << " ms (load " << load_ms << ", restart "
              << restart_ms << ", audit " << audit_ms << " of which quiescence " << figures.quiescence_ms << ")"
              << (violations.empty() ? "" : ", VIOLATIONS") << std::endl;
  }

  if (violations.empty()) {
    // A clean stop at the end, and one more verify of what it left.
    const auto exit_code = daemon->stop(SIGTERM, daemon_exit_wait_max);
    if (exit_code != 0)
      violations.add("tallyd exited " + std::to_string(exit_code) + " after SIGTERM: " + daemon->log());
    std::uint64_t warnings = 0;
    if (auto problem = run_verify(options, paths.data_dir, warnings); !problem.empty())
      violations.add("after the clean stop: " + problem);
    else if (warnings != 0)
      violations.add("after the clean stop: tally verify reports " + std::to_string(warnings) + " warning(s)");
  }
  if (!violations.empty())
    return report_failure(program, options, violations, paths);

  auto counts = ledger.totals();
  std::uint64_t transfers_completed = 0;
  std::uint64_t transfers_failed = 0;
  for (const auto& record : ledger.records())
    if (record.op.kind == operation_kind::transfer_money) {
      transfers_completed += record.outcome.transfer_status == "completed" ? 1 : 0;
      transfers_failed += record.outcome.transfer_status == "failed" ? 1 : 0;
    }
  std::cout << "kill_under_load: OK: " << options.kills << " kills, " << counts.submitted
            << " commands and transfers sent, " << counts.acknowledged << " answered, " << counts.in_doubt_ever
            << " in doubt (" << in_doubt_applied_total << " commands applied before the kill; "
            << transfers_in_doubt_total << " transfers, " << transfers_requested_before_retry_total
            << " requested and " << transfers_ended_before_retry_total << " ended before their retry; all "
            << counts.resolved << " resolved by retries), " << transfers_completed + transfers_failed << " transfers ("
            << transfers_completed << " completed, " << transfers_failed << " failed), " << journal.size()
            << " events, " << torn_tail_warnings_total << " torn-tail warnings from verify, "
            << totals_reads_checked.load() << " GET /totals checked during the load, " << milliseconds_since(run_start)
            << " ms" << std::endl;
  if (!paths.created_root.empty() && !options.keep) {
    std::error_code ignored;
    std::filesystem::remove_all(paths.created_root, ignored);
  }
  return exit_ok;
}
