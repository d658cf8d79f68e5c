// End to end: the built tally-load binary runs a small standard workload against the
// embedded runtime and writes the JSON report and both plots; with a transfer share;
// the bank mode on a durable journal; a run against a data directory that is in the
// way is refused; and the same small runs (with transfers, and the bank mode) against
// a tallyd over HTTP. TALLY_LOAD_BINARY and TALLYD_BINARY are the binaries' paths (set by CMake).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

namespace {

struct command_result {
  int exit_status = -1;
  std::string output;
};

command_result run_command(const std::string& arguments) {
  const std::string command = std::string{TALLY_LOAD_BINARY} + " " + arguments + " 2>&1";
  command_result out;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr)
    return out;
  char buffer[4096];
  std::size_t read = 0;
  while ((read = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0)
    out.output.append(buffer, read);
  const int status = ::pclose(pipe);
  out.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

class cli_end_to_end_test : public ::testing::Test {
protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "/tally_load_cli_XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    directory_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(directory_); }

  std::string directory_;
};

TEST_F(cli_end_to_end_test, embedded_run_writes_the_report_and_plots_and_passes_the_audit) {
  const std::string json_path = directory_ + "/report.json";
  const std::string plots = directory_ + "/plots";
  const auto result = run_command("--target embedded --accounts 100 --clients 4 --commands 2000 "
                                  "--no-progress --json " + json_path + " --plots " + plots);
  ASSERT_EQ(result.exit_status, 0) << result.output;
  EXPECT_NE(result.output.find("invariants: ok"), std::string::npos) << result.output;

  std::ifstream file{json_path};
  ASSERT_TRUE(file.good());
  const auto report = nlohmann::json::parse(file);
  for (const char* key : {"config", "machine", "throughput_cmd_per_s", "latency_us", "accepted",
                          "rejected", "rejected_by_reason", "throughput_per_second",
                          "invariants_ok", "invariant_failures"})
    EXPECT_TRUE(report.contains(key)) << key;
  for (const char* key : {"p50", "p99", "p999", "max"})
    EXPECT_TRUE(report["latency_us"].contains(key)) << key;
  EXPECT_EQ(report["invariants_ok"], true);
  EXPECT_TRUE(report["invariant_failures"].empty());
  EXPECT_EQ(report["completed"], 2000);
  EXPECT_EQ(report["accepted"].get<std::uint64_t>() + report["rejected"].get<std::uint64_t>(),
            2000u);
  EXPECT_GT(report["throughput_cmd_per_s"].get<double>(), 0.0);
  EXPECT_EQ(report["config"]["journal"], "memory");

  for (const char* name : {"latency_percentiles.svg", "throughput.svg"}) {
    const auto path = std::filesystem::path{plots} / name;
    ASSERT_TRUE(std::filesystem::exists(path)) << path;
    std::ifstream svg{path};
    std::string head(5, '\0');
    svg.read(head.data(), 5);
    EXPECT_EQ(head, "<?xml") << path;
  }
}

TEST_F(cli_end_to_end_test, embedded_run_with_a_transfer_share_passes_the_audit) {
  const std::string json_path = directory_ + "/transfers.json";
  const auto result = run_command("--target embedded --accounts 50 --clients 4 --commands 3000 "
                                  "--mix transfer=20 --no-progress --json " + json_path);
  ASSERT_EQ(result.exit_status, 0) << result.output;
  EXPECT_NE(result.output.find("invariants: ok"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("mix=deposit=36,withdraw=36,balance=8,transfer=20"),
            std::string::npos)
    << result.output;
  EXPECT_NE(result.output.find("transfers: completed "), std::string::npos) << result.output;
  std::ifstream file{json_path};
  const auto report = nlohmann::json::parse(file);
  EXPECT_EQ(report["invariants_ok"], true);
  EXPECT_EQ(report["config"]["mix"], "deposit=36,withdraw=36,balance=8,transfer=20");
  const auto completed = report["transfers"]["completed"].get<std::uint64_t>();
  const auto failed = report["transfers"]["failed"].get<std::uint64_t>();
  EXPECT_GT(completed, 0u);
  EXPECT_EQ(report["transfers"]["in_doubt"], 0);
  EXPECT_EQ(report["audit"]["run_events"]["transfers_completed"], completed);
  EXPECT_EQ(report["audit"]["run_events"]["transfers_failed"], failed);
  EXPECT_EQ(report["audit"]["money_in_flight"], 0);
  EXPECT_EQ(report["audit"]["transfers_in_progress"], 0);
  EXPECT_EQ(report["latency_us_by_operation"]["transfer"]["count"], completed + failed);
}

TEST_F(cli_end_to_end_test, bank_mode_with_a_durable_journal_writes_its_report) {
  const std::string json_path = directory_ + "/bank.json";
  const auto result = run_command("bank --target embedded --data-dir " + directory_ +
                                  "/journal --transfers 1000 --no-progress --json " + json_path);
  ASSERT_EQ(result.exit_status, 0) << result.output;
  EXPECT_NE(result.output.find("violations: none"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("at rest: ok"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("bank: ok"), std::string::npos) << result.output;
  std::ifstream file{json_path};
  const auto report = nlohmann::json::parse(file);
  EXPECT_EQ(report["mode"], "bank");
  EXPECT_EQ(report["ok"], true);
  EXPECT_EQ(report["config"]["accounts"], 8);
  EXPECT_EQ(report["config"]["total"], 100);
  EXPECT_EQ(report["config"]["clients"], 16);
  EXPECT_EQ(report["transfers"]["sent"], 1000);
  EXPECT_EQ(report["violations"]["count"], 0);
  for (const char* kind : {"wrong_total", "negative_balance", "unknown_account", "stale_read"})
    EXPECT_EQ(report["violations"][kind]["count"], 0) << kind;
  EXPECT_GT(report["reads"]["checked"].get<std::uint64_t>(), 0u);
  EXPECT_TRUE(report["invariant_failures"].empty()) << report["invariant_failures"];
}

TEST_F(cli_end_to_end_test, bank_mode_usage_errors_exit_with_status_2) {
  const auto result = run_command("bank --target embedded --read-percent 100");
  EXPECT_EQ(result.exit_status, 2) << result.output;
  EXPECT_NE(result.output.find("--read-percent"), std::string::npos) << result.output;
}

TEST_F(cli_end_to_end_test, a_non_empty_data_directory_is_refused_without_reuse) {
  std::ofstream{directory_ + "/something"} << "x";
  const auto result = run_command("--target embedded --accounts 10 --clients 2 --commands 100 "
                                  "--data-dir " + directory_);
  EXPECT_EQ(result.exit_status, 2) << result.output;
  EXPECT_NE(result.output.find("--reuse-data-dir"), std::string::npos) << result.output;
}

// A tallyd on a free loopback port with the memory journal, stopped at destruction.
class daemon_process {
public:
  daemon_process() {
    int pipe_ends[2];
    if (::pipe(pipe_ends) != 0)
      return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(pipe_ends[1], 1);
      ::close(pipe_ends[0]);
      ::close(pipe_ends[1]);
      ::execl(TALLYD_BINARY, TALLYD_BINARY, "--listen", "127.0.0.1:0", "--journal", "memory",
              "--allow-root", "--log-level", "off", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(pipe_ends[1]);
    // tallyd prints "listening on HOST:PORT" once it accepts connections.
    FILE* output = ::fdopen(pipe_ends[0], "r");
    char line[256];
    while (output != nullptr && std::fgets(line, sizeof(line), output) != nullptr) {
      const std::string text = line;
      const auto at = text.find("listening on ");
      if (at != std::string::npos) {
        address_ = text.substr(at + 13);
        while (!address_.empty() && (address_.back() == '\n' || address_.back() == '\r'))
          address_.pop_back();
        break;
      }
    }
    output_ = output;
  }
  ~daemon_process() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
    if (output_ != nullptr)
      std::fclose(output_);
  }
  daemon_process(const daemon_process&) = delete;
  daemon_process& operator=(const daemon_process&) = delete;

  /// "127.0.0.1:PORT", empty when the daemon did not start.
  const std::string& address() const { return address_; }

private:
  pid_t pid_ = -1;
  FILE* output_ = nullptr;
  std::string address_;
};

TEST_F(cli_end_to_end_test, http_run_against_tallyd_passes_the_audit_twice) {
  daemon_process daemon;
  ASSERT_FALSE(daemon.address().empty()) << "tallyd did not start";
  const std::string json_path = directory_ + "/http.json";
  const std::string arguments = "--target http://" + daemon.address() +
                                " --accounts 50 --clients 4 --commands 1000 --no-progress";
  const auto first = run_command(arguments + " --json " + json_path);
  ASSERT_EQ(first.exit_status, 0) << first.output;
  EXPECT_NE(first.output.find("invariants: ok"), std::string::npos) << first.output;
  std::ifstream file{json_path};
  const auto report = nlohmann::json::parse(file);
  EXPECT_EQ(report["invariants_ok"], true);
  EXPECT_EQ(report["completed"], 1000);
  EXPECT_EQ(report["config"]["journal"], "remote");
  // The accounts exist and hold balances now: the audit starts from them.
  const auto second = run_command(arguments);
  ASSERT_EQ(second.exit_status, 0) << second.output;
  EXPECT_NE(second.output.find("invariants: ok"), std::string::npos) << second.output;
}

TEST_F(cli_end_to_end_test, http_run_with_transfers_and_the_bank_mode_against_tallyd) {
  daemon_process daemon;
  ASSERT_FALSE(daemon.address().empty()) << "tallyd did not start";
  const auto mixed = run_command("--target http://" + daemon.address() +
                                 " --accounts 50 --clients 4 --commands 1000 --mix transfer=20 "
                                 "--no-progress");
  ASSERT_EQ(mixed.exit_status, 0) << mixed.output;
  EXPECT_NE(mixed.output.find("invariants: ok"), std::string::npos) << mixed.output;
  EXPECT_NE(mixed.output.find("transfers: completed "), std::string::npos) << mixed.output;
  // The bank's accounts are fresh ones next to the workload's; the expected total
  // includes the money the daemon held already.
  const auto bank = run_command("bank --target http://" + daemon.address() +
                                " --clients 4 --transfers 300 --no-progress");
  ASSERT_EQ(bank.exit_status, 0) << bank.output;
  EXPECT_NE(bank.output.find("violations: none"), std::string::npos) << bank.output;
  EXPECT_NE(bank.output.find("bank: ok"), std::string::npos) << bank.output;
}

TEST_F(cli_end_to_end_test, an_unreachable_http_target_exits_non_zero) {
  // Port 1 on loopback: nothing listens there without privileges.
  const auto result = run_command("--target http://127.0.0.1:1 --accounts 10 --clients 2 "
                                  "--commands 100 --no-progress");
  EXPECT_EQ(result.exit_status, 1) << result.output;
  EXPECT_NE(result.output.find("unreachable"), std::string::npos) << result.output;
}

}  // namespace
