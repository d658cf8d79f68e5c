#include "app/tally-load/options.hpp"

#include <gtest/gtest.h>

namespace tally::load {
namespace {

parse_result<load_options> parse(std::vector<std::string> arguments) {
  return parse_options(arguments);
}

// Expects a parse error containing every one of `fragments`.
void expect_error(std::vector<std::string> arguments, std::vector<std::string> fragments) {
  const parse_result<load_options> result = parse(arguments);
  ASSERT_FALSE(result.ok());
  for (const std::string& fragment : fragments) {
    EXPECT_NE(result.error().find(fragment), std::string::npos)
        << "error '" << result.error() << "' lacks '" << fragment << "'";
  }
}

TEST(options, embedded_run_with_all_workload_flags) {
  const auto result = parse({"--target", "embedded", "--accounts", "500", "--clients=8",
                             "--commands", "1000", "--seed", "7", "--dist", "zipf", "--rate",
                             "2500.5", "--duration", "30", "--mix",
                             "deposit=40,withdraw=40,balance=20", "--json", "out.json",
                             "--plots", "plots", "--vs", "caf-raw", "--pairs", "7",
                             "--no-progress"});
  ASSERT_TRUE(result.ok()) << result.error();
  const load_options& options = result.value();
  EXPECT_EQ(options.command, load_command::run);
  EXPECT_TRUE(options.is_embedded());
  EXPECT_EQ(options.workload.accounts, 500u);
  EXPECT_EQ(options.workload.clients, 8u);
  EXPECT_EQ(options.workload.commands, 1000u);
  EXPECT_EQ(options.workload.seed, 7u);
  EXPECT_EQ(options.workload.distribution, account_distribution::zipf);
  EXPECT_DOUBLE_EQ(*options.rate_per_s, 2500.5);
  EXPECT_DOUBLE_EQ(*options.duration_s, 30.0);
  EXPECT_EQ(options.workload.mix.percent[index_of(operation::balance)], 20u);
  EXPECT_EQ(*options.json_path, "out.json");
  EXPECT_EQ(*options.plots_directory, "plots");
  EXPECT_EQ(*options.versus, baseline_kind::caf_raw);
  EXPECT_EQ(options.pairs, 7u);
  EXPECT_EQ(options.progress, progress_mode::off);
}

TEST(options, defaults_are_the_standard_workload) {
  const auto result = parse({"--target", "embedded"});
  ASSERT_TRUE(result.ok()) << result.error();
  const workload_parameters& workload = result.value().workload;
  EXPECT_EQ(workload.accounts, 10'000u);
  EXPECT_EQ(workload.clients, 64u);
  EXPECT_EQ(workload.commands, 1'000'000u);
  EXPECT_EQ(workload.seed, 42u);
  EXPECT_EQ(workload.distribution, account_distribution::uniform);
  EXPECT_EQ(workload.mix, operation_mix{});
  EXPECT_FALSE(result.value().rate_per_s.has_value());
  EXPECT_EQ(result.value().progress, progress_mode::automatic);
}

TEST(options, http_target_with_token_file) {
  const auto result = parse({"--target", "http://127.0.0.1:8080/", "--token-file", "t"});
  ASSERT_TRUE(result.ok()) << result.error();
  EXPECT_EQ(result.value().http_host, "127.0.0.1");
  EXPECT_EQ(result.value().http_port, 8080);
  EXPECT_EQ(*result.value().token_file, "t");
  expect_error({"--target", "http://127.0.0.1:0"}, {"--target", "65535"});
  expect_error({"--target", "http://127.0.0.1"}, {"--target", "http://HOST:PORT"});
  expect_error({"--target", "https://h:1"}, {"--target", "https://h:1"});
  expect_error({"--target", "http://h:1", "--data-dir", "d"}, {"--data-dir", "embedded"});
  expect_error({"--target", "embedded", "--token-file", "t"}, {"--token-file"});
}

TEST(options, durable_embedded_run) {
  const auto result = parse({"--target", "embedded", "--data-dir", "/var/tally"});
  ASSERT_TRUE(result.ok()) << result.error();
  EXPECT_EQ(*result.value().data_dir, "/var/tally");
}

TEST(options, unknown_and_repeated_flags_are_errors) {
  expect_error({"--target", "embedded", "--acounts", "5"}, {"unknown flag --acounts"});
  expect_error({"--target", "embedded", "--seed", "1", "--seed", "2"}, {"--seed", "twice"});
  expect_error({"--target", "embedded", "stray"}, {"stray"});
  expect_error({"--target"}, {"--target", "needs a value"});
  expect_error({"--target", "embedded", "--no-progress=yes"}, {"--no-progress", "no value"});
  expect_error({}, {"no command"});
}

TEST(options, bad_numbers_name_the_flag_and_value) {
  expect_error({"--target", "embedded", "--accounts", "ten"}, {"--accounts", "'ten'"});
  expect_error({"--target", "embedded", "--accounts", "0"}, {"--accounts", "'0'"});
  expect_error({"--target", "embedded", "--clients", "0"}, {"--clients"});
  expect_error({"--target", "embedded", "--commands", "0"}, {"--commands"});
  expect_error({"--target", "embedded", "--commands", "-5"}, {"--commands", "'-5'"});
  expect_error({"--target", "embedded", "--commands", "12x"}, {"--commands", "'12x'"});
  expect_error({"--target", "embedded", "--seed", "99999999999999999999"}, {"--seed"});
  expect_error({"--target", "embedded", "--rate", "0"}, {"--rate", "'0'", "> 0"});
  expect_error({"--target", "embedded", "--rate", "-1"}, {"--rate"});
  expect_error({"--target", "embedded", "--rate", "nan"}, {"--rate"});
  expect_error({"--target", "embedded", "--rate", "inf"}, {"--rate"});
  expect_error({"--target", "embedded", "--duration", "0"}, {"--duration"});
}

TEST(options, dist_mix_and_baseline_values_are_checked) {
  expect_error({"--target", "embedded", "--dist", "pareto"}, {"--dist", "'pareto'", "uniform or zipf"});
  expect_error({"--target", "embedded", "--mix", "deposit=50"}, {"--mix", "sum to 50"});
  expect_error({"--target", "embedded", "--vs", "postgres"}, {"--vs", "'postgres'"});
  expect_error({"--target", "embedded", "--vs", "caf-raw", "--pairs", "4"}, {"--pairs", "'4'"});
  expect_error({"--target", "embedded", "--pairs", "6"}, {"--pairs", "--vs"});
  expect_error({"--target", "embedded", "--accounts", "1", "--mix", "deposit=50,transfer=50"},
               {"transfers", "2 accounts"});
  const auto with_vs = parse({"--target", "embedded", "--data-dir", "d", "--vs", "fsync-raw"});
  ASSERT_TRUE(with_vs.ok());
  EXPECT_EQ(with_vs.value().pairs, 5u);
}

TEST(options, a_transfer_share_in_the_mix) {
  const auto result = parse({"--target", "embedded", "--mix", "transfer=20"});
  ASSERT_TRUE(result.ok()) << result.error();
  EXPECT_EQ(result.value().workload.mix, with_transfer_share(20));
  const auto digest = parse({"--digest", "--mix=transfer=15"});
  ASSERT_TRUE(digest.ok()) << digest.error();
  EXPECT_EQ(digest.value().workload.mix.percent[index_of(operation::balance)], 9u);
  expect_error({"--target", "embedded", "--mix", "transfer=x"}, {"--mix", "'x'", "transfer"});
  expect_error({"--target", "embedded", "--mix", "transfer=20,balance=10"},
               {"--mix", "sum to 30", "transfer=P"});
  // Bare actors have no transfers to compare with.
  expect_error({"--target", "embedded", "--mix", "transfer=20", "--vs", "caf-raw"},
               {"--vs caf-raw", "--mix without transfer"});
  expect_error({"baseline", "caf-raw", "--mix", "transfer=20"},
               {"baseline caf-raw", "--mix without transfer"});
  EXPECT_TRUE(parse({"--target", "embedded", "--data-dir", "d", "--mix", "transfer=20", "--vs",
                     "fsync-raw"})
                .ok());
}

TEST(options, bank_mode_defaults_and_flags) {
  const auto defaults = parse({"bank", "--target", "embedded"});
  ASSERT_TRUE(defaults.ok()) << defaults.error();
  EXPECT_EQ(defaults.value().command, load_command::bank);
  EXPECT_TRUE(defaults.value().is_embedded());
  EXPECT_EQ(defaults.value().bank.accounts, 8u);
  EXPECT_EQ(defaults.value().bank.total, 100);
  EXPECT_EQ(defaults.value().bank.clients, 16u);
  EXPECT_EQ(defaults.value().bank.read_percent, 50u);
  // The standard workload's parameters are untouched by bank flags.
  const auto result = parse({"--target", "http://127.0.0.1:9000", "bank", "--accounts", "1000",
                             "--total", "5000", "--clients", "4", "--transfers", "20000",
                             "--read-percent", "10", "--seed", "7", "--duration", "30",
                             "--json", "bank.json", "--no-progress", "--token-file", "t"});
  ASSERT_TRUE(result.ok()) << result.error();
  const load_options& options = result.value();
  EXPECT_EQ(options.command, load_command::bank);
  EXPECT_EQ(options.http_port, 9000);
  EXPECT_EQ(options.bank.accounts, 1000u);
  EXPECT_EQ(options.bank.total, 5000);
  EXPECT_EQ(options.bank.clients, 4u);
  EXPECT_EQ(options.bank.transfers, 20'000u);
  EXPECT_EQ(options.bank.read_percent, 10u);
  EXPECT_EQ(options.bank.seed, 7u);
  EXPECT_EQ(options.workload.accounts, 10'000u);
  EXPECT_DOUBLE_EQ(*options.duration_s, 30.0);
  EXPECT_EQ(*options.json_path, "bank.json");
  EXPECT_EQ(*options.token_file, "t");
}

TEST(options, bank_mode_values_and_rules_are_checked) {
  expect_error({"bank"}, {"bank", "--target"});
  expect_error({"bank", "--target", "embedded", "--accounts", "1"}, {"--accounts", "'1'", "2..10000"});
  expect_error({"bank", "--target", "embedded", "--accounts", "10001"}, {"--accounts"});
  expect_error({"bank", "--target", "embedded", "--total", "0"}, {"--total", "'0'"});
  expect_error({"bank", "--target", "embedded", "--total", "-5"}, {"--total", "'-5'"});
  expect_error({"bank", "--target", "embedded", "--read-percent", "100"},
               {"--read-percent", "'100'", "0..99"});
  expect_error({"bank", "--target", "embedded", "--transfers", "0"}, {"--transfers"});
  expect_error({"bank", "--target", "embedded", "--clients", "1025"}, {"--clients"});
  expect_error({"bank", "--target", "embedded", "--mix", "transfer=20"},
               {"--mix", "not valid with bank"});
  expect_error({"bank", "--target", "embedded", "--rate", "10"}, {"--rate", "not valid with bank"});
  expect_error({"bank", "--target", "http://h:1", "--data-dir", "d"}, {"--data-dir", "embedded"});
  expect_error({"bank", "--target", "embedded", "--token-file", "t"}, {"--token-file"});
  expect_error({"bank", "extra", "--target", "embedded"}, {"'extra'"});
  expect_error({"--target", "embedded", "--total", "5"}, {"--total", "not valid with --target"});
  expect_error({"bank", "--digest", "--target", "embedded"}, {"conflicting"});
}

TEST(options, digest_accepts_only_workload_flags) {
  const auto result = parse({"--digest", "--dist", "zipf", "--commands", "100000"});
  ASSERT_TRUE(result.ok()) << result.error();
  EXPECT_EQ(result.value().command, load_command::digest);
  EXPECT_EQ(result.value().workload.commands, 100'000u);
  expect_error({"--digest", "--rate", "5"}, {"--rate", "not valid with --digest"});
  expect_error({"--digest", "--target", "embedded"}, {"conflicting"});
}

TEST(options, compare_takes_two_files) {
  const auto result = parse({"--compare", "a.json", "b.json"});
  ASSERT_TRUE(result.ok()) << result.error();
  EXPECT_EQ(result.value().command, load_command::compare);
  EXPECT_EQ(result.value().compare_a_path, "a.json");
  EXPECT_EQ(result.value().compare_b_path, "b.json");
  expect_error({"--compare", "a.json"}, {"--compare", "two"});
  expect_error({"--compare", "a.json", "b.json", "--seed", "1"}, {"--seed", "not valid"});
}

TEST(options, fsync_baseline) {
  const std::string directory = ::testing::TempDir();
  const auto result = parse({"baseline", "fsync-raw", "--data-dir", directory, "--batch-sizes",
                             "1,8,64", "--record-bytes", "200", "--duration", "0.5", "--file",
                             "preallocated"});
  ASSERT_TRUE(result.ok()) << result.error();
  const load_options& options = result.value();
  EXPECT_EQ(options.command, load_command::fsync_baseline);
  EXPECT_EQ(options.fsync.directory, directory);
  EXPECT_EQ(options.fsync.batch_sizes, (std::vector<std::uint32_t>{1, 8, 64}));
  EXPECT_EQ(options.fsync.record_bytes, 200u);
  EXPECT_DOUBLE_EQ(options.fsync.duration_per_batch_size_s, 0.5);
  EXPECT_EQ(options.fsync.preparation, file_preparation::preallocated);
  const auto defaults = parse({"baseline", "fsync-raw", "--data-dir", directory});
  ASSERT_TRUE(defaults.ok()) << defaults.error();
  EXPECT_EQ(defaults.value().fsync.batch_sizes, (std::vector<std::uint32_t>{1, 16, 256, 4096}));
  EXPECT_EQ(defaults.value().fsync.record_bytes, 150u);
  expect_error({"baseline", "fsync-raw"}, {"--data-dir"});
  expect_error({"baseline", "fsync-raw", "--data-dir", directory, "--batch-sizes", "1,,2"},
               {"--batch-sizes"});
  expect_error({"baseline", "fsync-raw", "--data-dir", directory, "--batch-sizes", "0"},
               {"--batch-sizes", "'0'"});
  expect_error({"baseline", "disk-raw"}, {"disk-raw"});
  expect_error({"baseline"}, {"fsync-raw"});
  expect_error({"baseline", "fsync-raw", "--data-dir", directory, "--rate", "5"}, {"--rate"});
}

TEST(options, recording_cost_baseline_takes_workload_flags_and_pairs) {
  const auto result = parse({"baseline", "recording-cost", "--commands", "2000", "--clients", "4",
                             "--dist", "zipf", "--pairs", "6", "--json", "cost.json"});
  ASSERT_TRUE(result.ok()) << result.error();
  const load_options& options = result.value();
  EXPECT_EQ(options.command, load_command::recording_cost);
  EXPECT_EQ(options.workload.commands, 2000u);
  EXPECT_EQ(options.workload.clients, 4u);
  EXPECT_EQ(options.pairs, 6u);
  EXPECT_TRUE(options.record_latency);  // only the command itself turns it off, per run
  expect_error({"baseline", "recording-cost", "--pairs", "4"}, {"--pairs", "'4'"});
  expect_error({"baseline", "recording-cost", "--rate", "100"},
               {"--rate", "not valid with baseline recording-cost"});
  expect_error({"baseline", "recording-cost", "--data-dir", "/tmp/x"}, {"--data-dir"});
  expect_error({"baseline", "latency-raw"}, {"latency-raw", "recording-cost"});
}

TEST(options, caf_raw_baseline_takes_the_workload_flags) {
  const auto result = parse({"baseline", "caf-raw", "--accounts", "50", "--clients", "3",
                             "--commands", "900", "--dist", "zipf", "--json", "raw.json"});
  ASSERT_TRUE(result.ok()) << result.error();
  EXPECT_EQ(result.value().command, load_command::caf_baseline);
  EXPECT_EQ(result.value().workload.accounts, 50u);
  EXPECT_EQ(result.value().workload.clients, 3u);
  EXPECT_EQ(result.value().workload.commands, 900u);
  EXPECT_EQ(*result.value().json_path, "raw.json");
  expect_error({"baseline", "caf-raw", "--rate", "5"}, {"--rate", "baseline caf-raw"});
  expect_error({"baseline", "caf-raw", "--target", "embedded"}, {"conflicting"});
}

TEST(options, data_directory_reuse_and_in_flight_rules) {
  const auto reuse = parse({"--target", "embedded", "--data-dir", "d", "--reuse-data-dir"});
  ASSERT_TRUE(reuse.ok()) << reuse.error();
  EXPECT_TRUE(reuse.value().reuse_data_dir);
  EXPECT_FALSE(parse({"--target", "embedded", "--data-dir", "d"}).value().reuse_data_dir);
  expect_error({"--target", "embedded", "--reuse-data-dir"}, {"--reuse-data-dir", "--data-dir"});
  expect_error({"--target", "embedded", "--data-dir", "d", "--reuse-data-dir", "--vs", "caf-raw"},
               {"--reuse-data-dir", "--vs"});
  expect_error({"--target", "embedded", "--vs", "fsync-raw"}, {"fsync-raw", "--data-dir"});
  const auto open = parse({"--target", "embedded", "--rate", "100", "--in-flight", "8"});
  ASSERT_TRUE(open.ok()) << open.error();
  EXPECT_EQ(open.value().in_flight_per_client, 8u);
  EXPECT_EQ(parse({"--target", "embedded"}).value().in_flight_per_client,
            in_flight_per_client_default);
  expect_error({"--target", "embedded", "--in-flight", "8"}, {"--in-flight", "--rate"});
  expect_error({"--target", "embedded", "--rate", "100", "--in-flight", "0"}, {"--in-flight"});
}

TEST(options, help_wins_over_everything_else) {
  const auto result = parse({"--target", "embedded", "--help"});
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result.value().command, load_command::help);
  EXPECT_EQ(parse({"-h"}).value().command, load_command::help);
  EXPECT_NE(usage_text().find("--digest"), std::string::npos);
}

}  // namespace
}  // namespace tally::load
