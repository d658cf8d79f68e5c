// The event envelope: what the journal stores and what subscribers receive.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tally/ids.hpp"

namespace tally {

/// Sentinel for "no version check" in an append.
inline constexpr std::uint64_t any_version = UINT64_MAX;

/// One committed (or about to be committed) event. Positions are global, 1-based and
/// gapless; stream versions are per stream, 1-based and gapless. The payload is opaque
/// to the journal: the aggregate's codec encodes and decodes it.
struct recorded_event {
  std::uint64_t position = 0;        ///< global position, assigned at commit
  std::string stream_id;             ///< e.g. an account id
  std::uint64_t stream_version = 0;  ///< version of the stream after this event
  command_id event_id;               ///< unique per event (derived, so retries agree)
  std::string type;                  ///< event type name, e.g. "money_deposited"
  std::uint16_t schema_version = 1;  ///< version of the payload encoding for `type`
  std::string payload;               ///< encoded event data (aggregate codec)
  command_id command;                ///< causation: the command that produced it
  command_id correlation;            ///< optional correlation id (nil when absent)
  std::uint64_t command_hash = 0;    ///< fingerprint of the command's content (dedup)
  std::int64_t timestamp_ns = 0;     ///< commit time, nanoseconds since the Unix epoch

  friend bool operator==(const recorded_event& a, const recorded_event& b) {
    return a.position == b.position && a.stream_id == b.stream_id
           && a.stream_version == b.stream_version && a.event_id == b.event_id
           && a.type == b.type && a.schema_version == b.schema_version
           && a.payload == b.payload && a.command == b.command
           && a.correlation == b.correlation && a.command_hash == b.command_hash
           && a.timestamp_ns == b.timestamp_ns;
  }
  friend bool operator!=(const recorded_event& a, const recorded_event& b) { return !(a == b); }
};

/// A committed batch, shared immutably between the store, the writer and
/// every subscriber: one allocation, never copied.
using event_batch = std::shared_ptr<const std::vector<recorded_event>>;

/// What the store remembers about an applied command, so a retry with the same
/// command id gets the original outcome back.
struct command_record {
  std::string stream_id;
  std::uint64_t command_hash = 0;
  std::uint64_t first_version = 0;   ///< stream version of the command's first event
  std::uint64_t last_version = 0;    ///< stream version after the command
  std::uint64_t first_position = 0;  ///< global position of the first event
  std::uint64_t last_position = 0;   ///< global position of the last event
};

}  // namespace tally
