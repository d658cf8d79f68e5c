// Reads what the kill-under-load audit needs from a running tallyd over HTTP: the head,
// the journal (the event feed's catch-up reads the journal itself), and the read models
// at a position. Every function returns an empty string on success, else what went
// wrong (a transport error or an unexpected answer), which the driver reports as a
// violation: a restarted daemon must answer these.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "app/http_common/http_client.hpp"
#include "tests/crash/crash_audit.hpp"

namespace tally::crash {

/// How long one request (or a pause of the event feed) may take.
inline constexpr std::chrono::milliseconds daemon_request_timeout{10'000};

/// The store's committed head (GET /health).
std::string read_head(http_common::http_client& client, std::uint64_t& head);

/// Appends the journal's events from position `from` through `head` to `out` (GET
/// /events?from=...), stopping at `head`.
std::string read_journal(const http_common::endpoint& where, std::uint64_t from, std::uint64_t head,
                         std::vector<logged_event>& out);

/// Reads the history, balance and totals read models, each with min_position=`head`,
/// for every account in `account_ids`, and the transfers read model for every transfer
/// in `transfer_ids`.
std::string read_models_at(http_common::http_client& client, const std::vector<std::string>& account_ids,
                           const std::vector<std::string>& transfer_ids, std::uint64_t head, read_models& out);

/// What GET /metrics says about work still going on in the daemon.
struct daemon_activity {
  std::uint64_t head = 0;                   ///< the store's committed head
  std::uint64_t transfers_position = 0;     ///< the last position the transfers read model applied
  std::uint64_t transfers_in_progress = 0;  ///< transfers requested and not ended (transfers read model)
  std::uint64_t commands_in_flight = 0;     ///< commands and transfers sent over HTTP and not answered yet
};

/// Reads `out` from GET /metrics (one answer, so the figures are close in time, not
/// one snapshot: the caller compares transfers_position with head).
std::string read_daemon_activity(http_common::http_client& client, daemon_activity& out);

}  // namespace tally::crash
