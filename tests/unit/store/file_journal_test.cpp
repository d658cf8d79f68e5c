// Durability of the file journal: crashes at every I/O operation, torn tails at every
// byte, bit flips, crashes during recovery, the directory lock and the file layout.
#include "store/file_journal.hpp"
#include "store/record_codec.hpp"
#include "store/segment_scanner.hpp"

#include <gtest/gtest.h>

#include <stdlib.h>
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <random>

#include "support/fault_file_system.hpp"
#include "journal_test_support.hpp"
#include "store/file_system.hpp"
#include "store/verify.hpp"
#include "tally/file_journal.hpp"

namespace tally::testing {
namespace {

const std::string directory = "/journal";

file_journal_options options(std::uint64_t segment_bytes_max = 4096) {
  return file_journal_options{directory, segment_bytes_max, repair_mode::refuse};
}

std::unique_ptr<journal> open_or_fail(fault_file_system& fs, const file_journal_options& opts,
                                      recovery_report* report = nullptr) {
  auto opened = open_file_journal(fs, opts, report);
  EXPECT_TRUE(opened) << opened.error().to_string();
  return opened ? std::move(*opened) : nullptr;
}

/// True when `recovered` is exactly the events of the first k batches for some k with
/// `acknowledged` <= k: acknowledged ⊆ recovered ⊆ submitted, batches whole.
::testing::AssertionResult is_whole_batch_prefix(const workload& work,
                                                 const std::vector<recorded_event>& recovered,
                                                 std::size_t acknowledged) {
  std::size_t events = 0;
  for (std::size_t k = 0; k <= work.batches.size(); ++k) {
    if (events == recovered.size()) {
      if (k < acknowledged)
        return ::testing::AssertionFailure()
               << "lost acknowledged batches: recovered " << k << ", acknowledged "
               << acknowledged;
      if (recovered != work.events_of_first(k))
        return ::testing::AssertionFailure() << "recovered events differ from submitted";
      return ::testing::AssertionSuccess();
    }
    if (k < work.batches.size())
      events += work.batches[k].size();
  }
  return ::testing::AssertionFailure()
         << recovered.size() << " events recovered: not a whole number of batches";
}

std::string describe_problems(const store::verify_report& report) {
  std::string out;
  for (const auto& problem : report.problems)
    out += problem.file + "@" + std::to_string(problem.offset) + ": " + problem.description + "\n";
  return out;
}

// Runs the workload (with a snapshot every 10 commands) until the first failure.
// Returns how many batches were acknowledged and the last acknowledged snapshot.
struct run_result {
  std::size_t acknowledged = 0;
  std::optional<snapshot> saved;
};

run_result run_until_failure(journal& target, const workload& work) {
  run_result out;
  for (const auto& batch : work.batches) {
    if (!target.append_batch(batch).is_ok())
      return out;
    ++out.acknowledged;
    if (out.acknowledged % 10 == 0) {
      snapshot candidate{batch.back().stream_id, batch.back().stream_version, 1,
                         "state@" + std::to_string(batch.back().position)};
      if (!target.save_snapshot(candidate).is_ok())
        return out;
      out.saved = candidate;
    }
  }
  return out;
}

TEST(file_journal, crash_at_every_io_operation_keeps_acknowledged_and_whole_batches) {
  std::uint64_t seed = test_seed(1001);
  SCOPED_TRACE(seed_trace(seed));
  workload work = make_workload(seed, 200);
  std::uint64_t operations_total = 0;
  {
    fault_file_system fs;
    auto target = open_or_fail(fs, options());
    ASSERT_NE(target, nullptr);
    ASSERT_EQ(run_until_failure(*target, work).acknowledged, work.batches.size());
    operations_total = fs.operations();
  }
  ASSERT_GT(operations_total, 400U);
  std::printf("crash points: %llu\n", static_cast<unsigned long long>(operations_total + 1));
  const unsynced_bytes modes[] = {unsynced_bytes::dropped, unsynced_bytes::torn_prefix_kept,
                                  unsynced_bytes::torn_prefix_garbled};
  for (std::uint64_t crash_point = 1; crash_point <= operations_total + 1; ++crash_point) {
    SCOPED_TRACE("crash at operation " + std::to_string(crash_point));
    fault_file_system fs;
    fs.crash_at_operation(crash_point);
    run_result run;
    {
      auto opened = open_file_journal(fs, options());
      if (opened)
        run = run_until_failure(**opened, work);
    }
    fs.crash(modes[crash_point % 3], seed + crash_point);
    recovery_report report;
    auto recovered = open_or_fail(fs, options(), &report);
    ASSERT_NE(recovered, nullptr);
    auto events = read_everything(*recovered);
    ASSERT_TRUE(is_whole_batch_prefix(work, events, run.acknowledged));
    if (run.saved) {
      auto loaded = recovered->load_snapshot(run.saved->stream_id);
      ASSERT_TRUE(loaded);
      EXPECT_GE(loaded->stream_version, run.saved->stream_version);
    }
    for (std::size_t k = 0; k < run.acknowledged; ++k)
      ASSERT_TRUE(recovered->find_command(work.batches[k].front().command));
    recovered.reset();
    auto verified = store::verify_data_directory(fs, directory);
    ASSERT_TRUE(verified.ok()) << describe_problems(verified);
    ASSERT_TRUE(verified.problems.empty()) << describe_problems(verified);
    EXPECT_EQ(verified.events, events.size());
  }
}

// The files under `directory` after a workload, to restore into fresh file systems.
struct saved_files {
  std::map<std::string, std::string> segments;  // path -> bytes
};

void restore(fault_file_system& fs, const saved_files& files) {
  ASSERT_TRUE(fs.create_directory(directory, 0700));
  ASSERT_TRUE(fs.sync_directory("/").is_ok());
  for (const auto& [path, bytes] : files.segments)
    fs.set_contents(path, bytes);
}

TEST(file_journal, truncation_at_any_offset_recovers_exactly_the_longest_valid_prefix) {
  std::uint64_t seed = test_seed(2002);
  SCOPED_TRACE(seed_trace(seed));
  workload work = make_workload(seed, 30);
  std::string segment_path = directory + "/" + store::segment_file_name(1);
  std::vector<std::uint64_t> batch_ends;  // segment size after each batch
  saved_files files;
  // Cuts at every byte of the records, read off the file size: no preallocated zeros
  // after them (preallocated_zeros_end_the_log_and_sealed_segments_are_cut covers those).
  auto layout = options(1 << 20);
  layout.preallocate_bytes = 0;
  {
    fault_file_system fs;
    auto target = open_or_fail(fs, layout);
    ASSERT_NE(target, nullptr);
    for (const auto& batch : work.batches) {
      ASSERT_TRUE(target->append_batch(batch).is_ok());
      batch_ends.push_back(fs.contents(segment_path)->size());
    }
    files.segments[segment_path] = *fs.contents(segment_path);
  }
  const std::string& full = files.segments[segment_path];
  // Every offset inside the last two records, then 1,000 random offsets anywhere.
  std::size_t last_two_start = full.size()
                               - store::encoded_event_record_bytes(work.batches.back().back());
  last_two_start -= store::encoded_event_record_bytes(
    work.batches.back().size() >= 2 ? work.batches.back()[work.batches.back().size() - 2]
                                    : work.batches[work.batches.size() - 2].back());
  std::vector<std::size_t> offsets;
  for (std::size_t offset = last_two_start; offset < full.size(); ++offset)
    offsets.push_back(offset);
  std::mt19937_64 random{seed};
  for (int i = 0; i < 1000; ++i)
    offsets.push_back(random() % full.size());
  for (std::size_t offset : offsets) {
    SCOPED_TRACE("truncated to " + std::to_string(offset) + " bytes");
    fault_file_system fs;
    saved_files cut;
    cut.segments[segment_path] = full.substr(0, offset);
    restore(fs, cut);
    std::size_t whole_batches = 0;
    while (whole_batches < batch_ends.size() && batch_ends[whole_batches] <= offset)
      ++whole_batches;
    recovery_report report;
    auto recovered = open_or_fail(fs, layout, &report);
    ASSERT_NE(recovered, nullptr);
    auto expected = work.events_of_first(whole_batches);
    ASSERT_EQ(read_everything(*recovered), expected);
    bool on_boundary = offset == (whole_batches == 0 ? store::segment_header_bytes
                                                     : batch_ends[whole_batches - 1]);
    EXPECT_EQ(report.clean(), on_boundary);
    // Appending afterwards works and survives a reopen.
    std::uint64_t version = recovered->stream_version("fresh");
    std::vector<recorded_event> next{
      make_event(expected.size() + 1, "fresh", version + 1, command_id{9, offset + 1}, 0, 8)};
    ASSERT_TRUE(recovered->append_batch(next).is_ok());
    recovered.reset();
    recovered = open_or_fail(fs, layout, &report);
    ASSERT_NE(recovered, nullptr);
    EXPECT_TRUE(report.clean());
    expected.push_back(next.front());
    ASSERT_EQ(read_everything(*recovered), expected);
  }
}

TEST(file_journal, preallocated_zeros_end_the_log_and_sealed_segments_are_cut) {
  std::uint64_t seed = test_seed(2102);
  SCOPED_TRACE(seed_trace(seed));
  workload work = make_workload(seed, 120);
  auto opts = options(8192);
  opts.preallocate_bytes = 1000;  // several extensions per segment
  fault_file_system fs;
  // Each segment's file and where its records end (scanned), sealed ones first.
  auto layout = [&fs] {
    std::vector<std::tuple<std::string, std::uint64_t, store::segment_scan>> out;
    for (const auto& name : fs.files_in(directory))
      if (auto first = store::parse_segment_file_name(name)) {
        auto path = directory + "/" + name;
        auto bytes = *fs.contents(path);
        out.emplace_back(path, bytes.size(), store::scan_segment(bytes, *first, nullptr));
      }
    return out;
  };
  {
    auto target = open_or_fail(fs, opts);
    ASSERT_NE(target, nullptr);
    for (const auto& batch : work.batches) {
      ASSERT_TRUE(target->append_batch(batch).is_ok());
      auto segments = layout();
      for (std::size_t i = 0; i < segments.size(); ++i) {
        const auto& [path, file_bytes, scan] = segments[i];
        SCOPED_TRACE(path);
        ASSERT_FALSE(scan.has_problem) << scan.problem;
        if (i + 1 < segments.size()) {
          // Sealed: exactly its records.
          EXPECT_EQ(scan.zero_tail_bytes, 0U);
          EXPECT_EQ(file_bytes, scan.valid_bytes);
        } else {
          // The one being written: its records, then zeros, never past the limit
          // unless one batch alone is larger.
          EXPECT_EQ(scan.valid_bytes + scan.zero_tail_bytes, file_bytes);
          EXPECT_LE(file_bytes, std::max<std::uint64_t>(opts.segment_bytes_max, scan.valid_bytes));
        }
      }
    }
    auto segments = layout();
    ASSERT_GE(segments.size(), 3U);
    ASSERT_GT(std::get<2>(segments.back()).zero_tail_bytes, 0U);
  }
  auto expected = work.events_of_first(work.batches.size());
  recovery_report report;
  auto reopened = open_or_fail(fs, opts, &report);
  ASSERT_NE(reopened, nullptr);
  EXPECT_TRUE(report.clean()) << report.actions.front().reason;
  ASSERT_EQ(read_everything(*reopened), expected);
  // Appends go on into the zeros after the reopen.
  std::vector<recorded_event> next{make_event(expected.size() + 1, "fresh", 1, command_id{7, 7}, 0, 8)};
  ASSERT_TRUE(reopened->append_batch(next).is_ok());
  expected.push_back(next.front());
  reopened.reset();
  auto segments = layout();
  const auto last_path = std::get<0>(segments.back());
  const auto last_records_end = std::get<2>(segments.back()).valid_bytes;
  ASSERT_GT(std::get<2>(segments.back()).zero_tail_bytes, 0U);

  // A non-zero byte in the zeros: a torn write past the records, cut, nothing lost.
  std::string last = *fs.contents(last_path);
  last[last_records_end + (last.size() - last_records_end) / 2] = 0x5A;
  fs.set_contents(last_path, last);
  reopened = open_or_fail(fs, opts, &report);
  ASSERT_NE(reopened, nullptr);
  ASSERT_EQ(report.actions.size(), 1U);
  EXPECT_EQ(report.actions[0].file, last_path);
  EXPECT_EQ(report.actions[0].offset, last_records_end);
  EXPECT_NE(report.actions[0].reason.find("torn tail"), std::string::npos)
    << report.actions[0].reason;
  ASSERT_EQ(read_everything(*reopened), expected);
  reopened.reset();
  EXPECT_EQ(fs.contents(last_path)->size(), last_records_end);

  // A sealed segment that kept its zeros (a crash before the cut was durable): cut at
  // open, reported, nothing lost; verify agrees before and after.
  const auto sealed_path = std::get<0>(segments.front());
  const auto sealed_bytes = *fs.contents(sealed_path);
  fs.set_contents(sealed_path, sealed_bytes + std::string(300, '\0'));
  EXPECT_TRUE(store::verify_data_directory(fs, directory).ok());
  reopened = open_or_fail(fs, opts, &report);
  ASSERT_NE(reopened, nullptr);
  // The index checkpoint from the last close no longer matches the sealed segment's
  // size either: it is dropped for a full scan, which cuts the zeros.
  ASSERT_EQ(report.actions.size(), 2U);
  EXPECT_NE(report.actions[0].reason.find("index checkpoint dropped"), std::string::npos)
    << report.actions[0].reason;
  EXPECT_EQ(report.actions[1].file, sealed_path);
  EXPECT_EQ(report.actions[1].offset, sealed_bytes.size());
  EXPECT_EQ(report.actions[1].bytes_dropped, 300U);
  ASSERT_EQ(read_everything(*reopened), expected);
  reopened.reset();
  EXPECT_EQ(*fs.contents(sealed_path), sealed_bytes);
  auto verified = store::verify_data_directory(fs, directory);
  EXPECT_TRUE(verified.ok()) << describe_problems(verified);
  EXPECT_EQ(verified.events, expected.size());

  // Zeros after an incomplete batch: the batch was never acknowledged; cut it.
  std::string with_partial = *fs.contents(last_path);
  const auto partial_at = with_partial.size();
  std::string record;
  store::encode_event_record(make_event(expected.size() + 1, "fresh", 2, command_id{8, 8}, 0, 8),
                             store::record_type::event, record);
  fs.set_contents(last_path, with_partial + record + std::string(500, '\0'));
  reopened = open_or_fail(fs, opts, &report);
  ASSERT_NE(reopened, nullptr);
  ASSERT_EQ(report.actions.size(), 1U);
  EXPECT_EQ(report.actions[0].offset, partial_at);
  EXPECT_NE(report.actions[0].reason.find("incomplete batch"), std::string::npos)
    << report.actions[0].reason;
  ASSERT_EQ(read_everything(*reopened), expected);
}

TEST(file_journal, bit_flips_and_bursts_are_always_detected) {
  std::uint64_t seed = test_seed(3003);
  SCOPED_TRACE(seed_trace(seed));
  workload work = make_workload(seed, 60);
  saved_files files;
  {
    fault_file_system fs;
    auto target = open_or_fail(fs, options());
    ASSERT_NE(target, nullptr);
    for (const auto& batch : work.batches)
      ASSERT_TRUE(target->append_batch(batch).is_ok());
    for (const auto& name : fs.files_in(directory))
      if (store::parse_segment_file_name(name))
        files.segments[directory + "/" + name] = *fs.contents(directory + "/" + name);
  }
  ASSERT_GE(files.segments.size(), 3U);
  // Where each segment's records end: the last one has preallocated zeros after them.
  std::map<std::string, std::uint64_t> records_end;
  for (const auto& [path, bytes] : files.segments) {
    auto first = store::parse_segment_file_name(path.substr(directory.size() + 1));
    ASSERT_TRUE(first.has_value());
    auto scan = store::scan_segment(bytes, *first, nullptr);
    ASSERT_FALSE(scan.has_problem) << scan.problem;
    records_end[path] = scan.valid_bytes;
  }
  ASSERT_GT(files.segments.rbegin()->second.size(), records_end[files.segments.rbegin()->first]);
  auto expected = work.events_of_first(work.batches.size());
  std::uint64_t total_bytes = 0;
  for (const auto& [path, bytes] : files.segments)
    total_bytes += bytes.size();
  std::mt19937_64 random{seed};
  int refused = 0;
  int truncated = 0;
  int in_zero_tail = 0;
  for (int round = 0; round < 2000; ++round) {
    bool burst = round % 2 == 1;
    // Pick a byte uniformly over all segment files.
    std::uint64_t target_byte = random() % total_bytes;
    saved_files damaged = files;
    std::string damaged_path;
    std::size_t offset = 0;
    for (auto& [path, bytes] : damaged.segments) {
      if (target_byte < bytes.size()) {
        damaged_path = path;
        offset = static_cast<std::size_t>(target_byte);
        if (burst) {
          for (std::size_t i = offset; i < std::min(bytes.size(), offset + 16); ++i)
            bytes[i] = static_cast<char>(bytes[i] ^ (1 + random() % 255));
        } else {
          bytes[offset] = static_cast<char>(bytes[offset] ^ (1 << (random() % 8)));
        }
        break;
      }
      target_byte -= bytes.size();
    }
    SCOPED_TRACE((burst ? "16-byte burst at " : "bit flip at ") + damaged_path + ":"
                 + std::to_string(offset));
    fault_file_system fs;
    restore(fs, damaged);
    recovery_report report;
    auto opened = open_file_journal(fs, options(), &report);
    if (!opened) {
      EXPECT_EQ(opened.error().code(), error_code::journal_corrupt) << opened.error().to_string();
      EXPECT_NE(opened.error().message().find(damaged_path), std::string::npos)
        << opened.error().to_string();
      ++refused;
      continue;
    }
    // Accepted: only as a reported cut of the tail, never with changed data. Damage
    // in the preallocated zeros after the last record is cut and loses nothing.
    auto events = read_everything(**opened);
    ASSERT_FALSE(report.clean());
    if (offset >= records_end[damaged_path]) {
      ASSERT_EQ(events, expected);
      ++in_zero_tail;
      continue;
    }
    ASSERT_LT(events.size(), expected.size());
    ASSERT_TRUE(std::equal(events.begin(), events.end(), expected.begin()));
    ++truncated;
  }
  std::printf("damage detected: %d refused, %d truncated, %d in preallocated zeros\n", refused,
              truncated, in_zero_tail);
  RecordProperty("refused", refused);
  RecordProperty("truncated", truncated);
  EXPECT_GT(refused, 0);
  EXPECT_GT(truncated, 0);
}

TEST(file_journal, corruption_followed_by_valid_records_is_refused_then_repaired_on_request) {
  workload work = make_workload(4004, 20);
  fault_file_system fs;
  {
    auto target = open_or_fail(fs, options(1 << 20));
    ASSERT_NE(target, nullptr);
    for (const auto& batch : work.batches)
      ASSERT_TRUE(target->append_batch(batch).is_ok());
  }
  std::string path = directory + "/" + store::segment_file_name(1);
  std::string bytes = *fs.contents(path);
  std::size_t damaged_offset = store::segment_header_bytes
                               + store::encoded_event_record_bytes(work.batches[0][0]) + 20;
  bytes[damaged_offset] = static_cast<char>(bytes[damaged_offset] ^ 0x10);
  fs.set_contents(path, bytes);
  auto refused = open_file_journal(fs, options(1 << 20));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), error_code::journal_corrupt);
  EXPECT_NE(refused.error().message().find(path), std::string::npos);
  EXPECT_NE(refused.error().message().find("offset"), std::string::npos);
  EXPECT_NE(refused.error().message().find("crc mismatch"), std::string::npos)
    << refused.error().to_string();

