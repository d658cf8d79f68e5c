#include "app/tallyd/metrics.hpp"

#include <cstdio>

#include "app/tallyd/bank_gateway.hpp"

namespace tally::daemon {

void latency_histogram::record(std::chrono::nanoseconds latency) noexcept {
  auto seconds = std::chrono::duration<double>(latency).count();
  std::size_t bucket = 0;
  while (bucket < command_latency_buckets_seconds.size()
         && seconds > command_latency_buckets_seconds[bucket])
    ++bucket;
  buckets_[bucket].fetch_add(1, std::memory_order_relaxed);
  sum_ns_.fetch_add(static_cast<std::uint64_t>(latency.count()), std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

void latency_histogram::render(const char* name, std::string& out) const {
  char line[256];
  auto add = [&](const char* format, auto... values) {
    std::snprintf(line, sizeof line, format, values...);
    out += line;
  };
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < command_latency_buckets_seconds.size(); ++i) {
    cumulative += buckets_[i].load(std::memory_order_relaxed);
    add("%s_bucket{le=\"%g\"} %llu\n", name, command_latency_buckets_seconds[i],
        static_cast<unsigned long long>(cumulative));
  }
  cumulative += buckets_.back().load(std::memory_order_relaxed);
  add("%s_bucket{le=\"+Inf\"} %llu\n", name, static_cast<unsigned long long>(cumulative));
  add("%s_sum %.9f\n", name, static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) / 1e9);
  add("%s_count %llu\n", name,
      static_cast<unsigned long long>(count_.load(std::memory_order_relaxed)));
}

void daemon_metrics::command_finished(error_code outcome, std::chrono::nanoseconds latency) noexcept {
  auto index = static_cast<std::size_t>(outcome);
  if (index < commands_.size())
    commands_[index].fetch_add(1, std::memory_order_relaxed);
  command_latency_.record(latency);
}

void daemon_metrics::transfer_finished(error_code outcome, bool completed,
                                       std::chrono::nanoseconds latency) noexcept {
  if (outcome == error_code::none) {
    (completed ? transfers_completed_ : transfers_failed_).fetch_add(1, std::memory_order_relaxed);
  } else {
    auto index = static_cast<std::size_t>(outcome);
    if (index < transfers_refused_.size())
      transfers_refused_[index].fetch_add(1, std::memory_order_relaxed);
  }
  transfer_latency_.record(latency);
}

void daemon_metrics::http_response(unsigned status) noexcept {
  std::size_t index = counted_http_statuses.size() - 1;  // "other"
  for (std::size_t i = 0; i + 1 < counted_http_statuses.size(); ++i)
    if (counted_http_statuses[i] == status)
      index = i;
  http_responses_[index].fetch_add(1, std::memory_order_relaxed);
}

std::string daemon_metrics::render(const runtime_metrics* runtime) const {
  std::string out;
  char line[256];
  auto add = [&](const char* format, auto... values) {
    std::snprintf(line, sizeof line, format, values...);
    out += line;
  };
  auto relaxed = [](const auto& counter) { return counter.load(std::memory_order_relaxed); };
  out += "# HELP tally_commands_total Commands answered, by outcome (accepted or the rule broken).\n"
         "# TYPE tally_commands_total counter\n";
  for (std::size_t i = 0; i < commands_.size(); ++i) {
    auto count = relaxed(commands_[i]);
    auto name = i == 0 ? std::string{"accepted"} : std::string{to_string(static_cast<error_code>(i))};
    add("tally_commands_total{outcome=\"%s\"} %llu\n", name.c_str(),
        static_cast<unsigned long long>(count));
  }
  out += "# HELP tally_command_latency_seconds Time from request to command reply.\n"
         "# TYPE tally_command_latency_seconds histogram\n";
  command_latency_.render("tally_command_latency_seconds", out);
  out += "# HELP tally_transfers_total Transfer requests answered, by outcome: completed, "
         "failed (ended without moving money), or the rule broken or failure.\n"
         "# TYPE tally_transfers_total counter\n";
  add("tally_transfers_total{outcome=\"completed\"} %llu\n",
      static_cast<unsigned long long>(relaxed(transfers_completed_)));
  add("tally_transfers_total{outcome=\"failed\"} %llu\n",
      static_cast<unsigned long long>(relaxed(transfers_failed_)));
  for (std::size_t i = 1; i < transfers_refused_.size(); ++i)
    add("tally_transfers_total{outcome=\"%s\"} %llu\n",
        std::string{to_string(static_cast<error_code>(i))}.c_str(),
        static_cast<unsigned long long>(relaxed(transfers_refused_[i])));
  out += "# HELP tally_transfer_latency_seconds Time from request to transfer reply (the whole "
         "saga).\n"
         "# TYPE tally_transfer_latency_seconds histogram\n";
  transfer_latency_.render("tally_transfer_latency_seconds", out);
  out += "# HELP tally_http_responses_total HTTP responses by status code (0: other).\n"
         "# TYPE tally_http_responses_total counter\n";
  for (std::size_t i = 0; i < counted_http_statuses.size(); ++i)
    add("tally_http_responses_total{status=\"%u\"} %llu\n", counted_http_statuses[i],
        static_cast<unsigned long long>(relaxed(http_responses_[i])));
  auto gauge = [&](const char* name, const char* help, long long value) {
    add("# HELP %s %s\n# TYPE %s gauge\n%s %lld\n", name, help, name, name, value);
  };
  auto counter = [&](const char* name, const char* help, unsigned long long value) {
    add("# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name, name, value);
  };
  gauge("tally_http_open_connections", "Open HTTP connections.", relaxed(open_connections));
  gauge("tally_event_feeds", "Open /events (server-sent events) connections.", relaxed(event_feeds));
  gauge("tally_commands_in_flight", "Commands and transfers sent to the runtime and not answered yet.",
        relaxed(commands_in_flight));
  counter("tally_http_connections_refused_total", "Connections refused at connections-max.",
          relaxed(connections_refused));
  counter("tally_event_feed_slow_consumers_dropped_total",
          "Event feeds closed because the client fell too far behind.",
          relaxed(slow_consumers_dropped));
  counter("tally_commands_refused_backpressure_total",
          "Commands refused with 503 at commands-in-flight-max.",
          relaxed(commands_refused_backpressure));
  if (!runtime)
    return out;
  const auto& store = runtime->store;
  gauge("tally_store_available", "1 while the event store accepts appends.", store.available ? 1 : 0);
  gauge("tally_store_head_position", "Global position of the last committed event.",
        static_cast<long long>(store.head));
  counter("tally_store_batches_committed_total", "Group-commit batches (one sync each).",
          store.batches_committed);
  counter("tally_store_events_committed_total",
          "Events committed; divided by batches it is the mean batch size.",
          store.events_committed);
  gauge("tally_resident_accounts", "Account actors in memory.",
        static_cast<long long>(runtime->accounts.resident));
  counter("tally_accounts_spawned_total", "Account actors started (rehydrations).",
          runtime->accounts.spawned);
  counter("tally_accounts_passivated_total", "Account actors passivated.",
          runtime->accounts.passivated);
  gauge("tally_money_in_flight",
        "Minor units debited for transfers and not yet credited or refunded (totals read model).",
        static_cast<long long>(runtime->money_in_flight));
  gauge("tally_transfers_in_progress", "Transfers requested and not finished (transfers read model).",
        static_cast<long long>(runtime->transfers_in_progress));
  out += "# HELP tally_projection_position Last global position a read model applied.\n"
         "# TYPE tally_projection_position gauge\n";
  const std::pair<const char*, std::uint64_t> projections[] = {
    {"balances", runtime->balances_position},
    {"history", runtime->history_position},
    {"totals", runtime->totals_position},
    {"transfers", runtime->transfers_position}};
  for (auto& [name, position] : projections)
    add("tally_projection_position{projection=\"%s\"} %llu\n", name,
        static_cast<unsigned long long>(position));
  out += "# HELP tally_projection_lag_events Committed events a read model has not applied yet.\n"
         "# TYPE tally_projection_lag_events gauge\n";
  for (auto& [name, position] : projections)
    add("tally_projection_lag_events{projection=\"%s\"} %llu\n", name,
        static_cast<unsigned long long>(store.head > position ? store.head - position : 0));
  return out;
}

}  // namespace tally::daemon
