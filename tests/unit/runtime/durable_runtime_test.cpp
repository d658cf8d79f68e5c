// The runtime on the durable file journal: acknowledged commands survive a restart,
// a retried command id returns its original outcome after a restart and appends
// nothing, and state rebuilt from snapshots equals the state before the restart.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "tally/file_journal.hpp"
#include "tally/runtime.hpp"

using namespace tally;
using namespace tally::bank;

namespace {

class temporary_directory {
public:
  temporary_directory() {
    auto base = std::filesystem::temp_directory_path() / "tally-durable-XXXXXX";
    std::string pattern = base.string();
    path_ = ::mkdtemp(pattern.data());
  }
  ~temporary_directory() { std::filesystem::remove_all(path_); }
  std::string data() const { return (std::filesystem::path{path_} / "data").string(); }

private:
  std::string path_;
};

std::unique_ptr<runtime> start_durable(const std::string& directory,
                                       std::uint64_t snapshot_interval_events = 0) {
  recovery_report report;
  auto opened = open_file_journal(posix_file_system(), file_journal_options{directory}, &report);
  EXPECT_TRUE(opened) << opened.error().to_string();
  if (!opened)
    return nullptr;
  runtime_config config;
  config.events = std::shared_ptr<journal>{std::move(*opened)};
  config.accounts.aggregate.snapshot_interval_events = snapshot_interval_events;
  auto started = runtime::start_private(std::move(config), 2);
  EXPECT_TRUE(started) << started.error().to_string();
  return started ? std::move(*started) : nullptr;
}

}  // namespace

TEST(durable_runtime, acknowledged_commands_and_snapshots_survive_a_restart) {
  temporary_directory directory;
  std::map<std::string, money> expected;
  std::uint64_t head = 0;
  {
    auto bank = start_durable(directory.data(), 3);
    ASSERT_TRUE(bank);
    for (int account = 0; account < 5; ++account) {
      auto id = "acct-" + std::to_string(account);
      ASSERT_TRUE(bank->execute(open_account{id})->accepted());
      for (int i = 1; i <= 4 + account; ++i) {
        auto reply = bank->execute(deposit_money{id, i * 100});
        ASSERT_TRUE(reply && reply->accepted());
        expected[id] += i * 100;
      }
      ASSERT_TRUE(bank->execute(withdraw_money{id, 50})->accepted());
      expected[id] -= 50;
    }
    head = bank->store_health()->head;
    EXPECT_TRUE(bank->shutdown().is_ok());
  }
  auto bank = start_durable(directory.data(), 3);
  ASSERT_TRUE(bank);
  EXPECT_EQ(bank->store_health()->head, head);
  for (const auto& [id, balance] : expected) {
    auto write_side = bank->account_state(id);
    ASSERT_TRUE(write_side) << write_side.error().to_string();
    EXPECT_EQ(write_side->state.balance, balance) << id;
    auto replayed = bank->account_state_at_version(id, write_side->version);
    ASSERT_TRUE(replayed);
    EXPECT_EQ(replayed->state.balance, balance) << id;
    auto view = bank->balance(id, head);
    ASSERT_TRUE(view);
    EXPECT_EQ(view->balance, balance) << id;
  }
  // The aggregates kept working from their snapshots.
  EXPECT_TRUE(bank->execute(deposit_money{"acct-0", 1})->accepted());
  EXPECT_EQ(bank->account_state("acct-0")->state.balance, expected["acct-0"] + 1);
}

