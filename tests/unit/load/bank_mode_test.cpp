// The bank mode end to end on the embedded runtime (8 accounts holding 100 with 16
// clients, and the 1,000-account variant): no violation, the bank at rest matches the
// harness's tally, and the invariant audit passes. And against a fake bank that
// answers deliberately wrong reads, to show that the checker reports wrong_total and
// negative_balance with their positions (so that a clean run means something).
#include "app/load-drivers/bank_driver.hpp"

#include <gtest/gtest.h>

#include <map>
#include <mutex>

#include "tally/runtime.hpp"

namespace tally::load {
namespace {

std::string joined(const std::vector<std::string>& lines) {
  std::string text;
  for (const auto& line : lines)
    text += line + "\n";
  return text;
}

// Runs setup, clients, the check at rest and the invariant audit on a fresh embedded
// runtime.
struct embedded_bank_run {
  bank_setup setup;
  bank_run_result run;
  audit_result audit;
};

embedded_bank_run run_embedded_bank(const bank_parameters& parameters) {
  embedded_bank_run out;
  auto started = runtime::start_private({}, 1);
  EXPECT_TRUE(started) << started.error().to_string();
  if (!started)
    return out;
  auto& bank = **started;
  auto target = make_embedded_bank_target(bank);
  auto setup = setup_bank(*target, parameters);
  EXPECT_TRUE(setup) << setup.error();
  if (!setup)
    return out;
  out.setup = setup.value();
  runtime_audit_source source{bank};
  audit_expectations expected;
  expected.account_names = out.setup.account_names;
  auto baseline = take_audit_baseline(source, expected.account_names);
  EXPECT_TRUE(baseline) << baseline.error().to_string();
  if (!baseline)
    return out;
  expected.baseline = *baseline;
  out.run = run_bank_clients(*target, parameters, out.setup);
  final_check_at_rest(*target, parameters, out.setup, out.run);
  expected.client_tally = out.run.client_tally;
  expected.transfers = out.run.transfers;
  out.audit = audit_invariants(source, expected);
  target.reset();
  EXPECT_TRUE(bank.shutdown().is_ok());
  return out;
}

TEST(bank_mode, eight_accounts_holding_100_with_16_clients_show_no_violation) {
  bank_parameters parameters;  // 8 accounts, total 100, 16 clients, 50 % reads
  parameters.transfers = 3000;
  const auto result = run_embedded_bank(parameters);
  const auto& run = result.run;
  EXPECT_EQ(result.setup.expected_total, 100);  // a fresh store held nothing before
  EXPECT_EQ(run.transfers_sent, 3000u);
  EXPECT_EQ(run.transfers.completed + run.transfers.failed + run.transfers_rejected, 3000u);
  EXPECT_EQ(run.transfers.in_doubt, 0u);
  EXPECT_GT(run.transfers.completed, 0u);
  EXPECT_GT(run.checker.reads_checked(), 1000u);  // 50 %: about as many reads as transfers
  EXPECT_EQ(run.reads_failed, 0u);
  EXPECT_EQ(run.balances_read, run.checker.reads_checked() * 8);
  EXPECT_EQ(run.checker.violations(), 0u) << format_violations(run.checker);
  EXPECT_TRUE(run.final_failures.empty()) << joined(run.final_failures);
  EXPECT_TRUE(result.audit.ok()) << joined(result.audit.failures);
  EXPECT_EQ(result.audit.run_events.completed, run.transfers.completed);
  EXPECT_TRUE(run.ok());
}

TEST(bank_mode, a_thousand_accounts_show_no_violation) {
  bank_parameters parameters;
  parameters.accounts = 1000;
  parameters.total = 10'000;  // 10 each, so that most transfers can complete
  parameters.clients = 8;
  parameters.transfers = 1500;
  parameters.read_percent = 2;  // a read is 1,000 balance queries
  const auto result = run_embedded_bank(parameters);
  const auto& run = result.run;
  EXPECT_EQ(run.transfers_sent, 1500u);
  EXPECT_GT(run.transfers.completed, 1000u);
  EXPECT_GT(run.checker.reads_checked(), 0u);
  EXPECT_EQ(run.reads_failed, 0u);
  EXPECT_EQ(run.checker.violations(), 0u) << format_violations(run.checker);
  EXPECT_TRUE(run.final_failures.empty()) << joined(run.final_failures);
  EXPECT_TRUE(result.audit.ok()) << joined(result.audit.failures);
  EXPECT_EQ(result.audit.accounts_checked, 1000u);
}

// A bank in memory that applies transfers at once (nothing ever in flight) and answers
// reads truthfully, except the reads it was told to falsify: the totals of read
// number `wrong_total_read` show one unit more, and account 3 of read number
// `negative_balance_read` shows -2. Positions count events as a store would.
class lying_bank final : public bank_target {
public:
  std::uint64_t wrong_total_read = 0;
  std::uint64_t negative_balance_read = 0;

