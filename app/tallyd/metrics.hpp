// Counters of the daemon and their Prometheus text rendering (exposition format
// 0.0.4). Updates are lock-free atomics, callable from any thread.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

#include "tally/error.hpp"

namespace tally::daemon {

struct runtime_metrics;

/// Upper bounds (seconds) of the command latency histogram buckets (+Inf implied).
inline constexpr std::array<double, 16> command_latency_buckets_seconds = {
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
  0.05,   0.1,     0.25,   0.5,   1.0,    2.5,   5.0,   10.0};

/// HTTP statuses counted individually; others count as "other".
inline constexpr std::array<unsigned, 15> counted_http_statuses = {
  200, 201, 400, 401, 404, 405, 409, 413, 415, 422, 431, 500, 503, 504, 0};

class daemon_metrics {
public:
  /// A command finished with `outcome` (none = accepted) after `latency`.
  void command_finished(error_code outcome, std::chrono::nanoseconds latency) noexcept;
  /// A command could not be executed (store unavailable, timeout, ...).
  void http_response(unsigned status) noexcept;

  std::atomic<std::int64_t> open_connections{0};
  std::atomic<std::int64_t> event_feeds{0};
  std::atomic<std::int64_t> commands_in_flight{0};
  std::atomic<std::uint64_t> connections_refused{0};
  std::atomic<std::uint64_t> slow_consumers_dropped{0};
  std::atomic<std::uint64_t> commands_refused_backpressure{0};

  /// Renders everything, with `runtime` (may be null when the runtime did not answer).
  std::string render(const runtime_metrics* runtime) const;

private:
  std::array<std::atomic<std::uint64_t>, error_code_count> commands_{};
  std::array<std::atomic<std::uint64_t>, command_latency_buckets_seconds.size() + 1> latency_buckets_{};
  std::atomic<std::uint64_t> latency_sum_ns_{0};
  std::atomic<std::uint64_t> latency_count_{0};
  std::array<std::atomic<std::uint64_t>, counted_http_statuses.size()> http_responses_{};
};

}  // namespace tally::daemon
