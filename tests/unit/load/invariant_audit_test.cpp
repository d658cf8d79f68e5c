// The invariant audit on real small runs of the standard workload (memory and durable
// journal, with and without transfers), and against deliberately corrupted views, to
// show that it fails and names the invariant and the first offending account.
#include "app/load-drivers/invariant_audit.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "app/load-drivers/embedded_driver.hpp"
#include "app/tally-load/workload.hpp"
#include "tally/file_journal.hpp"
#include "tally/runtime.hpp"

namespace tally::load {
namespace {

constexpr std::uint64_t test_accounts = 100;

workload_parameters small_workload(std::uint32_t transfer_percent) {
  workload_parameters parameters;
  parameters.accounts = test_accounts;
  parameters.clients = 8;
  parameters.commands = 5000;
  parameters.mix = with_transfer_share(transfer_percent);
  return parameters;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string text;
  for (const auto& line : lines)
    text += line + "\n";
  return text;
}

// The test hook: an audit_source that passes everything through to a real one, except
// for one account, whose view it corrupts the way the test asks.
class corrupting_source final : public audit_source {
public:
  enum class view { read_model, write_side, money_in_flight, transfers_in_progress };

  corrupting_source(audit_source& inner, std::string account, view corrupted, std::int64_t balance)
    : inner_(inner), account_(std::move(account)), corrupted_(corrupted), balance_(balance) {}

  result<std::uint64_t> head_position() override { return inner_.head_position(); }
  result<account_balance> read_model_balance(const std::string& account,
                                             std::uint64_t min_position) override {
    auto real = inner_.read_model_balance(account, min_position);
    if (real && account == account_ && corrupted_ == view::read_model)
      real->balance = balance_;
    return real;
  }
  result<account_balance> write_side_state(const std::string& account) override {
    auto real = inner_.write_side_state(account);
    if (real && account == account_ && corrupted_ == view::write_side)
      real->balance = balance_;
    return real;
  }
  result<std::vector<recorded_event>> stream_events(const std::string& account) override {
    return inner_.stream_events(account);
  }
  result<std::vector<recorded_event>> read_all(std::uint64_t from_position,
                                               std::uint64_t max_count) override {
    return inner_.read_all(from_position, max_count);
  }
  result<totals_view> totals(std::uint64_t min_position) override {
    auto real = inner_.totals(min_position);
    if (real && corrupted_ == view::money_in_flight)
      real->money_in_flight = balance_;
    return real;
  }
  result<transfer_counts> transfers(std::uint64_t min_position) override {
    auto real = inner_.transfers(min_position);
    if (real && corrupted_ == view::transfers_in_progress)
      real->in_progress = static_cast<std::uint64_t>(balance_);
    return real;
  }

private:
  audit_source& inner_;
  std::string account_;
  view corrupted_;
  std::int64_t balance_;
};

class invariant_audit_test : public ::testing::Test {
protected:
  void TearDown() override {
    if (bank_)
      bank_->shutdown();
    bank_.reset();
    if (!directory_.empty())
      std::filesystem::remove_all(directory_);
  }

  // Starts a runtime (durable in a fresh temp directory when asked), opens the
  // accounts, takes the baseline and runs the small workload closed loop.
  void run_workload(bool durable, std::uint32_t transfer_percent = 0) {
    runtime_config config;
    if (durable) {
      std::string pattern = ::testing::TempDir() + "/tally_audit_XXXXXX";
      ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
      directory_ = pattern;
      auto journal = open_file_journal(posix_file_system(), file_journal_options{directory_});
      ASSERT_TRUE(journal) << journal.error().to_string();
      config.events = std::shared_ptr<tally::journal>(std::move(*journal));
      journal_ = config.events;
    }
    auto started = runtime::start_private(std::move(config), 2);
    ASSERT_TRUE(started) << started.error().to_string();
    bank_ = std::move(*started);
    ASSERT_TRUE(open_accounts(*bank_, test_accounts));
    source_.emplace(*bank_);
    expected_.account_names = account_names(test_accounts);
    auto baseline = take_audit_baseline(*source_, expected_.account_names);
    ASSERT_TRUE(baseline) << baseline.error().to_string();
    EXPECT_EQ(baseline->head, test_accounts);  // one account_opened event each
    expected_.baseline = *baseline;
    const auto lists = generate_workload(small_workload(transfer_percent));
    run_ = run_embedded(*bank_, lists, test_accounts);
    ASSERT_EQ(run_.commands, 5000u);
    ASSERT_GT(run_.stats.rejected_total(), 0u);  // the audit must cope with rejections
    if (transfer_percent > 0) {
      // Both ends of a transfer must be exercised: some move money, some fail.
      ASSERT_GT(run_.transfers.completed, 0u);
      ASSERT_GT(run_.transfers.failed, 0u);
    }
    ASSERT_EQ(run_.transfers.in_doubt, 0u);
    expected_.client_tally = run_.client_tally;
    expected_.accepted_writes = run_.accepted_writes;
    expected_.transfers = run_.transfers;
  }

