// tallyd started on a journal that holds an unfinished transfer (a crash between the
// saga's steps): it resumes the transfer by itself, and its log lines about that go to
// its structured log on stderr, never to stdout, whose first line tools wait for
// ("listening on HOST:PORT"). Found by the kill-under-load driver (tests/crash/): the
// transfer manager logged through spdlog's default logger, which writes to stdout, so
// after a kill a restart could print "resumed 1 unfinished transfers" before the
// listening line, and the tools that start tallyd gave up on it.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "app/http_common/http_client.hpp"
#include "daemon_process.hpp"
#include "tally/file_journal.hpp"
#include "tally/file_system.hpp"
#include "tally/runtime.hpp"

namespace tally::testing {
namespace {

using namespace std::chrono_literals;

/// Writes into `data_dir` a journal in which a opened with 100, b opened, and transfer
/// t1 (a -> b, 30) was requested and debited from a, and nothing after that: money in
/// flight, as a kill right after the debit leaves it.
void write_journal_cut_after_a_debit(const std::string& data_dir) {
  runtime_config config;
  config.events = make_memory_journal();
  auto journal_of_run = config.events;
  auto started = runtime::start_private(std::move(config), 2);
  ASSERT_TRUE(started) << started.error().to_string();
  auto& bank = **started;
  ASSERT_TRUE(bank.execute(bank::open_account{"a"}));
  ASSERT_TRUE(bank.execute(bank::deposit_money{"a", 100}));
  ASSERT_TRUE(bank.execute(bank::open_account{"b"}));
  auto transferred = bank.transfer(bank::transfer_money{"t1", "a", "b", 30});
  ASSERT_TRUE(transferred && transferred->status == bank::transfer_status::completed);
  ASSERT_FALSE(bank.shutdown());
  auto log = journal_of_run->read_all(1, 1000);
  ASSERT_TRUE(log);
  std::vector<recorded_event> prefix;
  for (const auto& event : *log) {
    prefix.push_back(event);
    if (event.type == "money_debited_for_transfer")
      break;
  }
  ASSERT_EQ(prefix.back().type, "money_debited_for_transfer");
  auto opened = open_file_journal(posix_file_system(), file_journal_options{data_dir});
  ASSERT_TRUE(opened) << opened.error().to_string();
  ASSERT_FALSE((*opened)->append_batch(prefix));
}

std::string read_file(const std::string& path) {
  std::ifstream in{path};
  return {std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
}

TEST(tallyd_resume, an_unfinished_transfer_resumes_at_start_and_is_logged_on_stderr_only) {
  const auto root = make_temp_directory("tallyd_resume");
  const auto data_dir = root + "/data";
  const auto log_path = root + "/tallyd.log";
  ASSERT_NO_FATAL_FAILURE(write_journal_cut_after_a_debit(data_dir));

  // Several starts: the resume races with the listening line, so one start could pass
  // by luck; every start must see "listening on" first.
  for (int start = 0; start < 3; ++start) {
    SCOPED_TRACE("start " + std::to_string(start + 1));
    daemon_process daemon;
    ASSERT_TRUE(daemon.start(base_flags(data_dir), log_path)) << daemon.start_problem() << "\n" << daemon.log();
    http_common::http_client client{daemon.where(), 10s};
    std::string status;
    for (auto deadline = std::chrono::steady_clock::now() + 20s; std::chrono::steady_clock::now() < deadline;) {
      auto response = client.request("GET", "/transfers/t1");
      auto body = nlohmann::json::parse(response.body, nullptr, false);
      status = body.is_object() ? body.value("status", "") : "";
      if (status == "completed")
        break;
      std::this_thread::sleep_for(10ms);
    }
    EXPECT_EQ(status, "completed");
    EXPECT_EQ(daemon.stop(SIGTERM), 0);
  }
  // The first start resumed the transfer and said so in its structured log.
  const auto log = read_file(log_path);
  EXPECT_NE(log.find("level=info transfers resumed count=1"), std::string::npos) << log;
}

}  // namespace
}  // namespace tally::testing
