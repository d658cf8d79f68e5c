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

/// A latency histogram over command_latency_buckets_seconds (lock-free).
class latency_histogram {
public:
  void record(std::chrono::nanoseconds latency) noexcept;
  /// Appends `name`_bucket, _sum and _count lines (not the HELP and TYPE lines).
  void render(const char* name, std::string& out) const;

private:
  std::array<std::atomic<std::uint64_t>, command_latency_buckets_seconds.size() + 1> buckets_{};
  std::atomic<std::uint64_t> sum_ns_{0};
  std::atomic<std::uint64_t> count_{0};
};

class daemon_metrics {
public:
  /// A command finished with `outcome` (none = accepted) after `latency`.
  void command_finished(error_code outcome, std::chrono::nanoseconds latency) noexcept;
  /// A transfer request was answered after `latency`: `outcome` none means the
  /// transfer reached an end, `completed` says whether it completed or failed;
  /// otherwise `outcome` is the rule it broke or the failure.
  void transfer_finished(error_code outcome, bool completed,
                         std::chrono::nanoseconds latency) noexcept;
  void http_response(unsigned status) noexcept;

  std::atomic<std::int64_t> open_connections{0};
  std::atomic<std::int64_t> event_feeds{0};
  /// Commands and transfers sent to the runtime and not answered yet (both count
  /// against commands-in-flight-max).
  std::atomic<std::int64_t> commands_in_flight{0};
  std::atomic<std::uint64_t> connections_refused{0};
  std::atomic<std::uint64_t> slow_consumers_dropped{0};
  std::atomic<std::uint64_t> commands_refused_backpressure{0};

  /// Renders everything, with `runtime` (may be null when the runtime did not answer).
  std::string render(const runtime_metrics* runtime) const;

private:
  std::array<std::atomic<std::uint64_t>, error_code_count> commands_{};
  latency_histogram command_latency_;
  std::atomic<std::uint64_t> transfers_completed_{0};
  std::atomic<std::uint64_t> transfers_failed_{0};
  /// Transfer requests answered with a rejection or failure, by error code.
  std::array<std::atomic<std::uint64_t>, error_code_count> transfers_refused_{};
  latency_histogram transfer_latency_;
  std::array<std::atomic<std::uint64_t>, counted_http_statuses.size()> http_responses_{};
};

}  // namespace tally::daemon
