// The tally CLI against a real tallyd, then `tally verify` / `tally inspect` on the
// daemon's data directory.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/integration/daemon_process.hpp"

using namespace tally::testing;
using json = nlohmann::json;

namespace {

run_result cli(const daemon_process& daemon, std::vector<std::string> args) {
  args.insert(args.begin(), {TALLY_CLI_PATH, "--url", daemon.url()});
  return run_program(args);
}

std::size_t count_lines(const std::string& text) {
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

}  // namespace

TEST(tally_cli, drives_the_daemon_and_verifies_its_data_directory) {
  auto directory = make_temp_directory("tally_cli");
  auto data = directory + "/data";
  daemon_process daemon;
  ASSERT_TRUE(daemon.start(base_flags(data), directory + "/tallyd.log")) << daemon.log();

  auto opened = cli(daemon, {"open", "carol", "--command-id", "open-carol"});
  EXPECT_EQ(opened.exit_code, 0) << opened.output;
  EXPECT_NE(opened.output.find("accepted: open_account carol"), std::string::npos) << opened.output;
  EXPECT_EQ(cli(daemon, {"deposit", "carol", "2500", "--command-id", "d1"}).exit_code, 0);
  auto replayed = cli(daemon, {"deposit", "carol", "2500", "--command-id", "d1"});
  EXPECT_EQ(replayed.exit_code, 0);
  EXPECT_NE(replayed.output.find("(replayed)"), std::string::npos) << replayed.output;
  auto withdrawn = cli(daemon, {"--json", "withdraw", "carol", "500"});
  ASSERT_EQ(withdrawn.exit_code, 0) << withdrawn.output;
  auto reply = json::parse(withdrawn.output);
  EXPECT_EQ(reply["outcome"], "accepted");
  auto position = reply["position"].get<std::uint64_t>();
  EXPECT_EQ(position, 3u);

  auto rejected = cli(daemon, {"withdraw", "carol", "999999"});
  EXPECT_EQ(rejected.exit_code, 1);
  EXPECT_NE(rejected.output.find("insufficient_funds"), std::string::npos) << rejected.output;
  EXPECT_EQ(cli(daemon, {"deposit", "carol", "12.5"}).exit_code, 2);
  EXPECT_EQ(cli(daemon, {"balance", "nobody"}).exit_code, 3);
  EXPECT_EQ(cli(daemon, {"frobnicate"}).exit_code, 2);

  auto balance = cli(daemon, {"--json", "balance", "carol", "--min-position", std::to_string(position)});
  ASSERT_EQ(balance.exit_code, 0) << balance.output;
  EXPECT_EQ(json::parse(balance.output)["balance"], 2000);
  auto human = cli(daemon, {"balance", "carol", "--min-position", std::to_string(position)});
  EXPECT_NE(human.output.find("carol 20.00 (open)"), std::string::npos) << human.output;
  auto events = cli(daemon, {"events", "carol"});
  EXPECT_EQ(events.exit_code, 0);
  EXPECT_NE(events.output.find("money_withdrawn"), std::string::npos) << events.output;
  auto state = cli(daemon, {"--json", "state", "carol", "--version", "2"});
  ASSERT_EQ(state.exit_code, 0) << state.output;
  EXPECT_EQ(json::parse(state.output)["balance"], 2500);
  EXPECT_EQ(cli(daemon, {"state", "carol"}).exit_code, 2);
  auto tail = cli(daemon, {"--json", "tail", "--count", "3"});
  ASSERT_EQ(tail.exit_code, 0) << tail.output;
  EXPECT_EQ(count_lines(tail.output), 3u);
  EXPECT_EQ(cli(daemon, {"totals"}).exit_code, 0);
  EXPECT_EQ(cli(daemon, {"health"}).exit_code, 0);
  EXPECT_EQ(daemon.stop(), 0) << daemon.log();
  EXPECT_EQ(cli(daemon, {"health"}).exit_code, 5);

  // Offline: verify and inspect the data directory the daemon left.
  auto verified = run_program({TALLY_CLI_PATH, "verify", data});
  EXPECT_EQ(verified.exit_code, 0) << verified.output;
  EXPECT_NE(verified.output.find("events: 3"), std::string::npos) << verified.output;
  auto inspected = run_program({TALLY_CLI_PATH, "inspect", data});
  EXPECT_EQ(inspected.exit_code, 0) << inspected.output;
  EXPECT_EQ(count_lines(inspected.output), 3u) << inspected.output;
  auto first = json::parse(inspected.output.substr(0, inspected.output.find('\n')));
  EXPECT_EQ(first["type"], "account_opened");
  EXPECT_EQ(first["stream_id"], "carol");

  // Damage a byte in the middle of the first record: verify reports it and fails.
  auto segment = data + "/segment-00000000000000000001.log";
  {
    std::fstream file{segment, std::ios::in | std::ios::out | std::ios::binary};
    file.seekp(60);
    file.put('\x7f');
  }
  auto damaged = run_program({TALLY_CLI_PATH, "verify", data});
  EXPECT_EQ(damaged.exit_code, 1) << damaged.output;
  EXPECT_NE(damaged.output.find("error"), std::string::npos) << damaged.output;
  EXPECT_EQ(run_program({TALLY_CLI_PATH, "verify", directory + "/missing"}).exit_code, 2);

  // tallyd refuses to start on that corruption: exit 1, file and offset in the log.
  daemon_process refused;
  EXPECT_FALSE(refused.start(base_flags(data), directory + "/refused.log"));
  EXPECT_EQ(refused.wait_exit(std::chrono::seconds{10}), 1) << refused.log();
  EXPECT_NE(refused.log().find("journal refused"), std::string::npos) << refused.log();
  EXPECT_NE(refused.log().find("segment-00000000000000000001.log"), std::string::npos) << refused.log();
}

TEST(tally_cli, moves_money_with_transfer_and_reads_it_back_with_transfer_status) {
  auto directory = make_temp_directory("tally_cli_transfer");
  daemon_process daemon;
  ASSERT_TRUE(daemon.start(base_flags(directory + "/data"), directory + "/tallyd.log")) << daemon.log();
  ASSERT_EQ(cli(daemon, {"open", "dave", "--command-id", "open-dave"}).exit_code, 0);
  ASSERT_EQ(cli(daemon, {"open", "erin", "--command-id", "open-erin"}).exit_code, 0);
  ASSERT_EQ(cli(daemon, {"deposit", "dave", "1000", "--command-id", "fund-dave"}).exit_code, 0);

  auto moved = cli(daemon, {"transfer", "dave", "erin", "250", "--transfer-id", "rent-1"});
  EXPECT_EQ(moved.exit_code, 0) << moved.output;
  EXPECT_NE(moved.output.find("completed: transfer rent-1 dave -> erin 2.50"), std::string::npos)
    << moved.output;
  auto replayed = cli(daemon, {"transfer", "dave", "erin", "250", "--transfer-id", "rent-1"});
  EXPECT_EQ(replayed.exit_code, 0) << replayed.output;
  EXPECT_NE(replayed.output.find("(replayed)"), std::string::npos) << replayed.output;
  auto changed = cli(daemon, {"transfer", "dave", "erin", "251", "--transfer-id", "rent-1"});
  EXPECT_EQ(changed.exit_code, 1) << changed.output;
  EXPECT_NE(changed.output.find("transfer_already_exists"), std::string::npos) << changed.output;

  // Without --transfer-id a random one is used; --json prints the daemon's body.
  auto as_json = cli(daemon, {"--json", "transfer", "erin", "dave", "50"});
  ASSERT_EQ(as_json.exit_code, 0) << as_json.output;
  auto reply = json::parse(as_json.output);
  EXPECT_EQ(reply["outcome"], "completed");
  EXPECT_EQ(reply["transfer_id"].get<std::string>().size(), 36u);
  auto position = reply["position"].get<std::uint64_t>();

  // A transfer that fails moves nothing and exits 1, like a refused command.
  auto failed = cli(daemon, {"transfer", "dave", "erin", "999999", "--transfer-id", "too-much"});
  EXPECT_EQ(failed.exit_code, 1) << failed.output;
  EXPECT_NE(failed.output.find("failed: transfer too-much"), std::string::npos) << failed.output;
  EXPECT_NE(failed.output.find("reason=insufficient_funds"), std::string::npos) << failed.output;
  auto failed_json = cli(daemon, {"--json", "transfer", "dave", "erin", "999999", "--transfer-id",
                                  "too-much"});
  EXPECT_EQ(failed_json.exit_code, 1) << failed_json.output;
  EXPECT_EQ(json::parse(failed_json.output)["reason"], "insufficient_funds");

  // Refusals and bad input.
  EXPECT_EQ(cli(daemon, {"transfer", "dave", "dave", "5"}).exit_code, 1);
  EXPECT_EQ(cli(daemon, {"transfer", "dave", "nobody", "5"}).exit_code, 1);
  EXPECT_EQ(cli(daemon, {"transfer", "dave", "erin", "2.5"}).exit_code, 2);
  EXPECT_EQ(cli(daemon, {"transfer", "dave", "erin", "5", "--transfer-id", "a:b"}).exit_code, 2);
  EXPECT_EQ(cli(daemon, {"transfer", "dave", "erin"}).exit_code, 2);

  auto status = cli(daemon, {"transfer-status", "rent-1", "--min-position", std::to_string(position)});
  EXPECT_EQ(status.exit_code, 0) << status.output;
  EXPECT_NE(status.output.find("rent-1 completed: dave -> erin 2.50 debited credited settled"),
            std::string::npos)
    << status.output;
  auto status_json = cli(daemon, {"--json", "transfer-status", "too-much"});
  ASSERT_EQ(status_json.exit_code, 0) << status_json.output;
  EXPECT_EQ(json::parse(status_json.output)["status"], "failed");
  EXPECT_EQ(cli(daemon, {"transfer-status", "never"}).exit_code, 3);
  EXPECT_EQ(cli(daemon, {"transfer-status", ".."}).exit_code, 2);

  auto balance = cli(daemon, {"--json", "balance", "erin", "--min-position", std::to_string(position)});
  EXPECT_EQ(json::parse(balance.output)["balance"], 200);
  auto totals = cli(daemon, {"totals"});
  EXPECT_EQ(totals.exit_code, 0);
  EXPECT_NE(totals.output.find("total 10.00 in_flight 0.00"), std::string::npos) << totals.output;
  EXPECT_EQ(daemon.stop(), 0) << daemon.log();
}
