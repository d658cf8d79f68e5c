// The transfer part of the kill-under-load checks, as pure functions over what the
// clients submitted and what the journal holds (no I/O, so crash_audit_test can show
// each check fails on a damaged journal). A transfer's account steps are found by
// their command ids, which are derived from the transfer id (transfer_step_id), so a
// step appended twice or under a transfer nobody submitted cannot hide.
#pragma once

#include <cstdint>
#include <map>
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
  std::string final_status;       ///< "completed" or "failed" when a reply said so; empty while unknown
  std::uint64_t final_position = 0;  ///< the position that reply named (its stream's last event); 0 while unknown
  std::string reason;             ///< the rule a failed transfer's reply named; empty otherwise
};

/// The transfers among `commands` (operation_kind::transfer_money), in ledger order,
/// each with what its decided reply (or the decided reply to its retry) said.
std::vector<submitted_transfer> submitted_transfers(const std::vector<command_record>& commands);

/// Checks the transfer streams and the transfer steps on account streams of `log`
/// against `transfers`. Returns one line per violation (empty when all hold):
/// - every transfer stream belongs to a submitted transfer id;
/// - every transfer step event on an account carries the derived id of a step of a
///   submitted transfer, on the right account with the transfer's amount;
/// - each transfer has at most one debit, credit, refund and settle;
/// - the steps match how its stream ended: completed = debit + credit + settle and no
///   refund; failed without compensation (insufficient_funds) = no account event;
///   failed after compensating = debit + refund, no credit, no settle;
/// - a transfer stream starts with transfer_requested for the submitted amount;
/// - a reply's final status equals the status the journal ended with, and its
///   position is that of the event that ended the transfer.
/// With `quiescent` (after the retries and the wait for the resumed sagas), every
/// submitted transfer must also have ended (completed or failed) in the journal.
std::vector<std::string> audit_transfers(const std::vector<submitted_transfer>& transfers,
                                         const std::vector<logged_event>& log, bool quiescent);

/// Checks the transfers read model's answers `views` (by transfer id, read at the head
/// of `log` after quiescence) against the journal: every transfer in `views` was
/// submitted and is known to the read model with its source, target and amount, the
/// status its stream ended with, exactly the steps the journal has (debited, credited,
/// refunded, settled), nothing in flight, and, when failed, the reason its reply named.
/// Returns one line per violation (empty when all hold).
std::vector<std::string> audit_transfer_views(const std::vector<submitted_transfer>& transfers,
                                              const std::vector<logged_event>& log,
                                              const std::map<std::string, transfer_view>& views);

/// Checks the decided reply `retry` to the retry (same transfer id and payload) of the
/// in-doubt transfer `record`, given the journal `log_before` read before the retry
/// (head `head_before`):
/// - the transfer had ended there: the retry answers that end (status, and the position
///   of the event that ended it), marked as a replay;
/// - it was requested but had not ended: the retry is marked as a replay (it resumed or
///   joined the resumed transfer) and ended after `head_before`;
/// - it was not in the journal: the retry is decided afresh, not marked as a replay,
///   and ended after `head_before`.
std::optional<std::string> check_transfer_retry(const command_record& record,
                                                const std::vector<logged_event>& log_before,
                                                std::uint64_t head_before, const command_outcome& retry);

/// The totals read model's invariant at one as_of_position: total_balance +
/// money_in_flight == total_deposited - total_withdrawn, no negative balance total or
/// negative money in flight. Returns the violation (wrong_total / negative_balance), if any.
std::optional<std::string> check_totals_invariant(std::int64_t total_balance, std::int64_t money_in_flight,
                                                  std::int64_t total_deposited, std::int64_t total_withdrawn,
                                                  std::uint64_t as_of_position);

}  // namespace tally::crash