  // Shuts the runtime down and waits until the journal (and its lock) is released.
  void stop_runtime() {
    ASSERT_TRUE(bank_->shutdown().is_ok());
    bank_.reset();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{10};
    while (!journal_.expired() && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds{1});
    ASSERT_TRUE(wait_for_directory_unlocked(directory_, std::chrono::seconds{10}));
  }

  std::unique_ptr<runtime> bank_;
  closed_loop_result run_;
  std::optional<runtime_audit_source> source_;
  audit_expectations expected_;
  std::string directory_;
  std::weak_ptr<journal> journal_;
};

TEST_F(invariant_audit_test, passes_on_a_real_run_with_the_memory_journal) {
  run_workload(false);
  const auto audit = audit_invariants(*source_, expected_);
  EXPECT_TRUE(audit.ok()) << joined(audit.failures);
  EXPECT_EQ(audit.accounts_checked, test_accounts);
  EXPECT_EQ(audit.head, test_accounts + expected_.accepted_writes);
}

TEST_F(invariant_audit_test, passes_on_a_real_run_with_the_durable_journal_and_its_cold_read) {
  run_workload(true);
  const auto audit = audit_invariants(*source_, expected_);
  EXPECT_TRUE(audit.ok()) << joined(audit.failures);
  stop_runtime();
  const auto cold = audit_durable_directory(directory_, expected_, audit);
  EXPECT_TRUE(cold.empty()) << joined(cold);
}

TEST_F(invariant_audit_test, fails_on_a_corrupted_read_model_naming_invariant_1_and_the_account) {
  run_workload(false);
  auto real = source_->read_model_balance("acct-17", 0);
  ASSERT_TRUE(real);
  corrupting_source corrupted{*source_, "acct-17", corrupting_source::view::read_model,
                              real->balance + 1};
  const auto audit = audit_invariants(corrupted, expected_);
  ASSERT_EQ(audit.failures.size(), 1u) << joined(audit.failures);
  EXPECT_TRUE(contains(audit.failures[0], "invariant 1")) << audit.failures[0];
  EXPECT_TRUE(contains(audit.failures[0], "acct-17")) << audit.failures[0];
  EXPECT_TRUE(contains(audit.failures[0], "read model " + std::to_string(real->balance + 1)))
    << audit.failures[0];
}

TEST_F(invariant_audit_test, fails_on_a_negative_write_side_balance_naming_invariant_3) {
  run_workload(false);
  corrupting_source corrupted{*source_, "acct-3", corrupting_source::view::write_side, -5};
  const auto audit = audit_invariants(corrupted, expected_);
  const auto text = joined(audit.failures);
  EXPECT_TRUE(contains(text, "invariant 1 (balances agree): first offending account acct-3"))
    << text;
  EXPECT_TRUE(contains(text, "invariant 3 (no balance below zero): first offending account acct-3"))
    << text;
}

TEST_F(invariant_audit_test, fails_when_the_harness_counted_other_writes_than_the_store_holds) {
  run_workload(false);
  expected_.accepted_writes += 1;
  const auto audit = audit_invariants(*source_, expected_);
  ASSERT_EQ(audit.failures.size(), 1u) << joined(audit.failures);
  EXPECT_TRUE(contains(audit.failures[0], "invariant 2 (events == accepted commands)"))
    << audit.failures[0];
}

TEST_F(invariant_audit_test, passes_on_a_real_run_with_transfers_and_counts_their_events) {
  run_workload(false, 20);
  const auto audit = audit_invariants(*source_, expected_);
  EXPECT_TRUE(audit.ok()) << joined(audit.failures);
  EXPECT_EQ(audit.run_events.deposits_and_withdrawals, expected_.accepted_writes);
  EXPECT_EQ(audit.run_events.completed, run_.transfers.completed);
  EXPECT_EQ(audit.run_events.failed, run_.transfers.failed);
  EXPECT_EQ(audit.run_events.requested, run_.transfers.answered());
  EXPECT_EQ(audit.run_events.credits, run_.transfers.completed);
  EXPECT_EQ(audit.money_in_flight, 0);
  EXPECT_EQ(audit.transfers_in_progress, 0u);
  // Every transfer is in the head: requested + completed or failed, plus the steps.
  EXPECT_EQ(audit.head, test_accounts + audit.run_events.total());
}

TEST_F(invariant_audit_test, passes_with_transfers_on_the_durable_journal_and_its_cold_read) {
  run_workload(true, 20);
  const auto audit = audit_invariants(*source_, expected_);
  EXPECT_TRUE(audit.ok()) << joined(audit.failures);
  stop_runtime();
  const auto cold = audit_durable_directory(directory_, expected_, audit);
  EXPECT_TRUE(cold.empty()) << joined(cold);
}

TEST_F(invariant_audit_test, fails_when_the_harness_missed_a_completed_transfer) {
  run_workload(false, 20);
  // The harness "forgets" one completed transfer: its count and the money it moved.
  expected_.transfers.completed -= 1;
  const auto audit = audit_invariants(*source_, expected_);
  const auto text = joined(audit.failures);
  EXPECT_TRUE(contains(text, "invariant 2 (events == accepted commands): the log holds")) << text;
}

TEST_F(invariant_audit_test, fails_on_a_transfer_left_in_progress_naming_invariant_5) {
  run_workload(false, 20);
  corrupting_source corrupted{*source_, "", corrupting_source::view::transfers_in_progress, 3};
  const auto audit = audit_invariants(corrupted, expected_);
  ASSERT_EQ(audit.failures.size(), 1u) << joined(audit.failures);
  EXPECT_TRUE(contains(audit.failures[0], "invariant 5 (every transfer finished)"))
    << audit.failures[0];
  EXPECT_TRUE(contains(audit.failures[0], "3 transfers in progress")) << audit.failures[0];
}

TEST_F(invariant_audit_test, fails_on_money_left_in_flight_naming_invariant_5) {
  run_workload(false, 20);
  corrupting_source corrupted{*source_, "", corrupting_source::view::money_in_flight, 7};
  const auto audit = audit_invariants(corrupted, expected_);
  const auto text = joined(audit.failures);
  // 7 in flight breaks both: the money is not where the deposits put it, and it is
  // still moving after the run.
  EXPECT_TRUE(contains(text, "invariant 5 (money conserved)")) << text;
  EXPECT_TRUE(contains(text, "invariant 5 (nothing in flight)")) << text;
  EXPECT_EQ(audit.failures.size(), 2u) << text;
}

TEST_F(invariant_audit_test, cold_read_fails_on_a_damaged_segment_naming_invariant_4) {
  run_workload(true);
  const auto audit = audit_invariants(*source_, expected_);
  ASSERT_TRUE(audit.ok()) << joined(audit.failures);
  stop_runtime();
  // Flip one byte in the middle of the largest file: a record's checksum breaks.
  std::filesystem::path largest;
  std::uintmax_t largest_bytes = 0;
  for (const auto& entry : std::filesystem::directory_iterator(directory_)) {
    if (entry.is_regular_file() && entry.file_size() > largest_bytes) {
      largest = entry.path();
      largest_bytes = entry.file_size();
    }
  }
  ASSERT_GT(largest_bytes, 1000u);
  {
    std::fstream file{largest, std::ios::in | std::ios::out | std::ios::binary};
    const auto offset = static_cast<std::streamoff>(largest_bytes / 2);
    file.seekg(offset);
    char byte = 0;
    file.get(byte);
    file.seekp(offset);
    file.put(static_cast<char>(byte ^ 0x5a));
  }
  const auto cold = audit_durable_directory(directory_, expected_, audit);
  ASSERT_FALSE(cold.empty());
  EXPECT_TRUE(contains(cold.front(), "invariant 4")) << joined(cold);
}

}  // namespace
}  // namespace tally::load
