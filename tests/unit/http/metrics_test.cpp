#include "app/tallyd/metrics.hpp"

#include <gtest/gtest.h>

#include "app/tallyd/bank_gateway.hpp"

using namespace tally;
using namespace tally::daemon;

TEST(daemon_metrics, renders_prometheus_text) {
  daemon_metrics metrics;
  metrics.command_finished(error_code::none, std::chrono::microseconds{300});
  metrics.command_finished(error_code::insufficient_funds, std::chrono::milliseconds{2});
  metrics.http_response(200);
  metrics.http_response(299);
  metrics.open_connections = 3;
  runtime_metrics runtime;
  runtime.store.head = 10;
  runtime.balances_position = 7;
  runtime.accounts.resident = 4;
  auto text = metrics.render(&runtime);
  for (const char* line : {
         "tally_commands_total{outcome=\"accepted\"} 1\n",
         "tally_commands_total{outcome=\"insufficient_funds\"} 1\n",
         "tally_command_latency_seconds_bucket{le=\"0.00025\"} 0\n",
         "tally_command_latency_seconds_bucket{le=\"0.0005\"} 1\n",
         "tally_command_latency_seconds_bucket{le=\"0.0025\"} 2\n",
         "tally_command_latency_seconds_bucket{le=\"+Inf\"} 2\n",
         "tally_command_latency_seconds_count 2\n",
         "tally_http_responses_total{status=\"200\"} 1\n",
         "tally_http_responses_total{status=\"0\"} 1\n",
         "tally_http_open_connections 3\n",
         "tally_resident_accounts 4\n",
         "tally_projection_lag_events{projection=\"balances\"} 3\n",
         "# TYPE tally_command_latency_seconds histogram\n",
       })
    EXPECT_NE(text.find(line), std::string::npos) << line;
  // Without the runtime's answer only the daemon's own metrics are shown.
  EXPECT_EQ(metrics.render(nullptr).find("tally_money_in_flight"), std::string::npos);
  EXPECT_EQ(metrics.render(nullptr).find("tally_store_head_position"), std::string::npos);
}

TEST(daemon_metrics, counts_transfers_by_outcome_and_shows_the_money_in_flight) {
  daemon_metrics metrics;
  metrics.transfer_finished(error_code::none, /*completed=*/true, std::chrono::milliseconds{3});
  metrics.transfer_finished(error_code::none, /*completed=*/true, std::chrono::milliseconds{3});
  metrics.transfer_finished(error_code::none, /*completed=*/false, std::chrono::milliseconds{3});
  metrics.transfer_finished(error_code::transfer_already_exists, false, std::chrono::microseconds{50});
  metrics.transfer_finished(error_code::store_unavailable, false, std::chrono::seconds{20});
  runtime_metrics runtime;
  runtime.store.head = 30;
  runtime.money_in_flight = 250;
  runtime.transfers_in_progress = 2;
  runtime.transfers_position = 28;
  auto text = metrics.render(&runtime);
  for (const char* line : {
         "# TYPE tally_transfers_total counter\n",
         "tally_transfers_total{outcome=\"completed\"} 2\n",
         "tally_transfers_total{outcome=\"failed\"} 1\n",
         "tally_transfers_total{outcome=\"transfer_already_exists\"} 1\n",
         "tally_transfers_total{outcome=\"store_unavailable\"} 1\n",
         "tally_transfers_total{outcome=\"insufficient_funds\"} 0\n",
         "# TYPE tally_transfer_latency_seconds histogram\n",
         "tally_transfer_latency_seconds_bucket{le=\"0.0001\"} 1\n",
         "tally_transfer_latency_seconds_bucket{le=\"0.005\"} 4\n",
         "tally_transfer_latency_seconds_bucket{le=\"10\"} 4\n",
         "tally_transfer_latency_seconds_bucket{le=\"+Inf\"} 5\n",
         "tally_transfer_latency_seconds_count 5\n",
         "tally_money_in_flight 250\n",
         "tally_transfers_in_progress 2\n",
         "tally_projection_position{projection=\"transfers\"} 28\n",
         "tally_projection_lag_events{projection=\"transfers\"} 2\n",
       })
    EXPECT_NE(text.find(line), std::string::npos) << line;
  // Transfers are not commands: the command counters and latencies stay at zero.
  EXPECT_NE(text.find("tally_commands_total{outcome=\"accepted\"} 0\n"), std::string::npos);
  EXPECT_NE(text.find("tally_command_latency_seconds_count 0\n"), std::string::npos);
}
