// What the kill-under-load driver checks after every restart, as pure functions over
// what the clients recorded (the ledger), what the journal holds (the event feed) and
// what the read models answer. No I/O here, so the checks themselves are unit-tested
// (crash_audit_test.cpp) on logs with each kind of damage.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "tests/crash/command_ledger.hpp"

namespace tally::crash {

/// One event of the journal (GET /events).
struct logged_event {
  std::uint64_t position = 0;
  std::string stream_id;
  std::uint64_t version = 0;
  std::string type;
  std::int64_t amount = 0;   ///< 0 for events without an amount
  std::string command_id;    ///< UUID text

  friend bool operator==(const logged_event& a, const logged_event& b) {
    return a.position == b.position && a.stream_id == b.stream_id && a.version == b.version
           && a.type == b.type && a.amount == b.amount && a.command_id == b.command_id;
  }
  friend bool operator!=(const logged_event& a, const logged_event& b) { return !(a == b); }
};

/// One entry of an account's history read model (GET /accounts/{id}/events).
struct history_entry {
  std::uint64_t position = 0;
  std::uint64_t version = 0;
  std::string type;
  std::int64_t amount = 0;
  std::int64_t balance_after = 0;
  std::string command_id;
};

/// The balances read model's answer for one account (GET /accounts/{id}).
struct balance_view {
  bool found = false;
  std::int64_t balance = 0;
  std::uint64_t version = 0;
  std::string status;
  std::uint64_t as_of_position = 0;
};

/// The bank totals read model (GET /totals).
struct totals_view {
  std::int64_t total_balance = 0;
  std::int64_t total_deposited = 0;
  std::int64_t total_withdrawn = 0;
  std::uint64_t accounts_open = 0;
  std::uint64_t accounts_closed = 0;
  std::uint64_t events = 0;  ///< account events (a transfer's own stream is not counted)
  std::uint64_t as_of_position = 0;
  std::int64_t money_in_flight = 0;  ///< debited for transfers, not yet credited or refunded
};

/// The transfers read model's answer for one transfer (GET /transfers/{id}).
struct transfer_view {
  bool found = false;
  std::string status;  ///< requested, compensating, completed or failed
  std::string source;
  std::string target;
  std::int64_t amount = 0;
  bool debited = false;
  bool credited = false;
  bool refunded = false;
  bool settled = false;
  std::int64_t in_flight = 0;  ///< debited and neither credited nor refunded yet
  std::string reason;          ///< why it failed (or is compensating); empty otherwise
};

/// The read models, each read at (at least) the journal's head.
struct read_models {
  std::map<std::string, std::vector<history_entry>> histories;  ///< per account queried
  std::map<std::string, balance_view> balances;                 ///< per account queried
  std::map<std::string, transfer_view> transfers;               ///< per transfer queried, by transfer id
  totals_view totals;
};

/// Checks the journal `log` (every event, in position order) against every command
/// the clients sent (`commands`, none in flight), against `previous_log` (what the
/// previous audit saw: it must be a prefix of `log`) and against `models` (read at
/// the head of `log`, for every account in the log or in the ledger, and for the
/// transfers in `models.transfers`). Runs at quiescence: every transfer a client
/// submitted must have ended. Returns one line per violation (at most
/// `violations_max`); empty when everything holds:
/// - positions are 1..N without a gap, versions per stream contiguous from 1;
/// - every event belongs to a command a client sent, with that command's content, and
///   no command's events appear twice (a transfer's events: audit_transfers, by the
///   ids derived from its transfer id);
/// - every accepted command (acknowledged, or in doubt and resolved by its retry) has
///   its events at the version and position of its reply; a rejected one has none; an
///   unresolved in-doubt one has all of its events or none;
/// - replaying each account never overdraws and never credits or refunds more than
///   was debited for transfers; the balance per account and the totals equal the
///   clients' own tally of accepted commands and completed transfers; no money is in
///   flight;
/// - the transfer checks of audit_transfers (quiescent) and audit_transfer_views;
/// - the balances, history and totals read models equal that replay.
std::vector<std::string> audit_journal(const std::vector<command_record>& commands,
                                       const std::vector<logged_event>& log,
                                       const std::vector<logged_event>& previous_log,
                                       const read_models& models, std::size_t violations_max = 50);

/// Checks the decided reply `retry` to the retry of the in-doubt `record`, given the
/// events the journal had for its id before the retry (`events_before`, from a journal
/// whose head was `head_before`). Applied before the kill: the retry must return that
/// original outcome (accepted, same version and position, marked as replayed). Not
/// applied: the retry is decided afresh (a rejection, or new events after the head).
std::optional<std::string> check_retry(const command_record& record,
                                       const std::vector<logged_event>& events_before,
                                       std::uint64_t head_before, const command_outcome& retry);

}  // namespace tally::crash
