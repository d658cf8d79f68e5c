// A map from strings (account ids) to values for the read models, built for the lookup
// a projection does per event: open addressing over 64-bit slots (32 hash bits | entry
// number + 1), entries (key and value side by side) in a vector in insertion order.
// A lookup reads one slot (the slot array of 10,000 accounts is 128 KiB and stays in
// cache) and one entry; std::unordered_map's node chain cost three dependent cache
// misses per lookup (bucket, the node before, the node), a fifth of the in-memory
// runtime's samples across the projections and the router.
//
// Entries are never removed (an account, once opened, stays in the read models).
// Not thread-safe: each projection owns its map.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tally/assert.hpp"

namespace tally::detail {

template <class Value>
class flat_string_map {
public:
  using entry = std::pair<std::string, Value>;

  /// Most entries a map takes: the slot's 32 bits of entry number.
  static constexpr std::size_t entries_max = UINT32_MAX - 1;

  /// The value of `key`, nullptr when absent.
  const Value* find(std::string_view key) const noexcept {
    auto number = find_number(key, hash(key));
    return number == npos ? nullptr : &entries_[number].second;
  }
  Value* find(std::string_view key) noexcept {
    auto number = find_number(key, hash(key));
    return number == npos ? nullptr : &entries_[number].second;
  }

  /// The value of `key`, added as Value{} when absent.
  Value& operator[](std::string_view key) {
    const std::uint64_t key_hash = hash(key);
    auto number = find_number(key, key_hash);
    if (number != npos)
      return entries_[number].second;
    TALLY_ASSERT(entries_.size() < entries_max);
    // Keep the load at most 1/2: short probe sequences, and an empty slot always exists.
    if ((entries_.size() + 1) * 2 > slots_.size())
      grow();
    entries_.emplace_back(std::string{key}, Value{});
    place(key_hash, static_cast<std::uint32_t>(entries_.size() - 1));
    return entries_.back().second;
  }

  std::size_t size() const noexcept { return entries_.size(); }
  bool empty() const noexcept { return entries_.empty(); }

  /// Every entry, in the order the keys were added.
  const std::vector<entry>& entries() const noexcept { return entries_; }

  void reserve(std::size_t count) {
    entries_.reserve(count);
    std::size_t wanted = slots_.empty() ? 16 : slots_.size();
    while (wanted < count * 2)
      wanted *= 2;
    if (wanted > slots_.size())
      rebuild(wanted);
  }

private:
  static constexpr std::uint32_t npos = UINT32_MAX;

  static std::uint64_t hash(std::string_view key) noexcept {
    return std::hash<std::string_view>{}(key);
  }

  static std::uint64_t slot_of(std::uint64_t key_hash, std::uint32_t number) noexcept {
    return (key_hash >> 32) << 32 | (std::uint64_t{number} + 1);
  }

  std::uint32_t find_number(std::string_view key, std::uint64_t key_hash) const noexcept {
    if (slots_.empty())
      return npos;
    const std::size_t mask = slots_.size() - 1;
    for (std::size_t index = key_hash & mask;; index = (index + 1) & mask) {
      const std::uint64_t slot = slots_[index];
      if (slot == 0)
        return npos;
      if ((slot >> 32) == (key_hash >> 32)) {
        auto number = static_cast<std::uint32_t>(slot) - 1;
        if (entries_[number].first == key)
          return number;
      }
    }
  }

  void place(std::uint64_t key_hash, std::uint32_t number) noexcept {
    const std::size_t mask = slots_.size() - 1;
    std::size_t index = key_hash & mask;
    while (slots_[index] != 0)
      index = (index + 1) & mask;
    slots_[index] = slot_of(key_hash, number);
  }

  void grow() { rebuild(slots_.empty() ? 16 : slots_.size() * 2); }

  void rebuild(std::size_t slot_count) {
    TALLY_ASSERT((slot_count & (slot_count - 1)) == 0 && slot_count >= 16
                 && slot_count >= entries_.size() * 2);
    slots_.assign(slot_count, 0);
    for (std::size_t number = 0; number < entries_.size(); ++number)
      place(hash(entries_[number].first), static_cast<std::uint32_t>(number));
  }

  std::vector<std::uint64_t> slots_;  // power of two; 0: empty
  std::vector<entry> entries_;
};

}  // namespace tally::detail
