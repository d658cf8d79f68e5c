// Queries and answers of the bank's read models (projections). Queries never touch
// the write side: they read what the projections built from committed events, and
// every answer says which global position it reflects.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tally/bank.hpp"

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

/// Bank-wide totals.
struct totals_view {
  money total_balance = 0;           ///< sum of all balances
  bool total_balance_overflow = false;  ///< the true sum does not fit in int64
  std::uint64_t accounts_open = 0;
  std::uint64_t accounts_closed = 0;
  std::uint64_t events = 0;          ///< account events applied
  money total_deposited = 0;         ///< sum of all deposits (saturating)
  money total_withdrawn = 0;         ///< sum of all withdrawals (saturating)
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

}  // namespace tally
