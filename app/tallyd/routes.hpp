// The HTTP API's routing table: which (method, path) is which operation, and the
// strict parsing of its query parameters. Pure: no sockets, no runtime, unit-tested in
// tests/unit/http/routes_test.cpp. The checks run in this order: unknown path (404
// route_not_found), method (405 method_not_allowed, with Allow), account or transfer
// id in the path (400 account_id_invalid, transfer_id_invalid), query string (400
// malformed_query, unknown_parameter, duplicate_parameter, parameter_invalid).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "app/tallyd/json_codec.hpp"

namespace tally::daemon {

enum class route_kind : std::uint8_t {
  health,          ///< GET /health
  metrics,         ///< GET /metrics
  totals,          ///< GET /totals[?min_position=P]
  event_feed,      ///< GET /events[?from=P]  (server-sent events)
  open_account,    ///< POST /accounts
  deposit,         ///< POST /accounts/{id}/deposits
  withdraw,        ///< POST /accounts/{id}/withdrawals
  close_account,   ///< POST /accounts/{id}/close
  balance,         ///< GET /accounts/{id}[?min_position=P]
  history,         ///< GET /accounts/{id}/events[?from_version=V&limit=N&min_position=P]
  state,           ///< GET /accounts/{id}/state?version=V | ?at=T
  transfer,        ///< POST /transfers
  transfer_state,  ///< GET /transfers/{id}[?min_position=P]
};

/// A request matched to a route, with its parameters parsed.
struct route_match {
  route_kind kind = route_kind::health;
  std::string account_id;
  std::string transfer_id;  ///< transfer_state: the {id} of the path
  std::string path;  ///< without the query string
  std::map<std::string, std::string> query;  ///< raw (percent-decoded) parameters
  // Parsed parameters (0 / nullopt when absent).
  std::uint64_t min_position = 0;
  std::uint64_t from = 0;           ///< event_feed: first position (default 1)
  std::uint64_t from_version = 1;   ///< history
  std::uint64_t limit = 0;          ///< history page size (0: default)
  std::optional<std::uint64_t> version;  ///< state
  std::optional<std::int64_t> at_ns;     ///< state
};

/// Returns the path part of a request target (before '?').
std::string_view target_path(std::string_view target);

/// Matches `method` and `target` (origin form, e.g. "/accounts/a1?min_position=3").
decoded<route_match> match_route(std::string_view method, std::string_view target);

/// True for routes that execute an account command (open, deposit, withdraw, close);
/// their bodies go through decode_command().
bool is_command_route(route_kind kind) noexcept;

/// True for the routes that take a request body: the command routes and POST
/// /transfers (decode_transfer()). Every other route refuses a body.
bool route_takes_body(route_kind kind) noexcept;

/// The command kind of a command route (precondition: is_command_route(kind)).
command_kind command_kind_of(route_kind kind) noexcept;

/// A stable label for metrics and logs, e.g. "POST /accounts/{id}/deposits".
std::string_view route_label(route_kind kind) noexcept;

}  // namespace tally::daemon
