// The transfer part of the kill-under-load checks, as pure functions over what the
// clients submitted and what the journal holds (no I/O, so crash_audit_test can show
// each check fails on a damaged journal). A transfer's account steps are found by
// their command ids, which are derived from the transfer id (transfer_step_id), so a
// step appended twice or under a transfer nobody submitted cannot hide.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tests/crash/crash_audit.hpp"

namespace tally::crash {

/// A transfer a client submitted, and what its decided reply (or retry) said.
struct submitted_transfer {
  std::string transfer_id;
  std::string source;
  std::string target;
  std::int64_t amount = 0;
  std::string final_status;  ///< "completed" or "failed" when a reply said so; empty while unknown
};

/// Checks the transfer streams and the transfer steps on account streams of `log`
/// against `transfers`. Returns one line per violation (empty when all hold):
/// - every transfer stream belongs to a submitted transfer id;
/// - every transfer step event on an account carries the derived id of a step of a
///   submitted transfer, on the right account with the transfer's amount;
/// - each transfer has at most one debit, credit, refund and settle;
/// - the steps match how its stream ended: completed = debit + credit + settle and no
///   refund; failed without compensation (insufficient_funds) = no account event;
///   failed after compensating = debit + refund, no credit, no settle;
/// - a reply's final status equals the status the journal ended with.
/// With `quiescent` (after the retries and the wait for the resumed sagas), every
/// submitted transfer must also have ended (completed or failed) in the journal.
std::vector<std::string> audit_transfers(const std::vector<submitted_transfer>& transfers,
                                         const std::vector<logged_event>& log, bool quiescent);

/// The totals read model's invariant at one as_of_position: total_balance +
/// money_in_flight == total_deposited - total_withdrawn, no negative balance total or
/// negative money in flight. Returns the violation (wrong_total / negative_balance), if any.
std::optional<std::string> check_totals_invariant(std::int64_t total_balance, std::int64_t money_in_flight,
                                                  std::int64_t total_deposited, std::int64_t total_withdrawn,
                                                  std::uint64_t as_of_position);

}  // namespace tally::crash
