// I/O errors: EIO and ENOSPC at the n-th write, fsync, open and rename, once and
// persistently. Nothing is acknowledged without being durable, and the journal stops
// (fail-stop) at the first failure.
#include <gtest/gtest.h>

#include <cerrno>
#include <cstdio>

#include "support/fault_file_system.hpp"
#include "journal_test_support.hpp"
#include "store/verify.hpp"
#include "tally/file_journal.hpp"

namespace tally::testing {
namespace {

const std::string directory = "/journal";
const file_journal_options options{directory, 4096, repair_mode::refuse};

// Runs the workload with a snapshot every 5 commands (the snapshots are what renames).
// Returns the number of acknowledged batches; stops at the first failure and checks
// that the journal stays failed and shows readers nothing of the failed batch.
std::size_t run_checking_fail_stop(journal& target, const workload& work) {
  std::size_t acknowledged = 0;
  std::uint64_t acknowledged_events = 0;
  for (const auto& batch : work.batches) {
    status appended = target.append_batch(batch);
    if (appended) {
      EXPECT_EQ(appended.code(), error_code::store_unavailable);
      break;
    }
    ++acknowledged;
    acknowledged_events = batch.back().position;
    if (acknowledged % 5 == 0) {
      status saved = target.save_snapshot(
        snapshot{batch.back().stream_id, batch.back().stream_version, 1, "s"});
      if (saved) {
        EXPECT_EQ(saved.code(), error_code::store_unavailable);
        break;
      }
    }
  }
  if (acknowledged == work.batches.size())
    return acknowledged;
  // Fail-stop: every later append fails, and readers see only acknowledged batches.
  const auto& retry = work.batches[acknowledged];
  for (int attempt = 0; attempt < 3; ++attempt)
    EXPECT_EQ(target.append_batch(retry).code(), error_code::store_unavailable);
  if (acknowledged > 0) {
    const auto& last = work.batches[acknowledged - 1].back();
    EXPECT_EQ(target.save_snapshot(snapshot{last.stream_id, last.stream_version, 1, "s"}).code(),
              error_code::store_unavailable);
  }
  EXPECT_EQ(target.head(), acknowledged_events);
  EXPECT_EQ(read_everything(target), work.events_of_first(acknowledged));
  return acknowledged;
}

TEST(file_journal_faults, eio_and_enospc_at_every_nth_operation_never_lose_acknowledged_events) {
  std::uint64_t seed = test_seed(8008);
  SCOPED_TRACE(seed_trace(seed));
  workload work = make_workload(seed, 50);
  // For each kind, n runs from 1 until a run is untouched by the fault (n is then past
  // the last operation of that kind).
  std::uint64_t cases = 0;
  for (auto operation : {fault_operation::open, fault_operation::write, fault_operation::sync,
                         fault_operation::rename}) {
    for (int error_number : {EIO, ENOSPC}) {
      for (auto persistence : {fault_persistence::once, fault_persistence::persistent}) {
        for (std::uint64_t nth = 1;; ++nth) {
          SCOPED_TRACE("operation " + std::to_string(static_cast<int>(operation)) + " errno "
                       + std::to_string(error_number) + " persistent "
                       + std::to_string(persistence == fault_persistence::persistent) + " n "
                       + std::to_string(nth));
          fault_file_system fs;
          fs.inject_fault(operation, nth, error_number, persistence);
          std::size_t acknowledged = 0;
          {
            auto target = open_file_journal(fs, options);
            if (target)
              acknowledged = run_checking_fail_stop(**target, work);
          }
          ++cases;
          bool untouched = acknowledged == work.batches.size();
          // Power loss after the failure: only synced bytes remain.
          fs.crash(unsynced_bytes::dropped, seed + nth);
          std::vector<recorded_event> events;
          {
            auto reopened = open_file_journal(fs, options);
            ASSERT_TRUE(reopened) << reopened.error().to_string();
            events = read_everything(**reopened);
          }
          ASSERT_GE(events.size(), work.events_of_first(acknowledged).size());
          ASSERT_LE(events.size(), work.events_of_first(work.batches.size()).size());
          ASSERT_TRUE(std::equal(events.begin(), events.end(),
                                 work.events_of_first(work.batches.size()).begin()));
          auto verified = store::verify_data_directory(fs, directory);
          ASSERT_TRUE(verified.ok());
          if (untouched)
            break;  // n is past the last operation of this kind
        }
      }
    }
  }
  RecordProperty("cases", std::to_string(cases));
  std::printf("fault cases run: %llu\n", static_cast<unsigned long long>(cases));
}

}  // namespace
}  // namespace tally::testing

namespace tally::testing {
namespace {

// After a failed fdatasync the journal stops and the process exits; a restart without
// a power loss finds the failed batch whole in the page cache and serves it (retries
// are answered "duplicate", projections apply it). What it serves must survive the next
// power loss: recovery makes the tail durable first. (The bank simulation found this:
// a power loss took such a batch back, and with newer segments after it the torn one
// made the journal refuse to open.)
TEST(file_journal_faults, a_batch_found_after_a_failed_sync_is_made_durable_before_it_is_served) {
  std::uint64_t seed = test_seed(4711);
  SCOPED_TRACE(seed_trace(seed));
  workload work = make_workload(seed, 2);
  fault_file_system fs;
  {
    auto target = open_file_journal(fs, options);
    ASSERT_TRUE(target) << target.error().to_string();
    ASSERT_TRUE((*target)->append_batch(work.batches[0]).is_ok());
    fs.inject_fault(fault_operation::sync, 1, EIO, fault_persistence::once);
    EXPECT_EQ((*target)->append_batch(work.batches[1]).code(), error_code::store_unavailable);
  }
  fs.restart_process();  // the process died, the machine did not: the page cache stays
  std::vector<recorded_event> served;
  {
    auto reopened = open_file_journal(fs, options);
    ASSERT_TRUE(reopened) << reopened.error().to_string();
    served = read_everything(**reopened);
    ASSERT_EQ(served, work.events_of_first(2)) << "the failed batch is whole in the page cache";
  }
  fs.crash(unsynced_bytes::dropped, seed);
  auto recovered = open_file_journal(fs, options);
  ASSERT_TRUE(recovered) << recovered.error().to_string();
  auto after_power_loss = read_everything(**recovered);
  ASSERT_EQ(after_power_loss.size(), served.size())
    << "a power loss took back events the journal had served";
  EXPECT_TRUE(after_power_loss == served);
}

}  // namespace
}  // namespace tally::testing