  std::unique_ptr<bank_session> open_session() override {
    return std::make_unique<session>(*this);
  }

  // Positions at which the falsified reads were answered.
  std::uint64_t wrong_total_position = 0;
  std::uint64_t negative_balance_position = 0;

private:
  class session final : public bank_session {
  public:
    explicit session(lying_bank& bank) : bank_(bank) {}

    result<std::uint64_t> head_position() override {
      std::lock_guard guard{bank_.mutex_};
      return bank_.position_;
    }
    status open_account(const std::string& account) override {
      std::lock_guard guard{bank_.mutex_};
      if (bank_.balances_.emplace(account, 0).second)
        ++bank_.position_;
      return status{};
    }
    result<std::uint64_t> deposit(const std::string& account, std::int64_t amount,
                                  const std::string&) override {
      std::lock_guard guard{bank_.mutex_};
      bank_.balances_[account] += amount;
      return ++bank_.position_;
    }
    result<bank_transfer_answer> transfer(const bank::transfer_money& request) override {
      std::lock_guard guard{bank_.mutex_};
      bank_transfer_answer answer;
      auto& source = bank_.balances_[request.source];
      if (source < request.amount) {
        answer.outcome = bank_transfer_answer::end::failed;
        answer.reason = "insufficient_funds";
        bank_.position_ += 2;  // requested, failed
      } else {
        source -= request.amount;
        bank_.balances_[request.target] += request.amount;
        answer.outcome = bank_transfer_answer::end::completed;
        bank_.position_ += 5;  // requested, debit, credit, settle, completed
      }
      answer.position = bank_.position_;
      return answer;
    }
    result<bank_totals_read> totals(std::uint64_t) override {
      std::lock_guard guard{bank_.mutex_};
      ++bank_.reads_;
      std::int64_t sum = 0;
      for (const auto& entry : bank_.balances_)
        sum += entry.second;
      if (bank_.reads_ == bank_.wrong_total_read) {
        sum += 1;
        bank_.wrong_total_position = bank_.position_;
      }
      return bank_totals_read{sum, 0, false, bank_.position_};
    }
    result<std::vector<bank_balance_read>> balances(const std::vector<std::string>& accounts,
                                                    std::uint64_t) override {
      std::lock_guard guard{bank_.mutex_};
      std::vector<bank_balance_read> out;
      for (std::size_t i = 0; i < accounts.size(); ++i) {
        auto found = bank_.balances_.find(accounts[i]);
        bank_balance_read read{found != bank_.balances_.end(),
                               found == bank_.balances_.end() ? 0 : found->second, bank_.position_};
        if (i == 3 && bank_.reads_ == bank_.negative_balance_read) {
          read.balance = -2;
          bank_.negative_balance_position = bank_.position_;
        }
        out.push_back(read);
      }
      return out;
    }
    result<bank::transfer_status> transfer_status(const std::string&, std::uint64_t) override {
      return bank::transfer_status::not_requested;
    }

