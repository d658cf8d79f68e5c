// Takes typed values from the front of a fuzz input. Never fails: past the end it
// yields zeros and empty strings, so every input, however short, is a valid test case.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <type_traits>

namespace tally::fuzz {

class fuzz_input {
public:
  fuzz_input(const std::uint8_t* data, std::size_t size)
    : bytes_(reinterpret_cast<const char*>(data), size) {}

  /// The next sizeof(T) bytes as a little-endian unsigned integer (zero-filled).
  template <class T>
  T take_integer() noexcept {
    static_assert(std::is_unsigned_v<T>);
    T value = 0;
    for (std::size_t i = 0; i < sizeof(T) && !bytes_.empty(); ++i) {
      value = static_cast<T>(value | (static_cast<T>(static_cast<unsigned char>(bytes_.front()))
                                      << (8 * i)));
      bytes_.remove_prefix(1);
    }
    return value;
  }

  std::uint8_t take_byte() noexcept { return take_integer<std::uint8_t>(); }

  /// The next `count` bytes, or all that are left when fewer.
  std::string_view take_bytes(std::size_t count) noexcept {
    auto taken = bytes_.substr(0, std::min(count, bytes_.size()));
    bytes_.remove_prefix(taken.size());
    return taken;
  }

  /// Everything that is left.
  std::string_view take_rest() noexcept { return take_bytes(bytes_.size()); }

  std::size_t remaining() const noexcept { return bytes_.size(); }

private:
  std::string_view bytes_;
};

/// True when `text` is printable ASCII (0x20..0x7e): safe to log and to put in JSON.
inline bool is_printable_ascii_text(std::string_view text) noexcept {
  return std::all_of(text.begin(), text.end(), [](char c) {
    return static_cast<unsigned char>(c) >= 0x20 && static_cast<unsigned char>(c) <= 0x7e;
  });
}

/// True when `name` is a stable snake_case rule name ("amount_not_an_integer").
inline bool is_snake_case(std::string_view name) noexcept {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

}  // namespace tally::fuzz
