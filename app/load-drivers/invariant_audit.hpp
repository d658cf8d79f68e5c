// The invariant audit that runs after every load run (shared/workload.md, "invariants"):
//
//  1. every account: read-model balance == write-side state == replay of its events ==
//     the harness's own tally (balance before the run + accepted deposits - accepted
//     withdrawals - completed transfers out + completed transfers in);
//  2. events appended during the run == the events of the accepted commands (one per
//     deposit or withdrawal, and the saga's events of each transfer: requested, debit,
//     credit, settle, completed; or requested, failed; or requested, debit,
//     compensating, refund, failed); positions contiguous from 1 to the head;
//     per-stream versions contiguous from 1;
//  3. no balance below zero in any view;
//  4. durable journal: a cold, checksum-verified read of the data directory gives the
//     same balances and event count, contiguous positions and no torn tail;
//  5. transfers (a Tally extension of the spec): after the run every transfer
//     completed or failed (the log, and the transfers read model: none in progress),
//     their counts agree with the harness's, and the totals read model at the head
//     shows total_balance + money_in_flight == total_deposited - total_withdrawn with
//     money_in_flight == 0.
//
// The audit is written against audit_source, a small interface over "the system under
// test", so the same checks run against the embedded runtime, over HTTP, and against a
// deliberately corrupted decorator in the tests. It reads only; it never repairs.
//
// Other writers: the audit assumes the harness is the only writer between the baseline
// and the audit (it compares the head's advance with the harness's accepted writes).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tally/error.hpp"
#include "tally/event.hpp"
#include "tally/read_models.hpp"

namespace tally {
class runtime;
}

namespace tally::load {

/// One account as one view of the system shows it.
struct account_balance {
  bool exists = false;       ///< false: the view has never seen the account (reads 0)
  std::int64_t balance = 0;
  std::uint64_t version = 0;  ///< stream version the view reflects (0 when unknown)
};

/// The counts of the transfers read model. Over HTTP only the transfers in progress
/// are observable (GET /metrics), so the finished counts are optional.
struct transfer_counts {
  std::uint64_t in_progress = 0;          ///< requested, neither completed nor failed
  std::optional<std::uint64_t> completed;  ///< since the store began
  std::optional<std::uint64_t> failed;     ///< since the store began
  std::uint64_t as_of_position = 0;
};

/// What the audit reads. Every call may block (it is called from a plain thread, never
/// from a CAF scheduler thread). Errors are reported as audit failures, never thrown.
class audit_source {
public:
  virtual ~audit_source() = default;

  /// Position of the last committed event (0 when the store is empty).
  virtual result<std::uint64_t> head_position() = 0;

  /// Balance of `account` from the read model, once it has applied `min_position`.
  virtual result<account_balance> read_model_balance(const std::string& account,
                                                     std::uint64_t min_position) = 0;

  /// Whether write_side_state() is observable (it is not over the public HTTP API).
  virtual bool has_write_side() const { return true; }

  /// The account aggregate's own state (the write side). Only called when
  /// has_write_side().
  virtual result<account_balance> write_side_state(const std::string& account) = 0;

  /// Every event of `account`'s stream, in version order.
  virtual result<std::vector<recorded_event>> stream_events(const std::string& account) = 0;

  /// Whether read_all() is available (the global log; not over HTTP).
  virtual bool has_global_log() const { return true; }

  /// Up to `max_count` committed events from `from_position`, in position order. Only
  /// called when has_global_log().
  virtual result<std::vector<recorded_event>> read_all(std::uint64_t from_position,
                                                       std::uint64_t max_count) = 0;

  /// The totals read model, once it has applied `min_position`.
  virtual result<totals_view> totals(std::uint64_t min_position) = 0;

  /// The transfers read model's counts, once it has applied `min_position`.
  virtual result<transfer_counts> transfers(std::uint64_t min_position) = 0;
};

/// audit_source over an embedded runtime (its blocking calls). `bank` must outlive it;
/// `projection_wait` bounds how long a read model may take to reach the head.
class runtime_audit_source final : public audit_source {
public:
  explicit runtime_audit_source(runtime& bank,
                                std::chrono::milliseconds projection_wait = std::chrono::seconds{30});

