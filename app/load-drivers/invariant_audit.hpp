// The invariant audit that runs after every load run (shared/workload.md, "invariants"):
//
//  1. every account: read-model balance == write-side state == replay of its events ==
//     the harness's own tally (balance before the run + accepted deposits - accepted
//     withdrawals);
//  2. events appended during the run == accepted writes; positions contiguous from 1
//     to the head; per-stream versions contiguous from 1;
//  3. no balance below zero in any view;
//  4. durable journal: a cold, checksum-verified read of the data directory gives the
//     same balances and event count, contiguous positions and no torn tail.
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
};

/// Takes the baseline of workload accounts 0..accounts-1 (names from
/// `account_names`): from one scan of the global log when the source has one, else
/// from each account's stream. Call after opening the accounts and before the run.
result<audit_baseline> take_audit_baseline(audit_source& source,
                                           const std::vector<std::string>& account_names);

/// What the harness itself observed during the run.
struct audit_expectations {
  std::vector<std::string> account_names;  ///< workload account i is account_names[i]
  audit_baseline baseline;
  std::vector<std::int64_t> client_tally;  ///< per account: accepted deposits - withdrawals
  std::uint64_t accepted_writes = 0;       ///< accepted deposits + accepted withdrawals
};

/// What an audit found. `failures` holds one line per failed check, each naming the
/// invariant ("invariant 1 ...") and the first offending account or position.
struct audit_result {
  std::vector<std::string> failures;
  std::uint64_t head = 0;                  ///< the head the audit checked against
  std::uint64_t accounts_checked = 0;
  std::vector<std::int64_t> expected_balances;  ///< per workload account (baseline + tally)
  double elapsed_s = 0.0;

  bool ok() const noexcept { return failures.empty(); }
};

/// Runs invariants 1-3 against `source`. Waits (via min_position) for the read models
/// to catch up with the head before comparing.
audit_result audit_invariants(audit_source& source, const audit_expectations& expected);

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
