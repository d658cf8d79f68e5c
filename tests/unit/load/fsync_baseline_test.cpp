#include "app/tally-load/fsync_baseline.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

namespace tally::load {
namespace {

// A fresh directory per test, removed afterwards.
class fsync_baseline_test : public ::testing::Test {
protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "/tally_fsync_XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    directory_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(directory_); }

  fsync_baseline_config small_config() const {
    fsync_baseline_config config;
    config.directory = directory_;
    config.batch_sizes = {1, 16};
    config.duration_per_batch_size_s = 0.05;
    config.events_per_batch_size_max = 200;
    return config;
  }

  std::string directory_;
};

TEST_F(fsync_baseline_test, appended_run_reports_events_and_sync_latency_and_cleans_up) {
  const fsync_baseline_config config = small_config();
  const auto results = run_fsync_baseline(config);
  ASSERT_TRUE(results.ok()) << results.error();
  ASSERT_EQ(results.value().size(), 2u);
  for (const fsync_baseline_result& result : results.value()) {
    EXPECT_GT(result.events, 0u);
    EXPECT_EQ(result.events, result.syncs * result.batch_size);
    EXPECT_LE(result.events, config.events_per_batch_size_max + result.batch_size);
    EXPECT_GT(result.events_per_s, 0.0);
    EXPECT_GT(result.fdatasync_latency_us_p50, 0.0);
    EXPECT_GE(result.fdatasync_latency_us_p99, result.fdatasync_latency_us_p50);
    EXPECT_GE(result.fdatasync_latency_us_max, result.fdatasync_latency_us_p99);
  }
  // The temp files are gone.
  EXPECT_TRUE(std::filesystem::is_empty(directory_));
  const std::string table = format_fsync_baseline(config, results.value());
  EXPECT_NE(table.find("events_per_s"), std::string::npos);
  EXPECT_NE(table.find("appended"), std::string::npos);
}

TEST_F(fsync_baseline_test, preallocated_run_works_too) {
  fsync_baseline_config config = small_config();
  config.preparation = file_preparation::preallocated;
  config.batch_sizes = {4};
  const auto results = run_fsync_baseline(config);
  ASSERT_TRUE(results.ok()) << results.error();
  EXPECT_GT(results.value()[0].events, 0u);
  EXPECT_TRUE(std::filesystem::is_empty(directory_));
}

TEST_F(fsync_baseline_test, invalid_configs_are_errors_naming_the_field) {
  fsync_baseline_config config = small_config();
  config.directory = directory_ + "/missing";
  EXPECT_NE(run_fsync_baseline(config).error().find("missing"), std::string::npos);
  config = small_config();
  config.record_bytes = 0;
  EXPECT_NE(validate(config)->find("record bytes"), std::string::npos);
  config = small_config();
  config.batch_sizes = {};
  EXPECT_TRUE(validate(config).has_value());
  config.batch_sizes = {0};
  EXPECT_NE(validate(config)->find("batch size"), std::string::npos);
  config = small_config();
  config.directory.clear();
  EXPECT_TRUE(validate(config).has_value());
}

}  // namespace
}  // namespace tally::load
