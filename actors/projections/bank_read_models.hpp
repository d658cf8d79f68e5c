// The bank's read models, each kept by a projection actor (tally/detail/projection_actor.hpp).
#pragma once

#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "tally/detail/flat_string_map.hpp"
#include "tally/detail/prefetch.hpp"
#include "tally/event.hpp"
#include "tally/read_models.hpp"

namespace tally {

// 128-bit sums: a bank of many large balances overflows int64 (`__extension__`
// keeps -Wpedantic quiet about the GNU type).
__extension__ typedef __int128 int128;

/// Balance, status and version of every account.
class balance_read_model {
public:
  using query_type = balance_query;
  using answer_type = balance_view;
  static constexpr const char* name = "balances";

  void apply(const recorded_event& event);
  /// A hint that `event` is applied soon (projection_actor: a few events ahead).
  void prefetch(const recorded_event& event) const noexcept { accounts_.prefetch(event.stream_id); }
  balance_view answer(const balance_query& query, std::uint64_t position) const;
  std::string encode() const;
  bool decode(std::string_view bytes);

private:
  detail::flat_string_map<balance_view> accounts_;
};

/// Every account's events with the balance after each, paged.
class history_read_model {
public:
  using query_type = history_query;
  using answer_type = history_page;
  static constexpr const char* name = "history";

  void apply(const recorded_event& event);
  /// A hint that `event` is applied soon (projection_actor: a few events ahead).
  void prefetch(const recorded_event& event) const noexcept { accounts_.prefetch(event.stream_id); }
  /// Once prefetch() loaded the account's entry: starts loading, for writing, where
  /// apply() puts the event (the store of a new entry that misses the caches was most
  /// of apply's time).
  void prefetch_update(const recorded_event& event) const noexcept {
    if (const auto* history = accounts_.find(event.stream_id)) {
      const auto* next = history->entries.data() + history->entries.size();
      detail::prefetch(next);
      detail::prefetch(reinterpret_cast<const char*>(next + 1) - 1);
    }
  }
  history_page answer(const history_query& query, std::uint64_t position) const;
  std::string encode() const;
  bool decode(std::string_view bytes);

private:
  // Compact: no string per event (the type is one of the four account events).
  struct stored_entry {
    std::uint64_t position;
    std::int64_t timestamp_ns;
    command_id command;
    money amount;
    money balance_after;
    std::uint8_t type;  ///< index into the account_event variant
  };
  struct account_history {
    std::vector<stored_entry> entries;
    // entries.back().balance_after, kept beside the vector in the map's entry: reading it
    // from the vector's last entry was a cache miss per event, nearly all of apply()'s time.
    money balance = 0;
  };
  detail::flat_string_map<account_history> accounts_;
};

/// Sum of balances, open/closed accounts, deposits and withdrawals.
class totals_read_model {
public:
  using query_type = totals_query;
  using answer_type = totals_view;
  static constexpr const char* name = "totals";

  void apply(const recorded_event& event);
  totals_view answer(const totals_query& query, std::uint64_t position) const;
  std::string encode() const;
  bool decode(std::string_view bytes);

private:
  int128 total_balance_ = 0;  // exact: many balances near INT64_MAX overflow int64
  int128 total_deposited_ = 0;
  int128 total_withdrawn_ = 0;
  int128 money_in_flight_ = 0;
  std::uint64_t accounts_open_ = 0;
  std::uint64_t accounts_closed_ = 0;
  std::uint64_t events_ = 0;
};

/// Every transfer's state and the money in flight (from transfer streams and the
/// transfer steps on accounts).
class transfer_read_model {
public:
  using query_type = transfers_query;
  using answer_type = transfers_page;
  static constexpr const char* name = "transfers";

  void apply(const recorded_event& event);
  transfers_page answer(const transfers_query& query, std::uint64_t position) const;
  std::string encode() const;
  bool decode(std::string_view bytes);

private:
  std::unordered_map<std::string, transfer_view> transfers_;
  std::set<std::string> unfinished_;  ///< requested or compensating, in id order
  int128 money_in_flight_ = 0;
  std::uint64_t completed_ = 0;
  std::uint64_t failed_ = 0;
};

}  // namespace tally
