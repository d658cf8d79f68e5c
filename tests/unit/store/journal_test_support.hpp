// Shared helpers for the store tests: seeded workloads of command batches and
// comparison of what a journal holds with what was submitted.
#pragma once

#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tally/event.hpp"
#include "tally/journal.hpp"

namespace tally::testing {

/// The seed for a randomized test: TALLY_SEED from the environment when set (to
/// replay a failure), `fallback` otherwise.
inline std::uint64_t test_seed(std::uint64_t fallback) {
  if (const char* text = std::getenv("TALLY_SEED"))
    return std::stoull(text);
  return fallback;
}

inline std::string seed_trace(std::uint64_t seed) {
  return "replay with TALLY_SEED=" + std::to_string(seed);
}

/// One event with every envelope field set from its coordinates, so a decoding bug
/// in any field shows up as a mismatch.
inline recorded_event make_event(std::uint64_t position, const std::string& stream_id,
                                 std::uint64_t stream_version, const command_id& command,
                                 std::uint64_t index_in_command, std::size_t payload_bytes) {
  recorded_event event;
  event.position = position;
  event.stream_id = stream_id;
  event.stream_version = stream_version;
  event.event_id = command.derive("event", index_in_command);
  event.type = index_in_command % 2 == 0 ? "money_deposited" : "money_withdrawn";
  event.schema_version = static_cast<std::uint16_t>(1 + index_in_command % 3);
  event.payload.resize(payload_bytes);
  for (std::size_t i = 0; i < payload_bytes; ++i)
    event.payload[i] = static_cast<char>((position * 31 + i * 7) & 0xFF);
  event.command = command;
  event.correlation = command_id{position, stream_version};
  event.command_hash = command.high ^ 0x5bd1e995ULL;
  event.timestamp_ns = static_cast<std::int64_t>(1'700'000'000'000'000'000LL + position);
  return event;
}

/// A sequence of commands, each one append batch of 1-5 events on one of a few
/// streams, with positions and versions as if every batch is applied in order.
struct workload {
  std::vector<std::vector<recorded_event>> batches;

  std::vector<recorded_event> events_of_first(std::size_t batch_count) const {
    std::vector<recorded_event> out;
    for (std::size_t i = 0; i < batch_count; ++i)
      out.insert(out.end(), batches[i].begin(), batches[i].end());
    return out;
  }
};

inline workload make_workload(std::uint64_t seed, std::size_t commands,
                              std::size_t streams = 7, std::size_t payload_bytes_max = 64) {
  std::mt19937_64 random{seed};
  workload out;
  std::map<std::string, std::uint64_t> versions;
  std::uint64_t position = 1;
  for (std::size_t c = 0; c < commands; ++c) {
    std::string stream = "account-" + std::to_string(random() % streams);
    command_id command{random() | 1, random()};
    std::size_t count = 1 + random() % 5;
    std::vector<recorded_event> batch;
    for (std::size_t i = 0; i < count; ++i)
      batch.push_back(make_event(position++, stream, ++versions[stream], command, i,
                                 random() % (payload_bytes_max + 1)));
    out.batches.push_back(std::move(batch));
  }
  return out;
}

/// Every event of `journal`, read with read_all in pages.
inline std::vector<recorded_event> read_everything(const journal& source) {
  std::vector<recorded_event> out;
  for (;;) {
    auto page = source.read_all(out.size() + 1, 1000);
    if (!page) {
      ADD_FAILURE() << "read_all failed: " << page.error().to_string();
      return out;
    }
    if (page->empty())
      return out;
    out.insert(out.end(), page->begin(), page->end());
  }
}

}  // namespace tally::testing
