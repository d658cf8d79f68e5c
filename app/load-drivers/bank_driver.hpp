// The runner of the bank mode (app/tally-load/bank_check.hpp says what it checks):
// set up N accounts holding T, let C client threads transfer and read, check every
// read, resolve the transfers left in doubt, and check the bank at rest.
//
// Targets are behind bank_target, so the same run goes against the embedded runtime,
// a tallyd over HTTP, and a fake bank in the tests that answers deliberately wrong
// reads. Each client thread opens its own bank_session (a scoped actor, or one
// keep-alive connection) and uses it alone.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "app/load-drivers/embedded_driver.hpp"
#include "app/load-drivers/http_driver.hpp"
#include "app/load-drivers/invariant_audit.hpp"
#include "app/tally-load/bank_check.hpp"
#include "app/tally-load/latency_histogram.hpp"
#include "app/tally-load/parse_result.hpp"
#include "tally/error.hpp"
#include "tally/transfer.hpp"

namespace tally {
class runtime;
}

namespace tally::load {

/// How a transfer ended, as its reply said.
struct bank_transfer_answer {
  enum class end : std::uint8_t {
    completed,  ///< the money moved
    failed,     ///< recorded as failed (e.g. insufficient_funds): nothing moved
    rejected,   ///< refused before anything was recorded (a rule, or a limit)
  };
  end outcome = end::rejected;
  std::string reason;         ///< failed and rejected: why
  std::uint64_t position = 0;  ///< the transfer's last event (0 when rejected)
};

/// One client's connection to the bank. Used by one thread at a time. Every call may
/// block; errors are values (a failed call leaves a transfer in doubt, a read unchecked).
class bank_session {
public:
  virtual ~bank_session() = default;

  /// The store's head position.
  virtual result<std::uint64_t> head_position() = 0;
  /// Opens an account; one that exists already counts as opened.
  virtual status open_account(const std::string& account) = 0;
  /// Deposits `amount` with command id text `command_id`; returns its position.
  virtual result<std::uint64_t> deposit(const std::string& account, std::int64_t amount,
                                        const std::string& command_id) = 0;
  virtual result<bank_transfer_answer> transfer(const bank::transfer_money& request) = 0;
  /// The totals read model once it applied `min_position`.
  virtual result<bank_totals_read> totals(std::uint64_t min_position) = 0;
  /// Each account's balance from the balances read model once it applied
  /// `min_position`, in the order of `accounts`.
  virtual result<std::vector<bank_balance_read>> balances(const std::vector<std::string>& accounts,
                                                          std::uint64_t min_position) = 0;
  /// A transfer's status from the transfers read model once it applied `min_position`
  /// (not_requested when it never was).
  virtual result<bank::transfer_status> transfer_status(const std::string& transfer_id,
                                                        std::uint64_t min_position) = 0;
};

/// A bank to run against: hands out sessions.
class bank_target {
public:
  virtual ~bank_target() = default;
  /// A new session, called on the thread that will use it.
  virtual std::unique_ptr<bank_session> open_session() = 0;
};

/// The embedded runtime `bank` (which must outlive the target).
std::unique_ptr<bank_target> make_embedded_bank_target(runtime& bank);

/// A tallyd over HTTP.
std::unique_ptr<bank_target> make_http_bank_target(const http_target& target);

/// What setup_bank() did.
struct bank_setup {
  std::vector<std::string> account_names;  ///< account i of the run
  std::uint64_t run_tag = 0;               ///< makes this run's ids unique
  /// What total_balance + money_in_flight must show from now on: T plus what the
  /// store held before (0 for a fresh one).
  std::int64_t expected_total = 0;
  std::int64_t total_before = 0;       ///< total_balance + money_in_flight before setup
  std::uint64_t position = 0;          ///< the store's head after setup
};

/// Opens `parameters.accounts` accounts "bank-<tag>-<i>" (a random tag per run, so that
/// a second run against the same tallyd starts from fresh accounts) and deposits
/// initial_balance() into each. Reads the totals before and after: they must differ by
/// exactly T (else another writer is at work and the checks would be meaningless).
/// Errors name the step that failed.
parse_result<bank_setup> setup_bank(bank_target& target, const bank_parameters& parameters);

/// What a bank run measured and found.
struct bank_run_result {
  std::uint64_t elapsed_ns = 0;  ///< the clients' start until the last one finished
  std::uint64_t transfers_sent = 0;
  transfer_tally transfers;      ///< completed, failed, in doubt (after resolution)
  std::uint64_t transfers_rejected = 0;
  std::uint64_t resolved_after_run = 0;  ///< in doubt during the run, resolved after it
  std::vector<std::pair<std::string, std::uint64_t>> failed_by_reason;    ///< failed transfers
  std::vector<std::pair<std::string, std::uint64_t>> rejected_by_reason;  ///< rejected ones
  std::vector<std::pair<std::string, std::uint64_t>> errors_by_reason;    ///< calls that failed
  std::uint64_t reads_failed = 0;  ///< reads not checked because a call failed
  std::uint64_t balances_read = 0;
  latency_histogram transfer_latency;
  latency_histogram read_latency;  ///< one whole read: totals and every balance
  bank_checker checker{0, 0};      ///< every read's violations, merged
  /// Per account: what completed transfers moved (the harness's own tally).
  std::vector<std::int64_t> client_tally;
  /// The bank at rest after the run (final_check_at_rest()); empty when it passed.
  std::vector<std::string> final_failures;

  bool ok() const noexcept {
    return checker.violations() == 0 && final_failures.empty();
  }
};

/// Runs the clients: each does transfers_for_client() transfers, reading the bank
/// between them as its bank_step_generator says. A read asks for P = the highest
/// position any reply (or the setup) has carried so far: the totals at P, then every
/// balance at P. `controls` count transfers (progress) and may stop the clients early.
/// Then resolves the transfers left in doubt through the transfers read model.
bank_run_result run_bank_clients(bank_target& target, const bank_parameters& parameters,
                                 const bank_setup& setup, const run_controls& controls = {});

/// Reads the bank at rest (after run_bank_clients()): at the store's head the totals
/// must show T in all (no wrong_total), nothing in flight, every account opened and
/// not below zero, each balance the initial one plus the harness's tally, and their
/// sum T (at rest the balances are one consistent state). Each failure is a line in
/// run.final_failures, naming the violation kind where it is one.
void final_check_at_rest(bank_target& target, const bank_parameters& parameters,
                         const bank_setup& setup, bank_run_result& run);

}  // namespace tally::load
