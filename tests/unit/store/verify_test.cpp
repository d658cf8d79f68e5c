#include "store/verify.hpp"

#include <gtest/gtest.h>

#include "support/fault_file_system.hpp"
#include "journal_test_support.hpp"
#include "store/file_journal.hpp"
#include "store/record_codec.hpp"
#include "tally/file_journal.hpp"

namespace tally::testing {
namespace {

const std::string directory = "/journal";

// Writes a segment file by hand, bypassing the journal's precondition checks, so
// verify sees violations the journal itself never writes.
void write_segment(fault_file_system& fs, const std::vector<recorded_event>& events) {
  std::string bytes;
  store::encode_segment_header(events.front().position, bytes);
  for (const auto& event : events)
    store::encode_event_record(event, store::record_type::event_batch_end, bytes);
  fs.set_contents(directory + "/" + store::segment_file_name(events.front().position), bytes);
}

std::string all_descriptions(const store::verify_report& report) {
  std::string out;
  for (const auto& problem : report.problems)
    out += problem.description + "\n";
  return out;
}

TEST(verify, a_journal_written_directory_passes) {
  fault_file_system fs;
  workload work = make_workload(9009, 40);
  {
    auto target = open_file_journal(fs, {directory, 4096, repair_mode::refuse});
    ASSERT_TRUE(target);
    for (const auto& batch : work.batches)
      ASSERT_TRUE((*target)->append_batch(batch).is_ok());
    ASSERT_TRUE((*target)->save_snapshot(snapshot{"account-1", 1, 1, "x"}).is_ok());
  }
  auto report = store::verify_data_directory(fs, directory);
  EXPECT_TRUE(report.ok());
  EXPECT_TRUE(report.problems.empty()) << all_descriptions(report);
  EXPECT_EQ(report.events, work.events_of_first(work.batches.size()).size());
  EXPECT_EQ(report.commands, work.batches.size());
  EXPECT_EQ(report.snapshots, 1U);
  EXPECT_GT(report.segments, 1U);
}

TEST(verify, reports_version_gaps_duplicate_ids_and_split_commands) {
  fault_file_system fs;
  ASSERT_TRUE(fs.create_directory(directory, 0700));
  command_id first{1, 1};
  command_id second{2, 2};
  auto gap = make_event(2, "a", 3, second, 0, 1);                  // version 2 missing
  auto duplicate = make_event(3, "b", 1, command_id{3, 3}, 0, 1);
  duplicate.event_id = gap.event_id;                               // event id reused
  auto split = make_event(4, "a", 4, first, 1, 1);                 // first's events not contiguous
  write_segment(fs, {make_event(1, "a", 1, first, 0, 1), gap, duplicate, split});
  auto report = store::verify_data_directory(fs, directory);
  EXPECT_FALSE(report.ok());
  std::string text = all_descriptions(report);
  EXPECT_NE(text.find("jumps from version 1 to 3"), std::string::npos) << text;
  EXPECT_NE(text.find("event id"), std::string::npos) << text;
  EXPECT_NE(text.find("not contiguous"), std::string::npos) << text;
  // The journal refuses the same directory instead of serving it.
  auto opened = open_file_journal(fs, {directory, 4096, repair_mode::refuse});
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().code(), error_code::journal_corrupt);
}

TEST(verify, torn_tail_is_a_warning_and_snapshot_problems_are_errors) {
  fault_file_system fs;
  {
    auto target = open_file_journal(fs, {directory, 4096, repair_mode::refuse});
    ASSERT_TRUE(target);
    ASSERT_TRUE((*target)->append_batch({make_event(1, "a", 1, command_id{1, 1}, 0, 1)}).is_ok());
    ASSERT_TRUE((*target)->save_snapshot(snapshot{"a", 1, 1, "state-1"}).is_ok());
  }
  std::string segment = directory + "/" + store::segment_file_name(1);
  fs.set_contents(segment, *fs.contents(segment) + "torn");
  auto report = store::verify_data_directory(fs, directory);
  EXPECT_TRUE(report.ok()) << all_descriptions(report);
  ASSERT_EQ(report.problems.size(), 1U);
  EXPECT_EQ(report.problems[0].severity, store::problem_severity::warning);
  EXPECT_EQ(report.problems[0].file, segment);

  // The hook compares the snapshot with the replayed events.
  store::verify_options options;
  std::size_t replayed = 0;
  options.check_snapshot = [&](const snapshot& saved, const std::vector<recorded_event>& events)
    -> std::optional<std::string> {
    replayed = events.size();
    if (saved.state != "state-" + std::to_string(events.size()))
      return "state differs";
    return std::nullopt;
  };
  EXPECT_TRUE(store::verify_data_directory(fs, directory, options).ok());
  EXPECT_EQ(replayed, 1U);

  std::string snapshot_path = directory + "/snapshots/" + store::snapshot_file_name("a");
  std::string bytes = *fs.contents(snapshot_path);
  bytes[bytes.size() - 1] ^= 1;
  fs.set_contents(snapshot_path, bytes);
  report = store::verify_data_directory(fs, directory);
  EXPECT_FALSE(report.ok());
  EXPECT_NE(all_descriptions(report).find("snapshot crc mismatch"), std::string::npos);
  // Opening drops the damaged snapshot and reports it; the events are intact.
  recovery_report recovery;
  auto reopened = open_file_journal(fs, {directory, 4096, repair_mode::refuse}, &recovery);
  ASSERT_TRUE(reopened);
  EXPECT_FALSE((*reopened)->load_snapshot("a"));
  EXPECT_EQ((*reopened)->head(), 1U);
  EXPECT_EQ(recovery.actions.size(), 2U);  // torn tail + dropped snapshot
}

}  // namespace
}  // namespace tally::testing