  auto repair = options(1 << 20);
  repair.repair = repair_mode::truncate_after_corruption;
  recovery_report report;
  auto repaired = open_or_fail(fs, repair, &report);
  ASSERT_NE(repaired, nullptr);
  EXPECT_TRUE(report.repaired_corruption);
  ASSERT_EQ(report.actions.size(), 1U);
  // The first record is batch 0's first event; batch 0 is incomplete without the second.
  std::size_t kept_batches = work.batches[0].size() == 1 ? 1 : 0;
  EXPECT_EQ(read_everything(*repaired), work.events_of_first(kept_batches));
}

TEST(file_journal, a_lost_segment_in_the_middle_is_detected_by_the_position_gap) {
  workload work = make_workload(5005, 80);
  fault_file_system fs;
  {
    auto target = open_or_fail(fs, options());
    ASSERT_NE(target, nullptr);
    for (const auto& batch : work.batches)
      ASSERT_TRUE(target->append_batch(batch).is_ok());
  }
  std::vector<std::string> segments;
  for (const auto& name : fs.files_in(directory))
    if (store::parse_segment_file_name(name))
      segments.push_back(directory + "/" + name);
  ASSERT_GE(segments.size(), 3U);
  ASSERT_TRUE(fs.remove_file(segments[1]).is_ok());
  auto refused = open_file_journal(fs, options());
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), error_code::journal_corrupt);
  EXPECT_NE(refused.error().message().find("positions missing"), std::string::npos)
    << refused.error().to_string();
  auto verified = store::verify_data_directory(fs, directory);
  EXPECT_FALSE(verified.ok());
}

