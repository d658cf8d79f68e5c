// Identifiers: 128-bit command/event ids and stream ids.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace tally {

/// A 128-bit identifier (command id, correlation id, event id). The all-zero value is
/// "nil" and means "absent" (e.g. no correlation id). Rendered as a UUID string.
struct command_id {
  std::uint64_t high = 0;
  std::uint64_t low = 0;

  bool is_nil() const noexcept { return high == 0 && low == 0; }

  /// Returns a random (version 4 layout) id from a per-thread generator seeded from
  /// std::random_device. Thread-safe.
  static command_id random();

  /// Returns the id for `text`: a UUID string (with or without dashes, any case) is
  /// parsed as such; any other non-empty text of at most `text_bytes_max` bytes is
  /// hashed to 128 bits (so clients may use their own id schemes). Empty or longer
  /// text yields nullopt.
  static std::optional<command_id> from_text(std::string_view text);

  /// Parses exactly the UUID form produced by to_string(); nullopt otherwise.
  static std::optional<command_id> parse(std::string_view uuid);

  /// Deterministically derives a new id from this one and a step label (used for the
  /// events of a command and the steps of a saga, so retries produce the same ids).
  command_id derive(std::string_view label, std::uint64_t index) const noexcept;

  static constexpr std::size_t text_bytes_max = 128;

  friend bool operator==(const command_id& a, const command_id& b) noexcept {
    return a.high == b.high && a.low == b.low;
  }
  friend bool operator!=(const command_id& a, const command_id& b) noexcept { return !(a == b); }
  friend bool operator<(const command_id& a, const command_id& b) noexcept {
    return a.high != b.high ? a.high < b.high : a.low < b.low;
  }
};

/// Lower-case UUID text "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx".
std::string to_string(const command_id& id);

/// Limits on stream (account) ids: non-empty, at most this many bytes, printable
/// ASCII without spaces, not "." or "..", no '/'. See validate_stream_id().
inline constexpr std::size_t stream_id_bytes_max = 64;

/// Returns true when `id` is an acceptable stream id (see stream_id_bytes_max).
bool is_valid_stream_id(std::string_view id) noexcept;

/// 64-bit FNV-1a with a splitmix finalizer; stable across platforms and versions
/// (it is persisted as the command fingerprint).
std::uint64_t stable_hash(std::string_view bytes, std::uint64_t seed = 0) noexcept;

}  // namespace tally

template <>
struct std::hash<tally::command_id> {
  std::size_t operator()(const tally::command_id& id) const noexcept {
    return static_cast<std::size_t>(id.high ^ (id.low * 0x9E3779B97F4A7C15ULL));
  }
};
