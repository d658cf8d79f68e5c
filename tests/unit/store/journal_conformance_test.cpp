// The journal conformance suite: the same cases against every backend (memory, the
// file journal on the fault-injecting in-memory file system, the file journal on the
// real POSIX file system). A new backend adds a factory to journal_backends.
#include <gtest/gtest.h>

#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <thread>

#include "support/fault_file_system.hpp"
#include "journal_test_support.hpp"
#include "tally/file_journal.hpp"
#include "tally/journal.hpp"

namespace tally::testing {
namespace {

struct memory_backend {
  static constexpr bool supports_reopen = false;
  std::unique_ptr<journal> open() { return make_memory_journal(); }
};

struct file_on_fault_fs_backend {
  static constexpr bool supports_reopen = true;
  fault_file_system fs;
  std::unique_ptr<journal> open() {
    // Small segments, so the suite crosses segment boundaries.
    auto opened = open_file_journal(fs, {"/journal", segment_bytes_min, repair_mode::refuse});
    EXPECT_TRUE(opened) << opened.error().to_string();
    return opened ? std::move(*opened) : nullptr;
  }
};

struct file_on_posix_backend {
  static constexpr bool supports_reopen = true;
  std::string directory;
  file_on_posix_backend() {
    std::string pattern = (std::filesystem::temp_directory_path() / "tally-journal-XXXXXX").string();
    directory = ::mkdtemp(pattern.data()) != nullptr ? pattern : "";
    directory += "/data";
  }
  ~file_on_posix_backend() {
    std::error_code ignored;
    std::filesystem::remove_all(std::filesystem::path{directory}.parent_path(), ignored);
  }
  std::unique_ptr<journal> open() {
    auto opened = open_file_journal(posix_file_system(),
                                    {directory, segment_bytes_min, repair_mode::refuse});
    EXPECT_TRUE(opened) << opened.error().to_string();
    return opened ? std::move(*opened) : nullptr;
  }
};

template <class Backend>
class journal_conformance : public ::testing::Test {
protected:
  void SetUp() override {
    journal_ = backend_.open();
    ASSERT_NE(journal_, nullptr);
  }

  // Closes and opens again where the backend is durable; otherwise a no-op.
  void reopen_if_durable() {
    if constexpr (Backend::supports_reopen) {
      journal_.reset();
      journal_ = backend_.open();
      ASSERT_NE(journal_, nullptr);
    }
  }

  void append_all(const workload& work) {
    for (const auto& batch : work.batches)
      ASSERT_TRUE(journal_->append_batch(batch).is_ok());
  }

