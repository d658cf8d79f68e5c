#include "app/tally-load/digest.hpp"

#include <gtest/gtest.h>

namespace tally::load {
namespace {

workload_digest digest_of(std::uint64_t commands, account_distribution distribution) {
  workload_parameters parameters;  // N = 10,000, C = 64, seed 42
  parameters.commands = commands;
  parameters.distribution = distribution;
  return compute_digest(generate_workload(parameters));
}

std::string row_of(std::uint64_t commands, account_distribution distribution) {
  workload_parameters parameters;
  parameters.commands = commands;
  parameters.distribution = distribution;
  return format_digest_row(parameters, compute_digest(generate_workload(parameters)));
}

// The three fingerprint rows of workload.md, verbatim.
TEST(digest, matches_the_1m_uniform_row_of_the_spec) {
  EXPECT_EQ(row_of(1'000'000, account_distribution::uniform),
            "| 1M uniform | 450449, 225647913, 2250829934 | 449708, 224887833, 2248108806 | "
            "99843 | 474208108205991551 | W 7317 803, Q 7881, W 7806 600 |");
}

TEST(digest, matches_the_1m_zipf_row_of_the_spec) {
  EXPECT_EQ(row_of(1'000'000, account_distribution::zipf),
            "| 1M zipf | 450449, 225647913, 458936803 | 449708, 224887833, 460475182 | "
            "99843 | 15143234269458077311 | W 6484 803, Q 422, W 744 600 |");
}

TEST(digest, matches_the_100k_zipf_row_of_the_spec) {
  // The spec elides the withdraw totals of this row, so those are not asserted.
  const workload_digest digest = digest_of(100'000, account_distribution::zipf);
  const operation_totals& deposits = digest.per_operation[index_of(operation::deposit)];
  EXPECT_EQ(deposits.count, 45'001u);
  EXPECT_EQ(deposits.amount_sum, 22'604'051u);
  EXPECT_EQ(deposits.account_sum, 46'113'696u);
  EXPECT_EQ(digest.per_operation[index_of(operation::balance)].count, 9'920u);
  EXPECT_EQ(digest.hash, 10848932954271163467ULL);
  ASSERT_EQ(digest.first_commands.size(), 3u);
  EXPECT_EQ(format_command(digest.first_commands[0]), "W 6484 803");
  EXPECT_EQ(format_command(digest.first_commands[1]), "Q 422");
  EXPECT_EQ(format_command(digest.first_commands[2]), "W 744 600");
}

TEST(digest, formats_counts_and_commands_like_the_table) {
  EXPECT_EQ(format_command_count(1'000'000), "1M");
  EXPECT_EQ(format_command_count(100'000), "100k");
  EXPECT_EQ(format_command_count(12'345), "12345");
  EXPECT_EQ(format_command({operation::deposit, 12, 345, 0}), "D 12 345");
  EXPECT_EQ(format_command({operation::transfer, 1, 9, 2}), "T 1 2 9");
}

TEST(digest, the_table_has_a_header_and_the_row) {
  workload_parameters parameters;
  parameters.commands = 1'000;
  const workload_digest digest = compute_digest(generate_workload(parameters));
  const std::string table = format_digest_table(parameters, digest);
  EXPECT_NE(table.find("| T, dist |"), std::string::npos);
  EXPECT_NE(table.find(format_digest_row(parameters, digest)), std::string::npos);
  EXPECT_EQ(table.find("transfers"), std::string::npos);
}

TEST(digest, transfers_get_their_own_column_and_change_the_hash) {
  workload_parameters parameters;
  parameters.commands = 1'000;
  parameters.mix = parse_operation_mix("deposit=50,transfer=50").value();
  const workload_digest digest = compute_digest(generate_workload(parameters));
  EXPECT_GT(digest.per_operation[index_of(operation::transfer)].count, 0u);
  EXPECT_NE(format_digest_table(parameters, digest).find("transfers (n"), std::string::npos);
}

}  // namespace
}  // namespace tally::load
