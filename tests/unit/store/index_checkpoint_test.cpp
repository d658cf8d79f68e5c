// The persisted index checkpoint (index.checkpoint): an open that loads it must give
// exactly the journal a full scan gives; a stale one is used and the tail scanned; a
// damaged one, or one ahead of a log that was cut back, is dropped for a full scan.
#include <gtest/gtest.h>

#include <random>
#include <set>

#include "support/fault_file_system.hpp"
#include "journal_test_support.hpp"
#include "store/crc32c.hpp"
#include "store/file_journal.hpp"
#include "tally/file_journal.hpp"

namespace tally::testing {
namespace {

const std::string directory = "/journal";
const std::string checkpoint_path = directory + "/index.checkpoint";

file_journal_options options(bool index_checkpoint = true) {
  file_journal_options out{directory, 4096, repair_mode::refuse};
  out.index_checkpoint = index_checkpoint;
  return out;
}

std::unique_ptr<journal> open_or_fail(fault_file_system& fs, const file_journal_options& opts,
                                      recovery_report* report = nullptr) {
  auto opened = open_file_journal(fs, opts, report);
  EXPECT_TRUE(opened) << opened.error().to_string();
  return opened ? std::move(*opened) : nullptr;
}

void append_all(journal& target, const workload& work, std::size_t from, std::size_t to) {
  for (std::size_t i = from; i < to; ++i)
    ASSERT_TRUE(target.append_batch(work.batches[i]).is_ok());
}

// Writes batches [0, count) of `work` into a journal on `fs` and closes it (a clean
// close writes the index checkpoint).
void write_and_close(fault_file_system& fs, const workload& work, std::size_t count) {
  auto target = open_or_fail(fs, options());
  ASSERT_NE(target, nullptr);
  append_all(*target, work, 0, count);
}

bool has_action(const recovery_report& report, const std::string& text) {
  for (const auto& action : report.actions)
    if (action.reason.find(text) != std::string::npos)
      return true;
  return false;
}

// Everything a reader can ask: every event, every stream, every command.
void expect_same_indexes(const journal& loaded, const journal& scanned, const workload& work) {
  ASSERT_EQ(loaded.head(), scanned.head());
  ASSERT_EQ(read_everything(loaded), read_everything(scanned));
  std::set<std::string> streams;
  for (const auto& batch : work.batches)
    for (const auto& event : batch)
      streams.insert(event.stream_id);
  streams.insert("never-written");
  for (const auto& stream : streams) {
    EXPECT_EQ(loaded.stream_version(stream), scanned.stream_version(stream)) << stream;
    for (std::uint64_t from : {0ULL, 1ULL, 3ULL}) {
      auto a = loaded.read_stream(stream, from, 1000);
      auto b = scanned.read_stream(stream, from, 1000);
      ASSERT_TRUE(a && b);
      EXPECT_EQ(*a, *b) << stream;
    }
  }
  for (const auto& batch : work.batches) {
    auto a = loaded.find_command(batch.front().command);
    auto b = scanned.find_command(batch.front().command);
    ASSERT_EQ(a.has_value(), b.has_value());
    if (!a)
      continue;
    EXPECT_EQ(a->stream_id, b->stream_id);
    EXPECT_EQ(a->command_hash, b->command_hash);
    EXPECT_EQ(a->first_version, b->first_version);
    EXPECT_EQ(a->last_version, b->last_version);
    EXPECT_EQ(a->first_position, b->first_position);
    EXPECT_EQ(a->last_position, b->last_position);
  }
  EXPECT_FALSE(loaded.find_command(command_id{123, 456}));
}

TEST(index_checkpoint, loading_it_gives_the_same_journal_as_a_full_scan) {
  workload work = make_workload(test_seed(9001), 300);
  fault_file_system fs;
  ASSERT_NO_FATAL_FAILURE(write_and_close(fs, work, work.batches.size()));
  ASSERT_TRUE(fs.contents(checkpoint_path)) << "a clean close writes the checkpoint";
  recovery_report report;
  auto loaded = open_or_fail(fs, options(), &report);
  ASSERT_NE(loaded, nullptr);
  EXPECT_TRUE(report.clean());
  EXPECT_EQ(report.checkpoint_events, loaded->head());
  EXPECT_EQ(report.events_recovered, loaded->head());
  EXPECT_EQ(report.segments_scanned, 1U);  // only the tail of the last one
  {
    fault_file_system copy;
    for (const auto& name : fs.files_in(directory))
      copy.set_contents(directory + "/" + name, *fs.contents(directory + "/" + name));
    recovery_report full_report;
    auto scanned = open_or_fail(copy, options(false), &full_report);
    ASSERT_NE(scanned, nullptr);
    EXPECT_EQ(full_report.checkpoint_events, 0U);
    expect_same_indexes(*loaded, *scanned, work);
  }
  // Appending after a checkpoint load continues every index.
  std::uint64_t version = loaded->stream_version("account-1");
  std::vector<recorded_event> next{
    make_event(loaded->head() + 1, "account-1", version + 1, command_id{77, 78}, 0, 5)};
  ASSERT_TRUE(loaded->append_batch(next).is_ok());
  loaded.reset();
  auto reopened = open_or_fail(fs, options(), &report);
  ASSERT_NE(reopened, nullptr);
  EXPECT_TRUE(report.clean());
  EXPECT_EQ(report.checkpoint_events, reopened->head());
  EXPECT_EQ(reopened->stream_version("account-1"), version + 1);
  ASSERT_TRUE(reopened->find_command(command_id{77, 78}));
  EXPECT_EQ(reopened->find_command(command_id{77, 78})->first_version, version + 1);
}

TEST(index_checkpoint, a_stale_checkpoint_is_used_and_only_the_log_after_it_is_scanned) {
  workload work = make_workload(test_seed(9002), 300);
  fault_file_system fs;
  ASSERT_NO_FATAL_FAILURE(write_and_close(fs, work, 100));
  std::string old_checkpoint = *fs.contents(checkpoint_path);
  std::uint64_t old_head = work.events_of_first(100).size();
  {
    auto target = open_or_fail(fs, options());
    ASSERT_NE(target, nullptr);
    append_all(*target, work, 100, work.batches.size());
  }
  // As after a crash: the log went on, the checkpoint on disk is the old one.
  fs.set_contents(checkpoint_path, old_checkpoint);
  recovery_report report;
  auto loaded = open_or_fail(fs, options(), &report);
  ASSERT_NE(loaded, nullptr);
  EXPECT_TRUE(report.clean());
  EXPECT_EQ(report.checkpoint_events, old_head);
  EXPECT_EQ(report.events_recovered, work.events_of_first(work.batches.size()).size());
  EXPECT_GT(report.segments_scanned, 1U);
  fault_file_system copy;
  for (const auto& name : fs.files_in(directory))
    copy.set_contents(directory + "/" + name, *fs.contents(directory + "/" + name));
  auto scanned = open_or_fail(copy, options(false));
  ASSERT_NE(scanned, nullptr);
  expect_same_indexes(*loaded, *scanned, work);
}

TEST(index_checkpoint, a_damaged_checkpoint_is_dropped_for_a_full_scan) {
  workload work = make_workload(test_seed(9003), 120);
  fault_file_system base;
  ASSERT_NO_FATAL_FAILURE(write_and_close(base, work, work.batches.size()));
  std::map<std::string, std::string> files;
  for (const auto& name : base.files_in(directory))
    files[directory + "/" + name] = *base.contents(directory + "/" + name);
  const std::string good = files[checkpoint_path];
  auto expected = work.events_of_first(work.batches.size());
  std::mt19937_64 random{9003};
  std::vector<std::string> damaged;
  for (int i = 0; i < 300; ++i) {  // bit flips anywhere
    std::string bytes = good;
    std::size_t offset = i < 64 ? static_cast<std::size_t>(i) : random() % bytes.size();
    bytes[offset] = static_cast<char>(bytes[offset] ^ (1 << (random() % 8)));
    damaged.push_back(bytes);
  }
  for (std::size_t size : {std::size_t{0}, std::size_t{10}, std::size_t{64}, good.size() / 2,
                           good.size() - 1})
    damaged.push_back(good.substr(0, size));  // cut short
  damaged.push_back(good + "x");              // longer
  for (std::size_t i = 0; i < damaged.size(); ++i) {
    SCOPED_TRACE("damaged checkpoint " + std::to_string(i));
    fault_file_system fs;
    for (const auto& [path, bytes] : files)
      fs.set_contents(path, bytes);
    fs.set_contents(checkpoint_path, damaged[i]);
    recovery_report report;
    auto opened = open_or_fail(fs, options(), &report);
    ASSERT_NE(opened, nullptr);
    EXPECT_EQ(report.checkpoint_events, 0U);
    EXPECT_TRUE(has_action(report, "index checkpoint dropped"));
    // Removed (and, as the scan covered many segments, written anew from the scan).
    EXPECT_NE(fs.contents(checkpoint_path), std::optional<std::string>{damaged[i]});
    ASSERT_EQ(read_everything(*opened), expected);
    for (const auto& batch : work.batches)
      ASSERT_TRUE(opened->find_command(batch.front().command));
  }
}

TEST(index_checkpoint, a_command_count_that_does_not_match_the_table_drops_it) {
  // A checkpoint whose CRCs hold but whose header counts one command more or fewer than
  // its table's used slots (as a writer bug would leave it): loading tags every used
  // slot, counts them, and drops the checkpoint instead of trusting either number.
  workload work = make_workload(test_seed(9005), 60);
  fault_file_system base;
  ASSERT_NO_FATAL_FAILURE(write_and_close(base, work, work.batches.size()));
  const std::string good = *base.contents(checkpoint_path);
  ASSERT_GE(good.size(), 64U);
  auto count_of = [](const std::string& bytes) {
    std::uint64_t count = 0;
    for (int i = 7; i >= 0; --i)
      count = (count << 8) | static_cast<unsigned char>(bytes[48 + i]);
    return count;
  };
  const std::uint64_t commands = count_of(good);
  ASSERT_GT(commands, 1U);
  for (std::uint64_t wrong : {commands - 1, commands + 1}) {
    SCOPED_TRACE("commands " + std::to_string(wrong));
    std::string bytes = good;
    for (int i = 0; i < 8; ++i)
      bytes[48 + i] = static_cast<char>((wrong >> (8 * i)) & 0xFF);
    const std::uint32_t header_crc = store::mask_crc(store::crc32c(std::string_view{bytes}.substr(0, 60)));
    for (int i = 0; i < 4; ++i)
      bytes[60 + i] = static_cast<char>((header_crc >> (8 * i)) & 0xFF);
    fault_file_system fs;
    for (const auto& name : base.files_in(directory))
      fs.set_contents(directory + "/" + name, *base.contents(directory + "/" + name));
    fs.set_contents(checkpoint_path, bytes);
    recovery_report report;
    auto opened = open_or_fail(fs, options(), &report);
    ASSERT_NE(opened, nullptr);
    EXPECT_EQ(report.checkpoint_events, 0U);
    bool named = false;
    for (const auto& action : report.actions)
      named = named || action.reason.find("command table holds a different number of commands")
                         != std::string::npos;
    EXPECT_TRUE(named);
    ASSERT_EQ(read_everything(*opened), work.events_of_first(work.batches.size()));
    for (const auto& batch : work.batches)
      ASSERT_TRUE(opened->find_command(batch.front().command));
  }
}

TEST(index_checkpoint, a_checkpoint_ahead_of_a_log_that_was_cut_back_is_dropped) {
  workload work = make_workload(test_seed(9004), 200);
  // The cuts are at batch ends, read off the file size: no preallocated zeros after them.
  auto layout = options();
  layout.preallocate_bytes = 0;
  fault_file_system base;
  std::vector<std::pair<std::string, std::uint64_t>> batch_ends;  // last segment, its size
  {
    auto target = open_or_fail(base, layout);
    ASSERT_NE(target, nullptr);
    for (const auto& batch : work.batches) {
      ASSERT_TRUE(target->append_batch(batch).is_ok());
      std::string last;
      for (const auto& name : base.files_in(directory))
        if (store::parse_segment_file_name(name))
          last = directory + "/" + name;
      batch_ends.emplace_back(last, base.contents(last)->size());
    }
  }
  std::map<std::string, std::string> files;
  for (const auto& name : base.files_in(directory))
    files[directory + "/" + name] = *base.contents(directory + "/" + name);
  const std::string last_segment = batch_ends.back().first;
  // Cut 1: the last segment loses its last batches (what a repair's truncation does).
  // Cut 2: the last segment is gone (a repair removes the segments after corruption).
  std::size_t keep = batch_ends.size() - 1;
  while (keep > 0 && batch_ends[keep - 1].first == last_segment
         && batch_ends[keep - 1].second == batch_ends.back().second)
    --keep;
  std::size_t keep_in_last = keep;
  while (keep_in_last > 0 && batch_ends[keep_in_last - 1].first == last_segment)
    --keep_in_last;
  ASSERT_GT(keep, keep_in_last) << "the last segment needs two batches for this test";
  for (int cut = 1; cut <= 2; ++cut) {
    SCOPED_TRACE("cut " + std::to_string(cut));
    fault_file_system fs;
    for (const auto& [path, bytes] : files)
      if (!(cut == 2 && path == last_segment))
        fs.set_contents(path, bytes);
    std::size_t kept_batches = cut == 1 ? keep - 1 : keep_in_last;
    if (cut == 1)
      fs.set_contents(last_segment, files[last_segment].substr(0, batch_ends[kept_batches - 1].second));
    recovery_report report;
    auto opened = open_or_fail(fs, layout, &report);
    ASSERT_NE(opened, nullptr);
    EXPECT_EQ(report.checkpoint_events, 0U);
    EXPECT_TRUE(has_action(report, "index checkpoint dropped")) << report.actions.size();
    EXPECT_EQ(read_everything(*opened), work.events_of_first(kept_batches));
    EXPECT_FALSE(opened->find_command(work.batches[kept_batches].front().command));
    // The log grows again past where the old checkpoint ended: nothing old resurfaces.
    std::uint64_t version = opened->stream_version("other");
    std::vector<recorded_event> next{
      make_event(opened->head() + 1, "other", version + 1, command_id{5, 5}, 0, 3)};
    ASSERT_TRUE(opened->append_batch(next).is_ok());
    opened.reset();
    auto reopened = open_or_fail(fs, layout, &report);
    ASSERT_NE(reopened, nullptr);
    EXPECT_TRUE(report.clean());
    EXPECT_EQ(report.checkpoint_events, reopened->head());
    auto expected = work.events_of_first(kept_batches);
    expected.push_back(next.front());
    EXPECT_EQ(read_everything(*reopened), expected);
  }
}

TEST(index_checkpoint, damage_in_the_log_it_covers_is_still_detected_at_open) {
  workload work = make_workload(test_seed(9006), 80);
  fault_file_system fs;
  ASSERT_NO_FATAL_FAILURE(write_and_close(fs, work, work.batches.size()));
  ASSERT_TRUE(fs.contents(checkpoint_path));
  std::string first = directory + "/" + store::segment_file_name(1);
  std::string bytes = *fs.contents(first);
  bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 0x04);
  fs.set_contents(first, bytes);
  auto refused = open_file_journal(fs, options());
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), error_code::journal_corrupt);
  EXPECT_NE(refused.error().message().find(first), std::string::npos)
    << refused.error().to_string();
}

}  // namespace
}  // namespace tally::testing
