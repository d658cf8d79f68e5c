#include "tally/ids.hpp"

#include <random>

namespace tally {

namespace {

std::uint64_t mix64(std::uint64_t z) noexcept {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

// Parses 32 hex digits, optionally with dashes at the UUID positions (8-4-4-4-12).
std::optional<command_id> parse_hex(std::string_view text, bool dashes_required) {
  const bool with_dashes = text.size() == 36;
  if (!(with_dashes || (!dashes_required && text.size() == 32)))
    return std::nullopt;
  command_id id;
  int digits = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (with_dashes && (i == 8 || i == 13 || i == 18 || i == 23)) {
      if (text[i] != '-')
        return std::nullopt;
      continue;
    }
    int value = hex_value(text[i]);
    if (value < 0)
      return std::nullopt;
    auto& half = digits < 16 ? id.high : id.low;
    half = (half << 4) | static_cast<std::uint64_t>(value);
    ++digits;
  }
  return id;
}

}  // namespace

std::uint64_t stable_hash(std::string_view bytes, std::uint64_t seed) noexcept {
  std::uint64_t hash = 0xcbf29ce484222325ULL ^ mix64(seed + 0x9E3779B97F4A7C15ULL);
  for (unsigned char c : bytes) {
    hash ^= c;
    hash *= 0x100000001b3ULL;
  }
  return mix64(hash ^ bytes.size());
}

command_id command_id::random() {
  thread_local std::mt19937_64 generator{[] {
    std::random_device device;
    return (static_cast<std::uint64_t>(device()) << 32) ^ device();
  }()};
  command_id id{generator(), generator()};
  // Version 4 / variant 1 bits, so the text form is a well-formed random UUID.
  id.high = (id.high & ~0xF000ULL) | 0x4000ULL;
  id.low = (id.low & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL;
  return id;
}

std::optional<command_id> command_id::parse(std::string_view uuid) {
  return parse_hex(uuid, true);
}

std::optional<command_id> command_id::from_text(std::string_view text) {
  if (text.empty() || text.size() > text_bytes_max)
    return std::nullopt;
  if (auto id = parse_hex(text, false); id && !id->is_nil())
    return id;
  command_id id{stable_hash(text, 1), stable_hash(text, 2)};
  if (id.is_nil())
    id.low = 1;  // nil means "absent"; a real id must never be nil
  return id;
}

command_id command_id::derive(std::string_view label, std::uint64_t index) const noexcept {
  std::uint64_t label_hash = stable_hash(label, index);
  command_id id{mix64(high ^ label_hash) ^ low, mix64(low + label_hash + index) ^ high};
  if (id.is_nil())
    id.low = 1;
  return id;
}

std::string to_string(const command_id& id) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string text;
  text.reserve(36);
  for (int i = 0; i < 32; ++i) {
    if (i == 8 || i == 12 || i == 16 || i == 20)
      text.push_back('-');
    std::uint64_t half = i < 16 ? id.high : id.low;
    int shift = (15 - (i % 16)) * 4;
    text.push_back(digits[(half >> shift) & 0xF]);
  }
  return text;
}

bool is_valid_stream_id(std::string_view id) noexcept {
  if (id.empty() || id.size() > stream_id_bytes_max || id == "." || id == "..")
    return false;
  for (char c : id) {
    auto byte = static_cast<unsigned char>(c);
    // Printable ASCII only, no space, no '/' (ids appear in URL paths and file names).
    if (byte <= 0x20 || byte >= 0x7F || c == '/' || c == '\\')
      return false;
  }
  return true;
}

}  // namespace tally
