// tallyd's HTTP/1.1 server (Boost.Beast): one Asio I/O thread, keep-alive, strict
// limits, bearer-token check, and the routes of docs/http_api.md. Requests go to the
// runtime through bank_gateway (never blocking the I/O thread or a CAF thread);
// answers come back to the I/O thread by net::post.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "app/tallyd/config.hpp"

namespace spdlog {
class logger;
}

namespace tally::daemon {

class bank_gateway;
class daemon_metrics;

struct server_options {
  listen_address listen;
  std::size_t request_body_bytes_max = 0;
  std::size_t request_header_bytes_max = 0;
  std::chrono::milliseconds read_timeout{0};
  std::uint64_t connections_max = 0;
  std::uint64_t commands_in_flight_max = 0;
  std::chrono::milliseconds query_wait_max{0};
  std::uint64_t sse_buffer_events_max = 0;
  bool request_log = false;
  std::string token;  ///< bearer token; empty: no authentication (loopback only)
};

/// Builds server_options from the daemon configuration (token read separately).
server_options make_server_options(const daemon_config& config, std::string token);

/// True when `authorization` is "Bearer <token>". Runs in time that depends only on
/// the token's length, not on where the first differing byte is.
bool bearer_token_matches(std::string_view authorization, const std::string& token) noexcept;

class http_server {
public:
  /// `gateway`, `metrics` and `log` must outlive the server.
  http_server(server_options options, bank_gateway& gateway, daemon_metrics& metrics,
              std::shared_ptr<spdlog::logger> log);
  ~http_server();

  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;

  /// Binds and listens. Returns an empty string, or why it failed.
  std::string bind();

  /// "HOST:PORT" actually bound (the real port when 0 was asked for).
  std::string local_endpoint() const;

  /// Starts the I/O thread (after bind()).
  void start();

  /// Closes the listening socket; requests that arrive later on open connections get
  /// 503 shutting_down. Thread-safe, idempotent.
  void stop_accepting();

  /// Waits until no command is in flight and every started response was written, at
  /// most `wait`. Returns true when idle.
  bool wait_idle(std::chrono::milliseconds wait);

  /// Requests whose response has not been handed to the socket yet.
  std::int64_t responses_pending() const noexcept;

  /// Closes every connection (event feeds included), stops and joins the I/O thread.
  void stop();

  /// Implementation detail (public so the connection class in the .cpp can name it).
  struct impl;

private:
  std::shared_ptr<impl> impl_;
};

}  // namespace tally::daemon