  result<std::uint64_t> head_position() override;
  result<account_balance> read_model_balance(const std::string& account,
                                             std::uint64_t min_position) override;
  result<account_balance> write_side_state(const std::string& account) override;
  result<std::vector<recorded_event>> stream_events(const std::string& account) override;
  result<std::vector<recorded_event>> read_all(std::uint64_t from_position,
                                               std::uint64_t max_count) override;
  result<totals_view> totals(std::uint64_t min_position) override;
  result<transfer_counts> transfers(std::uint64_t min_position) override;

private:
  runtime& bank_;
  std::chrono::milliseconds projection_wait_;
};

/// The state of the workload's accounts before the timed run: the audit's starting
/// point, so that a run against a store that already holds events (a reused data
/// directory, a long-running tallyd) is still checked exactly.
struct audit_baseline {
  std::uint64_t head = 0;               ///< store head after the accounts were opened
  std::vector<std::int64_t> balances;   ///< per workload account, replayed from the store
  transfer_counts transfers;            ///< the transfers read model at the head
};

/// Takes the baseline of workload accounts 0..accounts-1 (names from
/// `account_names`): from one scan of the global log when the source has one, else
/// from each account's stream. Call after opening the accounts and before the run.
result<audit_baseline> take_audit_baseline(audit_source& source,
                                           const std::vector<std::string>& account_names);

/// The transfers of a run as the harness saw their replies.
struct transfer_tally {
  std::uint64_t completed = 0;  ///< answered completed: the money moved
  std::uint64_t failed = 0;     ///< answered failed: no money moved
  /// Sent without an answer (a failure such as a timeout): it may have happened or not,
  /// so the audit accepts either for these. 0 in a healthy run.
  std::uint64_t in_doubt = 0;

  std::uint64_t answered() const noexcept { return completed + failed; }
};

/// What the harness itself observed during the run.
struct audit_expectations {
  std::vector<std::string> account_names;  ///< workload account i is account_names[i]
  audit_baseline baseline;
  /// Per account: accepted deposits - accepted withdrawals - completed transfers out +
  /// completed transfers in.
  std::vector<std::int64_t> client_tally;
  std::uint64_t accepted_writes = 0;       ///< accepted deposits + accepted withdrawals
  transfer_tally transfers;
};

/// The events appended during the run (after the baseline's head), by kind. Over HTTP
/// only account streams are readable, so the transfer streams' four kinds stay 0 there.
struct run_event_counts {
  std::uint64_t deposits_and_withdrawals = 0;
  std::uint64_t debits = 0;    ///< money_debited_for_transfer
  std::uint64_t credits = 0;   ///< money_credited_for_transfer
  std::uint64_t refunds = 0;   ///< money_refunded_for_transfer
  std::uint64_t settles = 0;   ///< transfer_settled
  std::uint64_t requested = 0;     ///< transfer_requested
  std::uint64_t compensating = 0;  ///< transfer_compensating
  std::uint64_t completed = 0;     ///< transfer_completed
  std::uint64_t failed = 0;        ///< transfer_failed
  std::uint64_t other = 0;     ///< anything else (an account opened or closed during the run)

  std::uint64_t transfer_steps() const noexcept { return debits + credits + refunds + settles; }
  std::uint64_t transfer_stream_events() const noexcept {
    return requested + compensating + completed + failed;
  }
  std::uint64_t total() const noexcept {
    return deposits_and_withdrawals + transfer_steps() + transfer_stream_events() + other;
  }
};

/// What an audit found. `failures` holds one line per failed check, each naming the
/// invariant ("invariant 1 ...") and the first offending account or position.
struct audit_result {
  std::vector<std::string> failures;
  std::uint64_t head = 0;                  ///< the head the audit checked against
  std::uint64_t accounts_checked = 0;
  std::vector<std::int64_t> expected_balances;  ///< per workload account (baseline + tally)
  run_event_counts run_events;             ///< what the run appended, by kind
  std::int64_t money_in_flight = 0;        ///< totals read model at the head
  std::uint64_t transfers_in_progress = 0;  ///< transfers read model at the head
  double elapsed_s = 0.0;

  bool ok() const noexcept { return failures.empty(); }
};

/// Runs invariants 1-3 and 5 against `source`. Waits (via min_position) for the read models
/// to catch up with the head before comparing.
audit_result audit_invariants(audit_source& source, const audit_expectations& expected);

/// Waits until no journal holds `directory`'s lock any more, at most `timeout`. A journal
/// releases the lock at the end of its destructor, which may still be running on an
/// actor's thread after the last reference to it is gone, so "the runtime is gone" is
/// not yet "the directory is free". Returns false on timeout.
bool wait_for_directory_unlocked(const std::string& directory, std::chrono::milliseconds timeout);

/// Invariant 4, run after the runtime that wrote `directory` has shut down (it takes the
/// journal's directory lock): verify_data_directory() must report no problem (a torn
/// tail counts: the runtime shut down cleanly), and a cold open_file_journal() read of
/// every event must give positions 1..live.head without gaps, contiguous stream
/// versions, and the balances live.expected_balances for the workload accounts.
/// Returns the failures (empty: the invariant holds).
std::vector<std::string> audit_durable_directory(const std::string& directory,
                                                 const audit_expectations& expected,
                                                 const audit_result& live);

}  // namespace tally::load
