#include "app/tally-load/report.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <cstdio>
#include <fstream>

namespace tally::load {
namespace {

using nlohmann::json;

run_stats sample_stats() {
  run_stats stats;
  for (std::uint64_t i = 1; i <= 1000; ++i) {
    stats.record_reply(operation::deposit, i * 1'000, i * 1'000'000, command_outcome::accepted);
  }
  for (std::uint64_t i = 1; i <= 100; ++i) {
    stats.record_reply(operation::withdraw, 50'000, 500'000'000, command_outcome::rejected,
                       "insufficient_funds");
  }
  return stats;
}

run_report sample_report() {
  run_report report;
  report.configuration.target = "embedded";
  report.configuration.journal = "memory";
  report.configuration.workload.commands = 1100;
  report.machine = collect_machine_info();
  report.elapsed_ns = 2'000'000'000;
  report.invariants_ok = true;
  return report;
}

TEST(report, json_holds_the_required_figures) {
  const run_stats stats = sample_stats();
  run_report report = sample_report();
  report.baseline_kind = "caf-raw";
  report.baseline_per_s = 2000.0;
  report.ratio_median = 0.25;
  const json document = make_report_json(report, stats);
  EXPECT_DOUBLE_EQ(document.at("throughput_cmd_per_s").get<double>(), 550.0);
  const json& latency = document.at("latency_us");
  for (const char* key : {"p50", "p90", "p99", "p999", "p9999", "max"}) {
    EXPECT_TRUE(latency.contains(key)) << key;
  }
  EXPECT_NEAR(document.at("latency_us_by_operation").at("deposit").at("p50").get<double>(), 500.0,
              2.5);
  EXPECT_DOUBLE_EQ(document.at("latency_us_by_operation").at("deposit").at("max").get<double>(),
                   1000.0);
  EXPECT_FALSE(document.at("latency_us_by_operation").contains("balance"));
  EXPECT_EQ(document.at("accepted").get<std::uint64_t>(), 1000u);
  EXPECT_EQ(document.at("rejected").get<std::uint64_t>(), 100u);
  EXPECT_EQ(document.at("rejected_by_reason").at("insufficient_funds").get<std::uint64_t>(), 100u);
  EXPECT_TRUE(document.at("invariants_ok").get<bool>());
  EXPECT_TRUE(document.at("invariant_failures").empty());
  EXPECT_DOUBLE_EQ(document.at("baseline_per_s").get<double>(), 2000.0);
  EXPECT_DOUBLE_EQ(document.at("ratio_median").get<double>(), 0.25);
  EXPECT_EQ(document.at("config").at("loop").get<std::string>(), "closed");
  EXPECT_EQ(document.at("config").at("dist").get<std::string>(), "uniform");
  EXPECT_EQ(document.at("config").at("mix").get<std::string>(), "deposit=45,withdraw=45,balance=10");
  EXPECT_GE(document.at("machine").at("cores").get<unsigned>(), 1u);
  EXPECT_FALSE(document.at("machine").at("kernel").get<std::string>().empty());
  EXPECT_EQ(document.at("throughput_per_second").size(), 2u);
  EXPECT_FALSE(document.contains("open_loop"));
}

TEST(report, optional_baseline_fields_are_absent_without_a_baseline) {
  const json document = make_report_json(sample_report(), sample_stats());
  EXPECT_FALSE(document.contains("baseline_per_s"));
  EXPECT_FALSE(document.contains("ratio_median"));
}

TEST(report, open_loop_runs_report_late_and_dropped_sends) {
  run_stats stats = sample_stats();
  stats.record_send_lateness(3'000'000, 1'000'000);
  stats.record_dropped_send();
  run_report report = sample_report();
  report.configuration.rate_per_s = 500.0;
  const json document = make_report_json(report, stats);
  EXPECT_EQ(document.at("config").at("loop").get<std::string>(), "open");
  EXPECT_EQ(document.at("open_loop").at("late_sends").get<std::uint64_t>(), 1u);
  EXPECT_EQ(document.at("open_loop").at("dropped_sends").get<std::uint64_t>(), 1u);
  EXPECT_NE(format_summary(report, stats).find("late sends 1"), std::string::npos);
}

TEST(report, summary_names_throughput_latency_rejections_and_invariants) {
  run_report report = sample_report();
  report.invariants_ok = false;
  report.invariant_failures = {"account 7: read model 10 != write side 12"};
  const std::string summary = format_summary(report, sample_stats());
  EXPECT_NE(summary.find("throughput: 550 cmd/s"), std::string::npos) << summary;
  EXPECT_NE(summary.find("p99.9"), std::string::npos);
  EXPECT_NE(summary.find("deposit"), std::string::npos);
  EXPECT_NE(summary.find("insufficient_funds 100"), std::string::npos);
  EXPECT_NE(summary.find("invariants: FAILED (1)"), std::string::npos);
  EXPECT_NE(summary.find("account 7: read model 10"), std::string::npos);
}

TEST(report, files_round_trip_and_compare_shows_ratios) {
  const std::string directory = ::testing::TempDir();
  const std::string path_a = directory + "/tally_report_a_" + std::to_string(::getpid()) + ".json";
  const std::string path_b = directory + "/tally_report_b_" + std::to_string(::getpid()) + ".json";
  run_report report = sample_report();
  const json document_a = make_report_json(report, sample_stats());
  report.elapsed_ns = 1'000'000'000;  // twice the throughput
  const json document_b = make_report_json(report, sample_stats());
  ASSERT_FALSE(write_report_file(path_a, document_a).has_value());
  ASSERT_FALSE(write_report_file(path_b, document_b).has_value());
  const parse_result<json> read_a = read_report_file(path_a);
  const parse_result<json> read_b = read_report_file(path_b);
  ASSERT_TRUE(read_a.ok()) << read_a.error();
  ASSERT_TRUE(read_b.ok()) << read_b.error();
  EXPECT_EQ(read_a.value(), document_a);
  const std::string table = format_comparison(read_a.value(), read_b.value(), "A", "B");
  EXPECT_NE(table.find("throughput_cmd_per_s"), std::string::npos) << table;
  EXPECT_NE(table.find("2.000"), std::string::npos) << table;
  EXPECT_NE(table.find("latency_us p99"), std::string::npos);
  EXPECT_EQ(table.find("baseline_per_s"), std::string::npos);  // absent in both
  std::remove(path_a.c_str());
  std::remove(path_b.c_str());
}

TEST(report, reading_a_missing_or_broken_file_names_it) {
  EXPECT_NE(read_report_file("/nonexistent/r.json").error().find("/nonexistent/r.json"),
            std::string::npos);
  const std::string path = ::testing::TempDir() + "/tally_broken_" + std::to_string(::getpid());
  std::ofstream{path} << "{ not json";
  EXPECT_NE(read_report_file(path).error().find("not a JSON object"), std::string::npos);
  std::remove(path.c_str());
  EXPECT_TRUE(write_report_file("/nonexistent/dir/r.json", json::object()).has_value());
}

TEST(report, cpu_model_comes_from_the_model_name_line) {
  EXPECT_EQ(cpu_model_from_cpuinfo("processor\t: 0\nmodel name\t: AMD EPYC 7B13\nflags : x\n"),
            "AMD EPYC 7B13");
  EXPECT_EQ(cpu_model_from_cpuinfo("processor : 0\n"), "unknown");
  EXPECT_EQ(cpu_model_from_cpuinfo(""), "unknown");
}

}  // namespace
}  // namespace tally::load