TEST(durable_runtime, a_retried_command_id_after_a_restart_returns_the_original_outcome) {
  temporary_directory directory;
  command_options options;
  options.id = command_id::random();
  command_reply original;
  {
    auto bank = start_durable(directory.data());
    ASSERT_TRUE(bank);
    bank->execute(open_account{"a"});
    auto reply = bank->execute(deposit_money{"a", 700}, options);
    ASSERT_TRUE(reply && reply->accepted());
    original = *reply;
    EXPECT_TRUE(bank->shutdown().is_ok());
  }
  auto bank = start_durable(directory.data());
  ASSERT_TRUE(bank);
  auto head = bank->store_health()->head;
  auto retry = bank->execute(deposit_money{"a", 700}, options);
  ASSERT_TRUE(retry) << retry.error().to_string();
  EXPECT_TRUE(retry->accepted());
  EXPECT_TRUE(retry->duplicate);
  EXPECT_EQ(retry->position, original.position);
  EXPECT_EQ(retry->stream_version, original.stream_version);
  EXPECT_EQ(bank->store_health()->head, head) << "a retry appends nothing";
  EXPECT_EQ(bank->account_state("a")->state.balance, 700);
  auto different = bank->execute(deposit_money{"a", 701}, options);
  ASSERT_TRUE(different);
  EXPECT_EQ(different->outcome, error_code::command_id_reused_with_different_payload);
  // The aggregate reloaded after the store refused its optimistic append.
  EXPECT_TRUE(bank->execute(deposit_money{"a", 1})->accepted());
  EXPECT_EQ(bank->account_state("a")->state.balance, 701);
}

// Regression (found by tests/crash/kill_under_load): a client whose reply was lost in a
// crash retries after the restart. The restarted aggregate no longer remembers the id,
// and its rules now refuse the command (the open: the account exists; the withdrawal:
// the money is gone, because the command was applied). The retry must still return
// the original outcome, not a rejection that tells the client nothing happened.
TEST(durable_runtime, a_retry_after_a_restart_that_the_rules_would_now_refuse_returns_the_original_outcome) {
  temporary_directory directory;
  command_options open_options;
  open_options.id = command_id::random();
  command_options withdraw_options;
  withdraw_options.id = command_id::random();
  command_reply opened;
  command_reply withdrawn;
  {
    auto bank = start_durable(directory.data());
    ASSERT_TRUE(bank);
    auto open_reply = bank->execute(open_account{"a"}, open_options);
    ASSERT_TRUE(open_reply && open_reply->accepted());
    opened = *open_reply;
    ASSERT_TRUE(bank->execute(deposit_money{"a", 500})->accepted());
    auto withdraw_reply = bank->execute(withdraw_money{"a", 500}, withdraw_options);
    ASSERT_TRUE(withdraw_reply && withdraw_reply->accepted());
    withdrawn = *withdraw_reply;
    EXPECT_TRUE(bank->shutdown().is_ok());
  }
  auto bank = start_durable(directory.data());
  ASSERT_TRUE(bank);
  auto head = bank->store_health()->head;
  auto withdraw_retry = bank->execute(withdraw_money{"a", 500}, withdraw_options);
  ASSERT_TRUE(withdraw_retry) << withdraw_retry.error().to_string();
  EXPECT_TRUE(withdraw_retry->accepted()) << "got " << to_string(withdraw_retry->outcome);
  EXPECT_TRUE(withdraw_retry->duplicate);
  EXPECT_EQ(withdraw_retry->position, withdrawn.position);
  EXPECT_EQ(withdraw_retry->stream_version, withdrawn.stream_version);
  auto open_retry = bank->execute(open_account{"a"}, open_options);
  ASSERT_TRUE(open_retry) << open_retry.error().to_string();
  EXPECT_TRUE(open_retry->accepted()) << "got " << to_string(open_retry->outcome);
  EXPECT_TRUE(open_retry->duplicate);
  EXPECT_EQ(open_retry->position, opened.position);
  EXPECT_EQ(bank->store_health()->head, head) << "a retry appends nothing";
  // A new command the rules refuse is still refused.
  auto overdraft = bank->execute(withdraw_money{"a", 1});
  ASSERT_TRUE(overdraft);
  EXPECT_EQ(overdraft->outcome, error_code::insufficient_funds);
  auto second_open = bank->execute(open_account{"a"});
  ASSERT_TRUE(second_open);
  EXPECT_EQ(second_open->outcome, error_code::account_already_exists);
  EXPECT_EQ(bank->account_state("a")->state.balance, 0);
}
