// The generic aggregate runtime: an actor per aggregate instance (stream) around a
// pure decider, and a router that owns those actors. The bank account is one
// aggregate type (tally::bank::account_aggregate); hosts define their own the same way.
//
// An aggregate type `A` provides (see bank.hpp for a complete example):
//   using state_type, command_type, event_type;
//   static constexpr std::string_view name;            // for logs
//   static constexpr std::uint16_t state_format_version; // snapshot encoding version
//   static state_type initial_state();
//   static result<std::vector<event_type>> decide(const state_type&, const command_type&);
//   static state_type evolve(state_type, const event_type&);
//   static const std::string& stream_of(const command_type&);   // target stream id
//   static bool owns_stream(std::string_view);  // optional: the stream ids of this type
//                                               // (others are refused: invalid_argument)
//   static std::uint64_t command_hash(const command_type&);     // stable content hash
//   static std::string_view event_type_name(const event_type&);
//   static std::uint16_t event_schema_version(const event_type&);
//   static std::string encode_event(const event_type&);
//   static result<event_type> decode_event(std::string_view type, std::uint16_t schema,
//                                          std::string_view payload);
//   static std::string encode_state(const state_type&);
//   static std::optional<state_type> decode_state(std::string_view);
// and inspect() overloads for command_type (messages are inspectable).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace tally {

/// Limits and policies of aggregate actors.
struct aggregate_options {
  /// Save a snapshot every this many events per stream; 0 disables snapshots.
  std::uint64_t snapshot_interval_events = 0;
};

/// Command ids an aggregate remembers itself, so a quick retry of a command whose
/// append may still be in flight is answered without deciding it again. Small and
/// fixed: it costs memory in every resident aggregate.
inline constexpr std::size_t recent_command_ids_max = 16;

/// Limits and policies of a router.
struct router_options {
  /// At most this many aggregate actors live at once; the least recently used one is
  /// passivated to make room (it rehydrates from the journal on its next command).
  std::size_t resident_max = 100000;
  /// Aggregates idle longer than this are passivated; 0 disables idle passivation.
  std::chrono::milliseconds idle_max{std::chrono::minutes{10}};
  /// How often the router looks for idle aggregates.
  std::chrono::milliseconds sweep_interval{std::chrono::seconds{1}};
  /// Commands one passivating aggregate may hold back until its successor starts.
  std::size_t waiting_commands_max = 4096;
  aggregate_options aggregate;
};

}  // namespace tally

#include "tally/detail/aggregate_actor.hpp"
#include "tally/detail/aggregate_router.hpp"
