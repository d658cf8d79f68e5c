#include "app/tally-load/workload.hpp"

#include <gtest/gtest.h>

#include <map>

namespace tally::load {
namespace {

TEST(split_mix64, matches_the_check_vector_of_the_spec) {
  split_mix64 generator{0};
  EXPECT_EQ(generator.next(), 0xE220A8397B1DCDAFULL);
  EXPECT_EQ(generator.next(), 0x6E789E6AA1B965F4ULL);
}

TEST(workload, client_seeds_are_the_master_outputs_in_order) {
  split_mix64 master{42};
  const std::vector<std::uint64_t> seeds = client_seeds(42, 5);
  ASSERT_EQ(seeds.size(), 5u);
  for (std::uint64_t seed : seeds) {
    EXPECT_EQ(seed, master.next());
  }
}

TEST(workload, spreads_commands_over_clients_with_the_remainder_first) {
  workload_parameters parameters;
  parameters.commands = 10;
  parameters.clients = 4;
  EXPECT_EQ(commands_for_client(parameters, 0), 3u);
  EXPECT_EQ(commands_for_client(parameters, 1), 3u);
  EXPECT_EQ(commands_for_client(parameters, 2), 2u);
  EXPECT_EQ(commands_for_client(parameters, 3), 2u);
  const auto clients = generate_workload(parameters);
  ASSERT_EQ(clients.size(), 4u);
  EXPECT_EQ(clients[0].size(), 3u);
  EXPECT_EQ(clients[3].size(), 2u);
  parameters.commands = 1'000'000;
  parameters.clients = 64;
  EXPECT_EQ(commands_for_client(parameters, 0), 15'625u);
  EXPECT_EQ(commands_for_client(parameters, 63), 15'625u);
}

TEST(workload, one_command_is_three_draws_in_the_order_op_account_amount) {
  workload_parameters parameters;
  parameters.clients = 1;
  parameters.commands = 2;
  const std::uint64_t seed = client_seeds(parameters.seed, 1)[0];
  split_mix64 generator{seed};
  const auto commands = generate_workload(parameters)[0];
  for (const workload_command& command : commands) {
    const std::uint64_t r_op = generator.next();
    const std::uint64_t r_acct = generator.next();
    const std::uint64_t r_amt = generator.next();
    const std::uint64_t x = r_op % 100;
    const operation expected_op =
        x < 45 ? operation::deposit : x < 90 ? operation::withdraw : operation::balance;
    EXPECT_EQ(command.op, expected_op);
    EXPECT_EQ(command.account, r_acct % parameters.accounts);
    EXPECT_EQ(command.amount, static_cast<std::int64_t>(1 + r_amt % 1000));
  }
}

TEST(workload, zipf_makes_account_zero_the_hottest_at_about_ten_percent) {
  const account_sampler sampler{account_distribution::zipf, 10'000};
  split_mix64 generator{7};
  std::map<std::uint64_t, std::uint64_t> counts;
  constexpr std::uint64_t draws = 200'000;
  for (std::uint64_t i = 0; i < draws; ++i) {
    const std::uint64_t account = sampler.sample(generator.next());
    ASSERT_LT(account, 10'000u);
    counts[account] += 1;
  }
  // H(10000) = 9.7876: account 0 has 1/H = 10.2 %, account 1 5.1 %.
  EXPECT_NEAR(static_cast<double>(counts[0]) / draws, 0.102, 0.003);
  EXPECT_NEAR(static_cast<double>(counts[1]) / draws, 0.051, 0.003);
}

TEST(workload, zipf_sampler_covers_the_extremes_of_the_draw) {
  const account_sampler sampler{account_distribution::zipf, 10'000};
  EXPECT_EQ(sampler.sample(0), 0u);
  EXPECT_EQ(sampler.sample(~std::uint64_t{0}), 9'999u);
  const account_sampler single{account_distribution::zipf, 1};
  EXPECT_EQ(single.sample(0), 0u);
  EXPECT_EQ(single.sample(~std::uint64_t{0}), 0u);
}

TEST(operation_mix, default_is_the_standard_mix_and_parses_back) {
  const parse_result<operation_mix> parsed =
      parse_operation_mix("deposit=45,withdraw=45,balance=10");
  ASSERT_TRUE(parsed.ok()) << parsed.error();
  EXPECT_EQ(parsed.value(), operation_mix{});
  EXPECT_EQ(to_string(operation_mix{}), "deposit=45,withdraw=45,balance=10");
}

TEST(operation_mix, rejects_malformed_mixes_naming_the_problem) {
  EXPECT_NE(parse_operation_mix("deposit=50,withdraw=40").error().find("sum to 90"),
            std::string::npos);
  EXPECT_NE(parse_operation_mix("deposit=50,steal=50").error().find("steal"), std::string::npos);
  EXPECT_NE(parse_operation_mix("deposit=50,deposit=50").error().find("twice"), std::string::npos);
  EXPECT_NE(parse_operation_mix("deposit=x,withdraw=100").error().find("'x'"), std::string::npos);
  EXPECT_FALSE(parse_operation_mix("deposit=101").ok());
  EXPECT_FALSE(parse_operation_mix("deposit").ok());
  EXPECT_FALSE(parse_operation_mix("").ok());
  EXPECT_FALSE(parse_operation_mix("deposit=100,").ok());
}

TEST(operation_mix, a_transfer_share_alone_scales_the_standard_mix_down_proportionally) {
  const auto percents = [](std::uint32_t deposit, std::uint32_t withdraw, std::uint32_t balance,
                           std::uint32_t transfer) {
    operation_mix mix;
    mix.percent = {deposit, withdraw, balance, transfer};
    return mix;
  };
  EXPECT_EQ(with_transfer_share(0), operation_mix{});
  EXPECT_EQ(with_transfer_share(20), percents(36, 36, 8, 20));
  // 45 * 0.85 = 38.25 twice and 10 * 0.85 = 8.5: the leftover percent goes to balance.
  EXPECT_EQ(with_transfer_share(15), percents(38, 38, 9, 15));
  // 45 * 0.99 = 44.55 twice, 9.9: floors 44 + 44 + 9 = 97, +1 to the largest remainder
  // (balance .9), +1 to the next (deposit .55, first of the tie).
  EXPECT_EQ(with_transfer_share(1), percents(45, 44, 10, 1));
  EXPECT_EQ(with_transfer_share(100), percents(0, 0, 0, 100));
  for (std::uint32_t share = 0; share <= 100; ++share) {
    const operation_mix mix = with_transfer_share(share);
    EXPECT_EQ(mix.percent[0] + mix.percent[1] + mix.percent[2] + mix.percent[3], 100u) << share;
    EXPECT_EQ(mix.percent[index_of(operation::transfer)], share);
    EXPECT_LE(mix.percent[index_of(operation::balance)], mix.percent[index_of(operation::deposit)]);
  }
  const parse_result<operation_mix> parsed = parse_operation_mix("transfer=20");
  ASSERT_TRUE(parsed.ok()) << parsed.error();
  EXPECT_EQ(parsed.value(), percents(36, 36, 8, 20));
  EXPECT_EQ(to_string(parsed.value()), "deposit=36,withdraw=36,balance=8,transfer=20");
  // Naming anything besides the transfer share means the full mix, which must sum to 100.
  EXPECT_NE(parse_operation_mix("deposit=50,transfer=20").error().find("sum to 70"),
            std::string::npos);
  EXPECT_FALSE(parse_operation_mix("transfer=101").ok());
}

TEST(workload, a_transfer_share_keeps_the_three_draws_and_is_deterministic) {
  workload_parameters parameters;
  parameters.commands = 20'000;
  parameters.mix = with_transfer_share(20);
  const auto first = generate_workload(parameters);
  EXPECT_EQ(first, generate_workload(parameters));
  // Client 0's first command draws exactly as the standard workload's does: only the
  // operation's mapping changed, and the draws after a transfer shift by one.
  workload_parameters standard;
  standard.commands = 20'000;
  const auto plain = generate_workload(standard);
  EXPECT_EQ(first[0][0].account, plain[0][0].account);
  EXPECT_EQ(first[0][0].amount, plain[0][0].amount);
  std::array<std::uint64_t, operation_count> counts{};
  for (const auto& client : first)
    for (const workload_command& command : client)
      counts[index_of(command.op)] += 1;
  EXPECT_NEAR(static_cast<double>(counts[index_of(operation::transfer)]) / 20'000, 0.20, 0.02);
  EXPECT_NEAR(static_cast<double>(counts[index_of(operation::deposit)]) / 20'000, 0.36, 0.02);
  EXPECT_NEAR(static_cast<double>(counts[index_of(operation::balance)]) / 20'000, 0.08, 0.02);
}

TEST(workload, a_mix_with_transfers_draws_distinct_target_accounts) {
  workload_parameters parameters;
  parameters.commands = 20'000;
  parameters.clients = 4;
  parameters.accounts = 3;
  parameters.distribution = account_distribution::zipf;
  const parse_result<operation_mix> mix =
      parse_operation_mix("deposit=40,withdraw=30,balance=10,transfer=20");
  ASSERT_TRUE(mix.ok());
  parameters.mix = mix.value();
  ASSERT_FALSE(validate(parameters).has_value());
  std::array<std::uint64_t, operation_count> counts{};
  for (const auto& client : generate_workload(parameters)) {
    for (const workload_command& command : client) {
      counts[index_of(command.op)] += 1;
      if (command.op == operation::transfer) {
        EXPECT_NE(command.target_account, command.account);
        EXPECT_LT(command.target_account, parameters.accounts);
      } else {
        EXPECT_EQ(command.target_account, 0u);
      }
    }
  }
  EXPECT_NEAR(static_cast<double>(counts[index_of(operation::transfer)]) / 20'000, 0.20, 0.02);
  EXPECT_NEAR(static_cast<double>(counts[index_of(operation::deposit)]) / 20'000, 0.40, 0.02);
  parameters.accounts = 1;
  EXPECT_TRUE(validate(parameters).has_value());
}

TEST(workload, validate_names_the_parameter_out_of_range) {
  workload_parameters parameters;
  EXPECT_FALSE(validate(parameters).has_value());
  parameters.accounts = 0;
  EXPECT_NE(validate(parameters)->find("accounts"), std::string::npos);
  parameters.accounts = 1;
  parameters.clients = 0;
  EXPECT_NE(validate(parameters)->find("clients"), std::string::npos);
  parameters.clients = 1;
  parameters.commands = 0;
  EXPECT_NE(validate(parameters)->find("commands"), std::string::npos);
}

TEST(workload, generation_is_deterministic) {
  workload_parameters parameters;
  parameters.commands = 5'000;
  parameters.distribution = account_distribution::zipf;
  EXPECT_EQ(generate_workload(parameters), generate_workload(parameters));
  parameters.seed = 43;
  const auto other = generate_workload(parameters);
  parameters.seed = 42;
  EXPECT_NE(generate_workload(parameters), other);
}

}  // namespace
}  // namespace tally::load