TEST(file_journal, crash_during_recovery_then_recovering_again_gives_the_same_result) {
  std::uint64_t seed = test_seed(6006);
  SCOPED_TRACE(seed_trace(seed));
  workload work = make_workload(seed, 40);
  // A directory with a torn tail, a torn empty segment and an unfinished snapshot.
  fault_file_system base;
  {
    auto target = open_or_fail(base, options());
    ASSERT_NE(target, nullptr);
    for (const auto& batch : work.batches)
      ASSERT_TRUE(target->append_batch(batch).is_ok());
    ASSERT_TRUE(target
                  ->save_snapshot(snapshot{work.batches[0][0].stream_id,
                                           target->stream_version(work.batches[0][0].stream_id),
                                           1, "s"})
                  .is_ok());
  }
  std::map<std::string, std::string> files;
  for (const auto& name : base.files_in(directory))
    files[directory + "/" + name] = *base.contents(directory + "/" + name);
  std::string snapshot_directory = directory + "/snapshots";
  for (const auto& name : base.files_in(snapshot_directory))
    files[snapshot_directory + "/" + name] = *base.contents(snapshot_directory + "/" + name);
  std::string last_segment = std::prev(std::find_if(files.rbegin(), files.rend(), [](auto& file) {
                                          return file.first.find("/segment-") != std::string::npos;
                                        }).base())
                               ->first;
  files[last_segment] += std::string("\xA7\x11\x7E\xA1 torn garbage", 17);
  files[snapshot_directory + "/abc.snapshot.tmp"] = "partial";
  auto build = [&](fault_file_system& fs) {
    ASSERT_TRUE(fs.create_directory(directory, 0700));
    ASSERT_TRUE(fs.create_directory(snapshot_directory, 0700));
    ASSERT_TRUE(fs.sync_directory("/").is_ok());
    ASSERT_TRUE(fs.sync_directory(directory).is_ok());
    for (const auto& [path, bytes] : files)
      fs.set_contents(path, bytes);
  };
  std::vector<recorded_event> clean_events;
  std::uint64_t recovery_operations = 0;
  {
    fault_file_system fs;
    build(fs);
    std::uint64_t before = fs.operations();
    recovery_report report;
    auto recovered = open_or_fail(fs, options(), &report);
    ASSERT_NE(recovered, nullptr);
    EXPECT_EQ(report.actions.size(), 2U);
    clean_events = read_everything(*recovered);
    recovery_operations = fs.operations() - before;
  }
  EXPECT_EQ(clean_events, work.events_of_first(work.batches.size()));
  for (std::uint64_t crash_point = 1; crash_point <= recovery_operations; ++crash_point) {
    SCOPED_TRACE("crash at recovery operation " + std::to_string(crash_point));
    fault_file_system fs;
    build(fs);
    fs.crash_at_operation(fs.operations() + crash_point);
    EXPECT_FALSE(open_file_journal(fs, options()));
    fs.crash(crash_point % 2 == 0 ? unsynced_bytes::dropped : unsynced_bytes::torn_prefix_kept,
             seed + crash_point);
    auto recovered = open_or_fail(fs, options());
    ASSERT_NE(recovered, nullptr);
    EXPECT_EQ(read_everything(*recovered), clean_events);
    EXPECT_TRUE(recovered->load_snapshot(work.batches[0][0].stream_id));
  }
}

