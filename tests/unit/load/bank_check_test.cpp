// The bank mode's pure parts: parameters, the deterministic client steps, the initial
// spread of the total, and the checker's classification of reads (first, worst, last).
#include "app/tally-load/bank_check.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace tally::load {
namespace {

bank_totals_read totals_at(std::uint64_t position, std::int64_t balance, std::int64_t in_flight) {
  return bank_totals_read{balance, in_flight, false, position};
}

std::vector<bank_balance_read> balances_at(std::uint64_t position,
                                           std::vector<std::int64_t> amounts) {
  std::vector<bank_balance_read> reads;
  for (std::int64_t amount : amounts)
    reads.push_back(bank_balance_read{true, amount, position});
  return reads;
}

TEST(bank_parameters, defaults_are_valid_and_limits_name_the_parameter) {
  bank_parameters parameters;
  EXPECT_EQ(parameters.accounts, 8u);
  EXPECT_EQ(parameters.total, 100);
  EXPECT_EQ(parameters.clients, 16u);
  EXPECT_FALSE(validate(parameters).has_value());
  parameters.accounts = 1;
  EXPECT_NE(validate(parameters)->find("accounts"), std::string::npos);
  parameters.accounts = 8;
  parameters.total = 0;
  EXPECT_NE(validate(parameters)->find("total"), std::string::npos);
  parameters.total = 100;
  parameters.read_percent = 100;
  EXPECT_NE(validate(parameters)->find("read percent"), std::string::npos);
  parameters.read_percent = 50;
  parameters.transfers = 0;
  EXPECT_NE(validate(parameters)->find("transfers"), std::string::npos);
}

TEST(bank_parameters, the_total_is_spread_evenly_with_the_remainder_first) {
  bank_parameters parameters;
  parameters.accounts = 8;
  parameters.total = 100;  // 12 each, 4 left over: accounts 0..3 get 13
  std::int64_t sum = 0;
  for (std::uint64_t account = 0; account < parameters.accounts; ++account)
    sum += initial_balance(parameters, account);
  EXPECT_EQ(sum, 100);
  EXPECT_EQ(initial_balance(parameters, 0), 13);
  EXPECT_EQ(initial_balance(parameters, 3), 13);
  EXPECT_EQ(initial_balance(parameters, 4), 12);
  parameters.accounts = 1000;  // fewer units than accounts: 100 accounts hold 1
  EXPECT_EQ(initial_balance(parameters, 99), 1);
  EXPECT_EQ(initial_balance(parameters, 100), 0);
  parameters.transfers = 10;
  parameters.clients = 4;
  EXPECT_EQ(transfers_for_client(parameters, 0), 3u);
  EXPECT_EQ(transfers_for_client(parameters, 2), 2u);
}

TEST(bank_step_generator, draws_distinct_accounts_small_amounts_and_the_read_share) {
  bank_parameters parameters;
  parameters.accounts = 3;
  parameters.read_percent = 30;
  bank_step_generator steps{parameters, 7};
  std::uint64_t reads = 0;
  constexpr std::uint64_t count = 20'000;
  std::array<std::uint64_t, 3> targets{};
  for (std::uint64_t i = 0; i < count; ++i) {
    const bank_step step = steps.next();
    if (step.is_read) {
      ++reads;
      continue;
    }
    ASSERT_LT(step.source, 3u);
    ASSERT_LT(step.target, 3u);
    ASSERT_NE(step.source, step.target);
    ASSERT_GE(step.amount, 1);
    ASSERT_LE(step.amount, bank_transfer_amount_max);
    ++targets[step.target];
  }
  EXPECT_NEAR(static_cast<double>(reads) / count, 0.30, 0.02);
  for (std::uint64_t hits : targets)  // uniform over the other accounts
    EXPECT_NEAR(static_cast<double>(hits) / static_cast<double>(count - reads), 1.0 / 3, 0.02);
  // Deterministic from the seed.
  bank_step_generator again{parameters, 7};
  bank_step_generator other{parameters, 8};
  bool differs = false;
  bank_step_generator replay{parameters, 7};
  for (int i = 0; i < 100; ++i) {
    const bank_step a = again.next();
    const bank_step b = other.next();
    const bank_step c = replay.next();
    EXPECT_EQ(a.is_read, c.is_read);
    EXPECT_EQ(a.source, c.source);
    EXPECT_EQ(a.amount, c.amount);
    differs = differs || a.is_read != b.is_read || a.source != b.source || a.amount != b.amount;
  }
  EXPECT_TRUE(differs);
}

TEST(bank_checker, a_consistent_read_has_no_violation) {
  bank_checker checker{100, 0};
  EXPECT_EQ(checker.check_read(10, totals_at(12, 95, 5), balances_at(11, {50, 45}), 1), 0u);
  EXPECT_EQ(checker.violations(), 0u);
  EXPECT_EQ(checker.reads_checked(), 1u);
  EXPECT_EQ(format_violations(checker), "violations: none\n");
}

TEST(bank_checker, classifies_wrong_total_negative_balance_unknown_account_and_stale_read) {
  bank_checker checker{100, 4};
  // Total 101 at position 20; account 1 at -2; account 2 never opened; the totals
  // answer below the asked position 21 is stale too.
  std::vector<bank_balance_read> balances = balances_at(25, {50, -2, 0});
  balances[2].exists = false;
  const std::uint64_t found = checker.check_read(21, totals_at(20, 96, 5), balances, 1'000'000);
  EXPECT_EQ(found, 4u);
  const auto& wrong = checker.summary(bank_violation_kind::wrong_total);
  ASSERT_EQ(wrong.count, 1u);
  EXPECT_EQ(wrong.first->position, 20u);
  EXPECT_EQ(wrong.first->observed, 101);
  EXPECT_EQ(wrong.first->expected, 100);
  EXPECT_EQ(wrong.first->client, 4u);
  const auto& negative = checker.summary(bank_violation_kind::negative_balance);
  ASSERT_EQ(negative.count, 1u);
  EXPECT_EQ(*negative.first->account, 1u);
  EXPECT_EQ(negative.first->observed, -2);
  EXPECT_EQ(negative.first->position, 25u);
  EXPECT_EQ(checker.summary(bank_violation_kind::unknown_account).count, 1u);
  EXPECT_EQ(*checker.summary(bank_violation_kind::unknown_account).first->account, 2u);
  const auto& stale = checker.summary(bank_violation_kind::stale_read);
  ASSERT_EQ(stale.count, 1u);
  EXPECT_FALSE(stale.first->account.has_value());
  EXPECT_NE(describe(*wrong.first).find("position 20 (read at >= 21, client 4, read 1"),
            std::string::npos)
    << describe(*wrong.first);
  EXPECT_NE(describe(*wrong.first).find("total_balance + money_in_flight 101, expected 100"),
            std::string::npos);
  const std::string text = format_violations(checker);
  EXPECT_NE(text.find("violations: 4"), std::string::npos) << text;
  EXPECT_NE(text.find("negative_balance: 1"), std::string::npos) << text;
}

TEST(bank_checker, keeps_the_first_the_worst_and_the_last_and_merges_them) {
  bank_checker early{100, 0};
  bank_checker late{100, 1};
  early.check_read(1, totals_at(10, 101, 0), balances_at(10, {}), 100);  // off by 1, first
  early.check_read(1, totals_at(30, 90, 0), balances_at(30, {}), 300);   // off by 10, worst
  late.check_read(1, totals_at(20, 97, 0), balances_at(20, {}), 200);    // off by 3
  late.check_read(1, totals_at(40, 102, 0), balances_at(40, {}), 400);   // off by 2, last
  early.merge(late);
  const auto& wrong = early.summary(bank_violation_kind::wrong_total);
  EXPECT_EQ(wrong.count, 4u);
  EXPECT_EQ(wrong.first->position, 10u);
  EXPECT_EQ(wrong.worst->position, 30u);
  EXPECT_EQ(wrong.worst->observed, 90);
  EXPECT_EQ(wrong.last->position, 40u);
  EXPECT_EQ(wrong.last->client, 1u);
  EXPECT_EQ(early.reads_checked(), 4u);
  const nlohmann::json document = violations_json(early);
  EXPECT_EQ(document["count"], 4);
  EXPECT_EQ(document["wrong_total"]["count"], 4);
  EXPECT_EQ(document["wrong_total"]["worst"]["position"], 30);
  EXPECT_EQ(document["wrong_total"]["last"]["client"], 1);
  EXPECT_EQ(document["negative_balance"]["count"], 0);
  EXPECT_FALSE(document["negative_balance"].contains("first"));
}

TEST(bank_checker, an_overflowing_total_is_not_compared_but_a_huge_one_is_wrong) {
  bank_checker checker{100, 0};
  bank_totals_read overflowed = totals_at(5, 0, 0);
  overflowed.overflow = true;
  EXPECT_EQ(checker.check_read(1, overflowed, {}, 1), 0u);
  EXPECT_EQ(checker.check_read(1, totals_at(5, INT64_MAX, 1), {}, 2), 1u);
  EXPECT_EQ(checker.summary(bank_violation_kind::wrong_total).first->observed, INT64_MAX);
}

}  // namespace
}  // namespace tally::load
