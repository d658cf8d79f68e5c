// Queries and answers of the bank's read models (projections). Queries never touch
// the write side: they read what the projections built from committed events, and
// every answer says which global position it reflects.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tally/bank.hpp"
#include "tally/transfer.hpp"

namespace tally {

/// The balance of one account as the balances projection knows it.
struct balance_view {
  bool exists = false;  ///< false: the account was never opened (balance reads 0)
  bank::account_status status = bank::account_status::not_opened;
  money balance = 0;
  std::uint64_t version = 0;         ///< stream version the balance reflects
  std::uint64_t as_of_position = 0;  ///< global position the projection had applied
};

/// One event of an account's history.
struct history_entry {
  std::uint64_t position = 0;
  std::uint64_t version = 0;
  std::string type;          ///< "account_opened", "money_deposited", ...
  money amount = 0;          ///< 0 for events without an amount
  money balance_after = 0;
  std::int64_t timestamp_ns = 0;
  command_id command;
};

/// A page of an account's history, oldest first.
struct history_page {
  std::vector<history_entry> entries;
  std::uint64_t next_version = 0;  ///< version to ask for next; 0 when this was the last page
  std::uint64_t total_events = 0;  ///< events of the account so far
  std::uint64_t as_of_position = 0;
};

/// Limit on one history page.
inline constexpr std::uint64_t history_page_events_max = 1000;

/// Bank-wide totals. At every position:
///   total_balance + money_in_flight == total_deposited - total_withdrawn
/// (money is neither created nor lost; transfers only move it).
struct totals_view {
  money total_balance = 0;           ///< sum of all balances
  bool total_balance_overflow = false;  ///< the true sum does not fit in int64
  std::uint64_t accounts_open = 0;
  std::uint64_t accounts_closed = 0;
  std::uint64_t events = 0;          ///< account events applied
  money total_deposited = 0;         ///< sum of all deposits (saturating)
  money total_withdrawn = 0;         ///< sum of all withdrawals (saturating)
  money money_in_flight = 0;         ///< debited for transfers, not yet credited or refunded
  std::uint64_t as_of_position = 0;
};

/// One transfer as the transfers projection knows it.
struct transfer_view {
  std::string transfer_id;
  bool exists = false;  ///< false: never requested
  bank::transfer_status status = bank::transfer_status::not_requested;
  std::string source;
  std::string target;
  money amount = 0;
  error_code reason = error_code::none;  ///< why it failed or is compensating
  bool debited = false;
  bool credited = false;
  bool refunded = false;
  bool settled = false;
  money in_flight = 0;  ///< debited and neither credited nor refunded yet
  std::uint64_t requested_position = 0;
  std::uint64_t last_position = 0;  ///< position of its latest event (any stream)
};

/// Transfers: one of them, or those not finished yet, and the money in flight.
struct transfers_page {
  std::vector<transfer_view> transfers;
  money money_in_flight = 0;
  std::uint64_t transfers_in_progress = 0;  ///< requested, not completed or failed
  std::uint64_t transfers_completed = 0;
  std::uint64_t transfers_failed = 0;
  std::uint64_t as_of_position = 0;
};

// -- Queries ---------------------------------------------------------------------------

struct balance_query {
  std::string account_id;
};

struct history_query {
  std::string account_id;
  std::uint64_t from_version = 1;
  std::uint64_t max_events = 100;  ///< at most history_page_events_max
};

struct totals_query {};

/// With a transfer id: that transfer (a view with exists = false when unknown).
/// Without: up to `max_transfers` unfinished transfers in transfer id order, after
/// `after_transfer_id` (for paging; empty: from the first).
struct transfers_query {
  std::string transfer_id;
  std::string after_transfer_id;
  std::uint64_t max_transfers = 100;  ///< at most transfers_page_max
};

inline constexpr std::uint64_t transfers_page_max = 1000;

}  // namespace tally