TEST(file_journal, a_second_open_of_the_same_directory_fails_until_the_first_closes) {
  fault_file_system fs;
  auto first = open_or_fail(fs, options());
  ASSERT_NE(first, nullptr);
  auto second = open_file_journal(fs, options());
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code(), error_code::store_unavailable);
  EXPECT_NE(second.error().message().find("in use"), std::string::npos);
  first.reset();
  EXPECT_TRUE(open_file_journal(fs, options()));
}

TEST(file_journal, posix_lock_rejects_a_second_open_and_files_are_private) {
  std::string pattern
    = (std::filesystem::temp_directory_path() / "tally-lock-XXXXXX").string();
  ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
  std::string data = pattern + "/data";
  file_journal_options posix_options{data, 4096, repair_mode::refuse};
  {
    auto first = open_file_journal(posix_file_system(), posix_options);
    ASSERT_TRUE(first) << first.error().to_string();
    auto second = open_file_journal(posix_file_system(), posix_options);
    ASSERT_FALSE(second);
    EXPECT_NE(second.error().message().find("in use"), std::string::npos)
      << second.error().to_string();
    ASSERT_TRUE((*first)->append_batch({make_event(1, "a", 1, command_id{1, 1}, 0, 4)}).is_ok());
    EXPECT_EQ((*first)->describe(), "file:" + data);
    EXPECT_TRUE((*first)->blocks_on_io());
  }
  struct stat info {};
  ASSERT_EQ(::stat(data.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0700U);
  std::string segment = data + "/" + store::segment_file_name(1);
  ASSERT_EQ(::stat(segment.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0077, 0U);  // umask may clear more, never add
  {
    auto reopened = open_file_journal(posix_file_system(), posix_options);
    ASSERT_TRUE(reopened) << reopened.error().to_string();
    EXPECT_EQ((*reopened)->head(), 1U);
  }
  std::error_code ignored;
  std::filesystem::remove_all(pattern, ignored);
}

TEST(file_journal, recovery_scan_speed_is_reported) {
  workload work = make_workload(7007, 20000, 100, 100);
  fault_file_system fs;
  {
    auto target = open_or_fail(fs, options(segment_bytes_max_default));
    ASSERT_NE(target, nullptr);
    for (const auto& batch : work.batches)
      ASSERT_TRUE(target->append_batch(batch).is_ok());
  }
  recovery_report report;
  auto recovered = open_or_fail(fs, options(segment_bytes_max_default), &report);
  ASSERT_NE(recovered, nullptr);
  EXPECT_EQ(report.events_recovered, recovered->head());
  double seconds = std::max<double>(1e-6, static_cast<double>(report.scan_duration_us) / 1e6);
  std::printf("recovery scan: %llu events, %llu bytes in %llu us: %.2f M events/s, %.0f MB/s\n",
              static_cast<unsigned long long>(report.events_recovered),
              static_cast<unsigned long long>(report.bytes_scanned),
              static_cast<unsigned long long>(report.scan_duration_us),
              static_cast<double>(report.events_recovered) / seconds / 1e6,
              static_cast<double>(report.bytes_scanned) / seconds / 1e6);
  RecordProperty("scan_events_per_second",
                 std::to_string(static_cast<double>(report.events_recovered) / seconds));
}

}  // namespace
}  // namespace tally::testing