  Backend backend_;
  std::unique_ptr<journal> journal_;
};

using journal_backends
  = ::testing::Types<memory_backend, file_on_fault_fs_backend, file_on_posix_backend>;
// The empty third argument (gtest's optional name generator) is explicit: clang's
// -Wpedantic refuses a variadic macro called with no variadic argument at all.
TYPED_TEST_SUITE(journal_conformance, journal_backends, );

TYPED_TEST(journal_conformance, empty_journal_has_nothing) {
  EXPECT_EQ(this->journal_->head(), 0U);
  EXPECT_EQ(this->journal_->stream_version("account-1"), 0U);
  EXPECT_FALSE(this->journal_->find_command(command_id{1, 2}));
  EXPECT_FALSE(this->journal_->load_snapshot("account-1"));
  auto all = this->journal_->read_all(0, 10);
  ASSERT_TRUE(all);
  EXPECT_TRUE(all->empty());
  auto stream = this->journal_->read_stream("account-1", 1, 10);
  ASSERT_TRUE(stream);
  EXPECT_TRUE(stream->empty());
  EXPECT_FALSE(this->journal_->describe().empty());
  this->reopen_if_durable();
  EXPECT_EQ(this->journal_->head(), 0U);
}

TYPED_TEST(journal_conformance, appended_batches_read_back_in_order_with_every_field) {
  workload work = make_workload(11, 60);
  this->append_all(work);
  auto expected = work.events_of_first(work.batches.size());
  EXPECT_EQ(this->journal_->head(), expected.size());
  EXPECT_EQ(read_everything(*this->journal_), expected);
  this->reopen_if_durable();
  EXPECT_EQ(this->journal_->head(), expected.size());
  EXPECT_EQ(read_everything(*this->journal_), expected);
}

// Enough events to fill more than one of the memory journal's blocks of positions
// (4,096 each) and several chunks of its arena, with an empty payload and one larger
// than the arena's first chunk (64 KiB) among them.
TYPED_TEST(journal_conformance, many_events_and_payloads_of_every_size_read_back_exactly) {
  workload work = make_workload(16, 2600, 50);
  work.batches[1000].front().payload.clear();
  work.batches[1001].front().payload = std::string(100 * 1024, 'p');
  work.batches[1001].front().payload.front() = 'P';
  this->append_all(work);
  auto expected = work.events_of_first(work.batches.size());
  ASSERT_GT(expected.size(), 4096U);
  EXPECT_EQ(read_everything(*this->journal_), expected);
  const auto& large = work.batches[1001].front();
  auto stream = this->journal_->read_stream(large.stream_id, large.stream_version, 1);
  ASSERT_TRUE(stream);
  ASSERT_EQ(stream->size(), 1U);
  EXPECT_EQ(stream->front(), large);
  this->reopen_if_durable();
  EXPECT_EQ(read_everything(*this->journal_), expected);
}

TYPED_TEST(journal_conformance, read_all_honours_from_position_and_max_count) {
  workload work = make_workload(12, 40);
  this->append_all(work);
  auto expected = work.events_of_first(work.batches.size());
  auto from_zero = this->journal_->read_all(0, 3);
  ASSERT_TRUE(from_zero);
  EXPECT_EQ(*from_zero, std::vector<recorded_event>(expected.begin(), expected.begin() + 3));
  auto middle = this->journal_->read_all(10, 5);
  ASSERT_TRUE(middle);
  EXPECT_EQ(*middle, std::vector<recorded_event>(expected.begin() + 9, expected.begin() + 14));
  auto tail = this->journal_->read_all(expected.size(), 100);
  ASSERT_TRUE(tail);
  ASSERT_EQ(tail->size(), 1U);
  EXPECT_EQ(tail->front(), expected.back());
  auto beyond = this->journal_->read_all(expected.size() + 1, 100);
  ASSERT_TRUE(beyond);
  EXPECT_TRUE(beyond->empty());
  auto none = this->journal_->read_all(1, 0);
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
  auto everything = this->journal_->read_all(1, read_events_max);
  ASSERT_TRUE(everything);
  EXPECT_EQ(*everything, expected);
}

TYPED_TEST(journal_conformance, read_stream_returns_one_stream_in_version_order) {
  workload work = make_workload(13, 80, 3);
  this->append_all(work);
  auto expected_all = work.events_of_first(work.batches.size());
  for (const std::string stream : {"account-0", "account-1", "account-2"}) {
    std::vector<recorded_event> expected;
    for (const auto& event : expected_all)
      if (event.stream_id == stream)
        expected.push_back(event);
    EXPECT_EQ(this->journal_->stream_version(stream), expected.size());
    auto read = this->journal_->read_stream(stream, 0, read_events_max);
    ASSERT_TRUE(read);
    EXPECT_EQ(*read, expected);
    auto from_three = this->journal_->read_stream(stream, 3, 2);
    ASSERT_TRUE(from_three);
    ASSERT_EQ(from_three->size(), 2U);
    EXPECT_EQ(from_three->front(), expected[2]);
    auto beyond = this->journal_->read_stream(stream, expected.size() + 1, 10);
    ASSERT_TRUE(beyond);
    EXPECT_TRUE(beyond->empty());
  }
  auto unknown = this->journal_->read_stream("account-unknown", 1, 10);
  ASSERT_TRUE(unknown);
  EXPECT_TRUE(unknown->empty());
  EXPECT_EQ(this->journal_->stream_version("account-unknown"), 0U);
}

TYPED_TEST(journal_conformance, find_command_describes_every_command) {
  workload work = make_workload(14, 50);
  this->append_all(work);
  auto check = [&] {
    for (const auto& batch : work.batches) {
      auto found = this->journal_->find_command(batch.front().command);
      ASSERT_TRUE(found);
      EXPECT_EQ(found->stream_id, batch.front().stream_id);
      EXPECT_EQ(found->command_hash, batch.front().command_hash);
      EXPECT_EQ(found->first_version, batch.front().stream_version);
      EXPECT_EQ(found->last_version, batch.back().stream_version);
      EXPECT_EQ(found->first_position, batch.front().position);
      EXPECT_EQ(found->last_position, batch.back().position);
    }
    EXPECT_FALSE(this->journal_->find_command(command_id{0xDEAD, 0xBEEF}));
  };
  check();
  this->reopen_if_durable();
  check();
}

// prefetch_checks() is a hint: on an empty journal, on known and unknown streams and
// ids (nil included) and while the command index grows, it answers nothing and changes
// no answer (under ASan it also shows that the probes stay inside the indexes).
TYPED_TEST(journal_conformance, prefetch_checks_changes_no_answer) {
  workload work = make_workload(15, 400, 40);
  std::vector<append_check_key> keys;
  std::vector<std::string> streams;
  for (int i = 0; i < 45; ++i)
    streams.push_back("account-" + std::to_string(i));  // 40 in the workload, 5 never
  for (std::size_t i = 0; i < streams.size(); ++i)
    keys.push_back(append_check_key{streams[i], i % 3 == 0 ? command_id{} : command_id{i, i + 1}});
  for (const auto& batch : work.batches)
    keys.push_back(append_check_key{batch.front().stream_id, batch.front().command});
  this->journal_->prefetch_checks(keys);
  EXPECT_EQ(this->journal_->stream_version("account-1"), 0U);
  std::size_t appended = 0;
  for (const auto& batch : work.batches) {
    ASSERT_TRUE(this->journal_->append_batch(batch).is_ok());
    if (++appended % 37 == 0)
      this->journal_->prefetch_checks(keys);
  }
  std::map<std::string, std::uint64_t> versions;
  for (const auto& batch : work.batches)
    versions[batch.back().stream_id] = batch.back().stream_version;
  this->journal_->prefetch_checks(keys);
  for (const auto& stream : streams)
    EXPECT_EQ(this->journal_->stream_version(stream), versions.count(stream) ? versions[stream] : 0U)
      << stream;
  for (const auto& batch : work.batches) {
    auto found = this->journal_->find_command(batch.front().command);
    ASSERT_TRUE(found);
    EXPECT_EQ(found->first_position, batch.front().position);
  }
  EXPECT_FALSE(this->journal_->find_command(command_id{1, 2}));
}

TYPED_TEST(journal_conformance, one_batch_may_hold_several_commands_and_streams) {
  command_id first{1, 1};
  command_id second{2, 2};
  std::vector<recorded_event> batch{make_event(1, "a", 1, first, 0, 10),
                                    make_event(2, "a", 2, first, 1, 10),
                                    make_event(3, "b", 1, second, 0, 10)};
  ASSERT_TRUE(this->journal_->append_batch(batch).is_ok());
  this->reopen_if_durable();
  EXPECT_EQ(this->journal_->stream_version("a"), 2U);
  EXPECT_EQ(this->journal_->stream_version("b"), 1U);
  EXPECT_EQ(this->journal_->find_command(first)->last_position, 2U);
  EXPECT_EQ(this->journal_->find_command(second)->first_position, 3U);
}

TYPED_TEST(journal_conformance, snapshots_replace_older_ones_and_survive_reopen) {
  workload work = make_workload(15, 30, 2);
  this->append_all(work);
  std::uint64_t version = this->journal_->stream_version("account-0");
  ASSERT_GE(version, 2U);
  snapshot older{"account-0", version - 1, 1, "older"};
  snapshot newer{"account-0", version, 2, std::string("newer\0state", 11)};
  ASSERT_TRUE(this->journal_->save_snapshot(older).is_ok());
  EXPECT_EQ(this->journal_->load_snapshot("account-0"), older);
  ASSERT_TRUE(this->journal_->save_snapshot(newer).is_ok());
  EXPECT_EQ(this->journal_->load_snapshot("account-0"), newer);
  EXPECT_FALSE(this->journal_->load_snapshot("account-1"));
  this->reopen_if_durable();
  EXPECT_EQ(this->journal_->load_snapshot("account-0"), newer);
  EXPECT_FALSE(this->journal_->load_snapshot("account-1"));
}

TYPED_TEST(journal_conformance, large_payloads_and_batches_larger_than_a_segment) {
  command_id command{3, 3};
  std::vector<recorded_event> batch;
  for (std::uint64_t i = 0; i < 40; ++i)
    batch.push_back(make_event(i + 1, "big", i + 1, command, i, 1000));
  batch.push_back(make_event(41, "big", 41, command, 40, 300 * 1024));
  ASSERT_TRUE(this->journal_->append_batch(batch).is_ok());
  std::vector<recorded_event> next{make_event(42, "big", 42, command_id{4, 4}, 0, 5)};
  ASSERT_TRUE(this->journal_->append_batch(next).is_ok());
  batch.push_back(next.front());
  EXPECT_EQ(read_everything(*this->journal_), batch);
  this->reopen_if_durable();
  EXPECT_EQ(read_everything(*this->journal_), batch);
}

TYPED_TEST(journal_conformance, appends_continue_after_reopen) {
  workload work = make_workload(16, 40);
  std::size_t half = work.batches.size() / 2;
  for (std::size_t i = 0; i < half; ++i)
    ASSERT_TRUE(this->journal_->append_batch(work.batches[i]).is_ok());
  this->reopen_if_durable();
  for (std::size_t i = half; i < work.batches.size(); ++i)
    ASSERT_TRUE(this->journal_->append_batch(work.batches[i]).is_ok());
  this->reopen_if_durable();
  EXPECT_EQ(read_everything(*this->journal_), work.events_of_first(work.batches.size()));
}

TYPED_TEST(journal_conformance, readers_see_whole_batches_while_one_thread_appends) {
  workload work = make_workload(17, 150);
  std::vector<std::uint64_t> batch_ends{0};
  for (const auto& batch : work.batches)
    batch_ends.push_back(batch.back().position);
  auto expected = work.events_of_first(work.batches.size());
  std::atomic<bool> done{false};
  std::atomic<int> problems{0};
  auto reader = [&] {
    while (!done.load()) {
      auto page = this->journal_->read_all(1, read_events_max);
      if (!page) {
        ++problems;
        continue;
      }
      // A reader sees none or all of a batch: what it reads ends at a batch end.
      if (!std::binary_search(batch_ends.begin(), batch_ends.end(), page->size()))
        ++problems;
      for (std::size_t i = 0; i < page->size(); ++i)
        if ((*page)[i] != expected[i])
          ++problems;
    }
  };
  std::thread first_reader{reader};
  std::thread second_reader{reader};
  for (const auto& batch : work.batches)
    EXPECT_TRUE(this->journal_->append_batch(batch).is_ok());
  done = true;
  first_reader.join();
  second_reader.join();
  EXPECT_EQ(problems.load(), 0);
}

}  // namespace
}  // namespace tally::testing
