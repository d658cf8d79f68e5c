// Little-endian byte encoding for event payloads, snapshots and checkpoints: fixed-width
// fields and short texts (docs/log_format.md), a writer that appends and a reader that
// checks every bound (decoding untrusted bytes never crashes).
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>

#include "tally/assert.hpp"

namespace tally {

template <class Unsigned>
void append_le(std::string& out, Unsigned value) {
  static_assert(std::is_unsigned_v<Unsigned>);
  // One append of the whole field (the compiler makes the loop one store on a
  // little-endian host): a push_back per byte cost ten times as much, and checkpoints
  // of large read models append millions of fields.
  char bytes[sizeof(Unsigned)];
  for (std::size_t i = 0; i < sizeof(Unsigned); ++i)
    bytes[i] = static_cast<char>((value >> (8 * i)) & 0xFF);
  out.append(bytes, sizeof bytes);
}

// Reads the first bytes of `in`; the caller has checked there are enough.
template <class Unsigned>
Unsigned load_le(std::string_view in) {
  static_assert(std::is_unsigned_v<Unsigned>);
  TALLY_ASSERT(in.size() >= sizeof(Unsigned));
  Unsigned value = 0;
  for (std::size_t i = 0; i < sizeof(Unsigned); ++i) {
    const auto byte = static_cast<Unsigned>(static_cast<unsigned char>(in[i]));
    value |= static_cast<Unsigned>(byte << (8 * i));
  }
  return value;
}

inline void append_u32_le(std::string& out, std::uint32_t value) { append_le(out, value); }
inline void append_u64_le(std::string& out, std::uint64_t value) { append_le(out, value); }
inline void append_i64_le(std::string& out, std::int64_t value) {
  append_le(out, static_cast<std::uint64_t>(value));
}
inline std::uint32_t load_u32_le(std::string_view in) { return load_le<std::uint32_t>(in); }
inline std::uint64_t load_u64_le(std::string_view in) { return load_le<std::uint64_t>(in); }
inline std::int64_t load_i64_le(std::string_view in) {
  return static_cast<std::int64_t>(load_le<std::uint64_t>(in));
}

// A text of at most 255 bytes behind a one-byte length (account and transfer ids).
inline void append_short_text(std::string& out, std::string_view text) {
  TALLY_ASSERT(text.size() <= 255);
  out.push_back(static_cast<char>(text.size()));
  out.append(text.data(), text.size());
}

// Takes a short text off the front of `in`; false (and `in` unchanged) when the bytes
// end before it does.
inline bool take_short_text(std::string_view& in, std::string& text) {
  if (in.empty())
    return false;
  auto length = static_cast<std::size_t>(static_cast<unsigned char>(in[0]));
  if (in.size() < 1 + length)
    return false;
  text.assign(in.substr(1, length));
  in.remove_prefix(1 + length);
  return true;
}

class byte_writer {
public:
  void u8(std::uint8_t value) { bytes_.push_back(static_cast<char>(value)); }
  void u64(std::uint64_t value) { append_u64_le(bytes_, value); }
  void i64(std::int64_t value) { u64(static_cast<std::uint64_t>(value)); }
  void text(std::string_view value) {
    u64(value.size());
    bytes_.append(value.data(), value.size());
  }
  std::string& bytes() { return bytes_; }

private:
  std::string bytes_;
};

class byte_reader {
public:
  explicit byte_reader(std::string_view bytes) : bytes_(bytes) {}

  bool u8(std::uint8_t& value) {
    if (bytes_.size() < 1)
      return false;
    value = static_cast<std::uint8_t>(bytes_[0]);
    bytes_.remove_prefix(1);
    return true;
  }
  bool u64(std::uint64_t& value) {
    if (bytes_.size() < 8)
      return false;
    value = load_u64_le(bytes_);
    bytes_.remove_prefix(8);
    return true;
  }
  bool i64(std::int64_t& value) {
    std::uint64_t bits = 0;
    if (!u64(bits))
      return false;
    value = static_cast<std::int64_t>(bits);
    return true;
  }
  bool text(std::string& value) {
    std::uint64_t size = 0;
    if (!u64(size) || size > bytes_.size())
      return false;
    value.assign(bytes_.data(), size);
    bytes_.remove_prefix(size);
    return true;
  }
  bool at_end() const { return bytes_.empty(); }

private:
  std::string_view bytes_;
};

}  // namespace tally
