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
  EXPECT_EQ(metrics.render(nullptr).find("tally_store_head_position"), std::string::npos);
}