  private:
    lying_bank& bank_;
  };

  std::mutex mutex_;
  std::map<std::string, std::int64_t> balances_;
  std::uint64_t position_ = 0;
  std::uint64_t reads_ = 0;  // totals reads so far; a read's balances follow its totals
};

TEST(bank_mode, the_checker_reports_a_wrong_total_and_a_negative_balance_with_positions) {
  bank_parameters parameters;
  parameters.clients = 1;  // one client: read numbers are the bank's read numbers
  parameters.transfers = 200;
  lying_bank bank;
  // Setup reads the totals twice (before and after), so the client's reads 3 and 7.
  bank.wrong_total_read = 5;
  bank.negative_balance_read = 9;
  auto setup = setup_bank(bank, parameters);
  ASSERT_TRUE(setup) << setup.error();
  EXPECT_EQ(setup.value().expected_total, 100);
  auto run = run_bank_clients(bank, parameters, setup.value());
  ASSERT_GE(run.checker.reads_checked(), 7u);
  EXPECT_FALSE(run.ok());
  EXPECT_EQ(run.checker.violations(), 2u) << format_violations(run.checker);
  const auto& wrong = run.checker.summary(bank_violation_kind::wrong_total);
  ASSERT_EQ(wrong.count, 1u);
  EXPECT_EQ(wrong.first->observed, 101);
  EXPECT_EQ(wrong.first->expected, 100);
  EXPECT_EQ(wrong.first->position, bank.wrong_total_position);
  EXPECT_EQ(wrong.first->read_number, 3u);
  const auto& negative = run.checker.summary(bank_violation_kind::negative_balance);
  ASSERT_EQ(negative.count, 1u);
  EXPECT_EQ(*negative.first->account, 3u);
  EXPECT_EQ(negative.first->observed, -2);
  EXPECT_EQ(negative.first->position, bank.negative_balance_position);
  EXPECT_EQ(negative.first->read_number, 7u);
  EXPECT_EQ(run.checker.summary(bank_violation_kind::unknown_account).count, 0u);
  const std::string text = format_violations(run.checker);
  EXPECT_NE(text.find("wrong_total: 1"), std::string::npos) << text;
  EXPECT_NE(text.find("position " + std::to_string(bank.wrong_total_position)), std::string::npos)
    << text;
  // Each wrong read was a single read: the bank at rest is fine again.
  final_check_at_rest(bank, parameters, setup.value(), run);
  EXPECT_TRUE(run.final_failures.empty()) << joined(run.final_failures);
}

TEST(bank_mode, an_honest_fake_bank_shows_no_violation) {
  // The same fake bank without lies: the checker finds nothing, so the failures above
  // come from the lies alone.
  bank_parameters parameters;
  parameters.clients = 4;
  parameters.transfers = 400;
  lying_bank bank;
  auto setup = setup_bank(bank, parameters);
  ASSERT_TRUE(setup) << setup.error();
  auto run = run_bank_clients(bank, parameters, setup.value());
  final_check_at_rest(bank, parameters, setup.value(), run);
  EXPECT_GT(run.checker.reads_checked(), 100u);
  EXPECT_EQ(run.checker.violations(), 0u) << format_violations(run.checker);
  EXPECT_TRUE(run.ok()) << joined(run.final_failures);
}

TEST(bank_mode, setup_refuses_a_bank_whose_total_moves_by_more_than_the_deposits) {
  // A bank whose totals always lie cannot be set up: the total must move by exactly T.
  bank_parameters parameters;
  lying_bank bank;
  bank.wrong_total_read = 2;  // the totals read after setup
  auto setup = setup_bank(bank, parameters);
  ASSERT_FALSE(setup);
  EXPECT_NE(setup.error().find("another writer"), std::string::npos) << setup.error();
}

}  // namespace
}  // namespace tally::load
