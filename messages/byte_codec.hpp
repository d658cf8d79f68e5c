// Little-endian byte encoding for checkpoints and snapshots: a writer that appends
// and a reader that checks every bound (decoding untrusted bytes never crashes).
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace tally {

class byte_writer {
public:
  void u8(std::uint8_t value) { bytes_.push_back(static_cast<char>(value)); }
  void u64(std::uint64_t value) {
    for (int i = 0; i < 8; ++i)
      bytes_.push_back(static_cast<char>((value >> (8 * i)) & 0xFF));
  }
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
    value = 0;
    for (int i = 0; i < 8; ++i)
      value |= static_cast<std::uint64_t>(static_cast<unsigned char>(bytes_[i])) << (8 * i);
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
