// A second aggregate, unrelated to the bank: a counter that can be incremented up to
// a limit. It goes through the same public API as the account, which shows the
// runtime is generic.
#pragma once

#include <string>
#include <variant>
#include <vector>

#include "tally/aggregate.hpp"
#include "tally/protocol.hpp"

namespace counter {

struct increment {
  std::string counter_id;
  std::int64_t by = 1;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, increment& x) {
  return f(caf::meta::type_name("increment"), x.counter_id, x.by);
}

struct incremented {
  std::int64_t by = 0;
};

struct state {
  std::int64_t value = 0;
};

/// Rejects increments that would pass `limit` (with limit_exceeded).
inline constexpr std::int64_t limit = 100;

struct aggregate {
  using state_type = state;
  using command_type = increment;
  using event_type = incremented;
  static constexpr std::string_view name = "counter";
  static constexpr std::uint16_t state_format_version = 1;

  static state_type initial_state() { return {}; }
  static tally::result<std::vector<event_type>> decide(const state_type& current,
                                                       const command_type& command) {
    if (command.by <= 0)
      return tally::error_code::amount_must_be_positive;
    if (current.value + command.by > limit)
      return tally::error_code::limit_exceeded;
    return std::vector<event_type>{incremented{command.by}};
  }
  static state_type evolve(state_type current, const event_type& event) {
    current.value += event.by;
    return current;
  }
  static const std::string& stream_of(const command_type& command) { return command.counter_id; }
  static std::uint64_t command_hash(const command_type& command) {
    return tally::stable_hash(command.counter_id + "/" + std::to_string(command.by));
  }
  static std::string_view event_type_name(const event_type&) { return "counter_incremented"; }
  static std::uint16_t event_schema_version(const event_type&) { return 1; }
  static std::string encode_event(const event_type& event) { return std::to_string(event.by); }
  static tally::result<event_type> decode_event(std::string_view type, std::uint16_t,
                                                std::string_view payload) {
    if (type != "counter_incremented")
      return tally::error_code::invalid_argument;
    return incremented{std::stoll(std::string{payload})};
  }
  static std::string encode_state(const state_type& current) { return std::to_string(current.value); }
  static std::optional<state_type> decode_state(std::string_view bytes) {
    return state_type{std::stoll(std::string{bytes})};
  }
};

}  // namespace counter
