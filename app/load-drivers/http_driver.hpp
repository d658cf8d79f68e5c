// The standard workload against a running tallyd over its HTTP/JSON API (routes in
// app/tallyd/routes.hpp): one keep-alive connection per client, each client a plain
// thread (synchronous HTTP/1.1 allows one request in flight per connection).
//
//   deposit   POST /accounts/{id}/deposits     {"amount": A, "command_id": "..."}
//   withdraw  POST /accounts/{id}/withdrawals  {"amount": A, "command_id": "..."}
//   balance   GET  /accounts/{id}
//   transfer  POST /transfers   {"transfer_id": "...", "source": "...", "target": "...", "amount": A}
//   open      POST /accounts                   {"account_id": "...", "command_id": "..."}
//
// 200 is accepted, 409 with "error" = rule (e.g. insufficient_funds) is a rejection,
// anything else (other statuses, transport errors) is a failure named "http_<status>"
// or "transport". A transfer answered 200 {"outcome": "failed"} counts as rejected with
// its "reason"; 409, 422 and a 503 for load (too_many_commands_in_flight,
// limit_exceeded) as rejected with the "error" (nothing was recorded). The audit reads
// GET /health (head), GET /accounts/{id}?min_position=, GET /accounts/{id}/events,
// GET /totals and GET /metrics (transfers in progress; see http_audit_source).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "app/load-drivers/embedded_driver.hpp"
#include "app/load-drivers/invariant_audit.hpp"
#include "app/tally-load/parse_result.hpp"

namespace tally::http_common {
class http_client;
}

namespace tally::load {

struct http_target {
  std::string host;
  std::uint16_t port = 0;
  std::string token;  ///< bearer token; empty: none sent
  /// Longest one request may take (connect, send, receive) before it fails.
  std::chrono::milliseconds request_timeout{std::chrono::seconds{30}};
};

/// Reads a bearer token file: its content without trailing whitespace. Errors name
/// the path.
parse_result<std::string> read_token_file(const std::string& path);

/// GET /health. Returns the store head, or why the daemon cannot be used
/// ("unreachable: ...", "HTTP 401", "store unavailable: ...").
parse_result<std::uint64_t> probe_http_target(const http_target& target);

/// Opens accounts 0..accounts-1 (not timed), `connections` requests at a time. An
/// account that exists already counts as opened. Returns the first problem.
std::optional<std::string> http_open_accounts(const http_target& target, std::uint64_t accounts,
                                              std::uint64_t connections);

/// Runs `lists` against the daemon: closed loop without `rate_per_s`, else open loop
/// (one command in flight per connection, so a slow daemon makes sends late; latency
/// is still measured from the intended send time).
closed_loop_result run_http(const http_target& target,
                            const std::vector<std::vector<workload_command>>& lists,
                            std::uint64_t accounts, std::optional<double> rate_per_s,
                            const run_controls& controls);

/// Reads the transfers read model's counts from tallyd's GET /metrics text: the
/// gauges tally_transfers_in_progress and
/// tally_projection_position{projection="transfers"} (the position they reflect).
/// Errors name the metric that is missing or not an unsigned integer.
parse_result<transfer_counts> parse_transfer_metrics(const std::string& metrics_text);

/// audit_source over the HTTP API. No write side and no global log are observable
/// there, so the audit compares the read model with each account's event history and
/// the harness's tally, and checks positions through the accounts' events.
class http_audit_source final : public audit_source {
public:
  explicit http_audit_source(const http_target& target);
  ~http_audit_source() override;

  result<std::uint64_t> head_position() override;
  result<account_balance> read_model_balance(const std::string& account,
                                             std::uint64_t min_position) override;
  bool has_write_side() const override { return false; }
  result<account_balance> write_side_state(const std::string& account) override;
  result<std::vector<recorded_event>> stream_events(const std::string& account) override;
  bool has_global_log() const override { return false; }
  result<std::vector<recorded_event>> read_all(std::uint64_t from_position,
                                               std::uint64_t max_count) override;
  result<totals_view> totals(std::uint64_t min_position) override;
  /// From GET /metrics (the transfers read model's position and transfers in
  /// progress), polled until the position reaches `min_position` (at most 30 s). The
  /// finished counts are not observable there.
  result<transfer_counts> transfers(std::uint64_t min_position) override;

private:
  http_target target_;
  std::unique_ptr<http_common::http_client> client_;
};

}  // namespace tally::load
