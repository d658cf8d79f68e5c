// The hash of the in-memory tables keyed by stream id (the router's and the read
// models' maps, the journals' stream tables). Every command hashes its stream id about
// ten times on its way through; std::hash<std::string_view> is an out-of-line call
// that takes a byte at a time through its tail, this is inline and takes 8 bytes at a
// time. Not persisted anywhere: those tables are rebuilt, never stored by slot.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace tally::detail {

/// SplitMix64's finalizer: every input bit affects every output bit. (The command-id
/// index places its slots by it, and index checkpoints store those slots: it must not
/// change.)
inline std::uint64_t mix_bits(std::uint64_t value) noexcept {
  value ^= value >> 30;
  value *= 0xBF58476D1CE4E5B9ULL;
  value ^= value >> 27;
  value *= 0x94D049BB133111EBULL;
  value ^= value >> 31;
  return value;
}

/// 64 well-mixed bits of `text` (every bit of the result depends on every byte).
inline std::uint64_t hash_text(std::string_view text) noexcept {
  constexpr std::uint64_t multiplier = 0x9E3779B97F4A7C15ULL;
  std::uint64_t hash = 0x243F6A8885A308D3ULL ^ (text.size() * multiplier);
  const char* next = text.data();
  std::size_t left = text.size();
  while (left >= 8) {
    std::uint64_t word;
    std::memcpy(&word, next, 8);
    hash = (hash ^ word) * multiplier;
    hash ^= hash >> 32;
    next += 8;
    left -= 8;
  }
  if (left > 0) {
    std::uint64_t word = 0;
    for (std::size_t i = 0; i < left; ++i)
      word |= static_cast<std::uint64_t>(static_cast<unsigned char>(next[i])) << (8 * i);
    hash = (hash ^ word) * multiplier;
    hash ^= hash >> 32;
  }
  // The tables use both the low bits (the slot) and the high ones (a tag), so every
  // input bit must reach both.
  return mix_bits(hash);
}

}  // namespace tally::detail
