// Non-blocking access to the runtime for the HTTP server: every call sends its
// request from a short-lived event-based actor and hands the answer to `done` on a
// CAF thread. `done` must not block (the server posts it to its I/O thread). Nothing
// here blocks the caller, so the Asio thread never waits on the actor system.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "tally/runtime.hpp"

namespace tally::daemon {

/// What /metrics shows about the runtime.
struct runtime_metrics {
  store_status store;
  detail::router_counters accounts;
  std::uint64_t balances_position = 0;
  std::uint64_t history_position = 0;
  std::uint64_t totals_position = 0;
  std::uint64_t transfers_position = 0;
  money money_in_flight = 0;                  ///< from the totals read model
  std::uint64_t transfers_in_progress = 0;    ///< from the transfers read model
};

/// An account's state rebuilt from its events, and whether the stream has any event.
struct replayed_state {
  state_at<bank::account_state> at;
  bool stream_exists = false;
};

class bank_gateway {
public:
  template <class T>
  using callback = std::function<void(result<T>)>;

  /// `bank` must outlive every call's completion. `call_timeout` bounds each request.
  bank_gateway(runtime& bank, std::chrono::milliseconds call_timeout);

  void execute(bank::account_command command, command_id id, callback<command_reply> done);
  /// Runs a transfer; `done` gets its outcome once it completed or failed.
  void transfer(bank::transfer_money request, callback<transfer_reply> done);
  /// One transfer from the transfers read model (the page holds exactly one view,
  /// exists = false when the id was never requested).
  void transfer_state(std::string transfer_id, std::uint64_t min_position,
                      std::chrono::milliseconds wait, callback<transfers_page> done);
  void balance(std::string account_id, std::uint64_t min_position, std::chrono::milliseconds wait,
               callback<balance_view> done);
  void history(history_query query, std::uint64_t min_position, std::chrono::milliseconds wait,
               callback<history_page> done);
  void totals(std::uint64_t min_position, std::chrono::milliseconds wait, callback<totals_view> done);
  /// Replays `account_id` up to `version` and `until_ns` (both inclusive).
  void replay(std::string account_id, std::uint64_t version, std::int64_t until_ns,
              callback<replayed_state> done);
  void read_all(std::uint64_t from_position, std::uint64_t max_count,
                callback<std::vector<recorded_event>> done);
  void store_health(callback<store_status> done);
  void metrics(callback<runtime_metrics> done);

  runtime& bank() noexcept { return bank_; }

  ~bank_gateway();
  bank_gateway(const bank_gateway&) = delete;
  bank_gateway& operator=(const bank_gateway&) = delete;

private:
  runtime& bank_;
  std::chrono::milliseconds call_timeout_;
  caf::actor queries_;  ///< one long-lived actor that issues every read-model query
};

}  // namespace tally::daemon
