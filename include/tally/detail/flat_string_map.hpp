// A map from strings (stream ids) to values for the per-command lookups of the router
// and the read models: open addressing with linear probing over 64-bit slots (32 hash
// bits | entry number + 1), entries (key and value side by side) in a vector. A lookup
// reads one slot (the slot array of 10,000 streams is 256 KiB at most and stays in
// cache) and one entry; std::unordered_map's node chain cost three dependent cache
// misses per lookup (bucket, the node before, the node): a fifth of the in-memory
// runtime's samples across the router and the projections.
//
// References to values stay valid until the next insertion or erasure (the entries are
// a vector; an erasure moves the last entry into the erased one's place).
// Not thread-safe: each actor owns its maps.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tally/assert.hpp"
#include "tally/detail/prefetch.hpp"
#include "tally/detail/text_hash.hpp"

namespace tally::detail {

template <class Value>
class flat_string_map {
public:
  using entry = std::pair<std::string, Value>;

  /// Most entries a map takes: the slot's 32 bits of entry number.
  static constexpr std::size_t entries_max = UINT32_MAX - 1;

  /// The value of `key`, nullptr when absent.
  const Value* find(std::string_view key) const noexcept {
    auto index = find_slot(key, hash(key));
    return index == npos ? nullptr : &entries_[number_of(slots_[index])].second;
  }
  Value* find(std::string_view key) noexcept {
    auto index = find_slot(key, hash(key));
    return index == npos ? nullptr : &entries_[number_of(slots_[index])].second;
  }

  /// The value of `key`, which must be present.
  Value& at(std::string_view key) noexcept {
    auto* value = find(key);
    TALLY_ASSERT_MSG(value != nullptr, "flat_string_map::at: no such key");
    return *value;
  }

  /// The value of `key`, added as Value{} when absent.
  Value& operator[](std::string_view key) {
    const std::uint64_t key_hash = hash(key);
    if (auto index = find_slot(key, key_hash); index != npos)
      return entries_[number_of(slots_[index])].second;
    TALLY_ASSERT(entries_.size() < entries_max);
    // Keep the load at most 1/2: short probe sequences, and an empty slot always exists.
    if ((entries_.size() + 1) * 2 > slots_.size())
      rebuild(slots_.empty() ? slots_min : slots_.size() * 2);
    entries_.emplace_back(std::string{key}, Value{});
    place(key_hash, static_cast<std::uint32_t>(entries_.size() - 1));
    return entries_.back().second;
  }

  /// Removes `key` (nothing when absent); returns whether it was there. The last entry
  /// takes the erased one's place in entries().
  bool erase(std::string_view key) {
    auto index = find_slot(key, hash(key));
    if (index == npos)
      return false;
    const std::uint32_t number = number_of(slots_[index]);
    remove_slot(index);
    const auto last = static_cast<std::uint32_t>(entries_.size() - 1);
    if (number != last) {
      auto moved = find_slot(entries_[last].first, hash(entries_[last].first));
      TALLY_ASSERT(moved != npos && number_of(slots_[moved]) == last);
      slots_[moved] = (slots_[moved] >> 32) << 32 | (std::uint64_t{number} + 1);
      entries_[number] = std::move(entries_[last]);
    }
    entries_.pop_back();
    return true;
  }

  /// A hint before a lookup of `key` a little later: starts loading the entry that the
  /// first slot of its probe names when that slot's hash bits match (the slots stay in
  /// cache, the entries do not). Changes nothing.
  void prefetch(std::string_view key) const noexcept {
    if (slots_.empty())
      return;
    const std::uint64_t key_hash = hash(key);
    const std::uint64_t slot = slots_[home_of(key_hash)];
    if (slot != 0 && (slot >> 32) == (key_hash >> 32)) {
      const char* named = reinterpret_cast<const char*>(&entries_[number_of(slot)]);
      detail::prefetch(named);
      detail::prefetch(named + sizeof(entry) - 1);
    }
  }

  std::size_t size() const noexcept { return entries_.size(); }
  bool empty() const noexcept { return entries_.empty(); }

  /// Every entry: in the order the keys were added, unless some were erased.
  const std::vector<entry>& entries() const noexcept { return entries_; }

  /// Calls `visit(key, value)` for every entry; `visit` must not insert or erase.
  template <class Visit>
  void for_each(Visit&& visit) {
    for (auto& [key, value] : entries_)
      visit(static_cast<const std::string&>(key), value);
  }

private:
  static constexpr std::size_t npos = SIZE_MAX;
  static constexpr std::size_t slots_min = 16;

  static std::uint64_t hash(std::string_view key) noexcept { return hash_text(key); }
  static std::uint32_t number_of(std::uint64_t slot) noexcept {
    return static_cast<std::uint32_t>(slot) - 1;
  }
  // The slot a key's probe starts at: from the hash bits the slot keeps, so an erasure
  // can tell where every other slot's probe started without hashing its key again.
  std::size_t home_of(std::uint64_t key_hash) const noexcept {
    return static_cast<std::size_t>(key_hash >> 32) & (slots_.size() - 1);
  }

  std::size_t find_slot(std::string_view key, std::uint64_t key_hash) const noexcept {
    if (slots_.empty())
      return npos;
    const std::size_t mask = slots_.size() - 1;
    for (std::size_t index = home_of(key_hash);; index = (index + 1) & mask) {
      const std::uint64_t slot = slots_[index];
      if (slot == 0)
        return npos;
      if ((slot >> 32) == (key_hash >> 32) && entries_[number_of(slot)].first == key)
        return index;
    }
  }

  void place(std::uint64_t key_hash, std::uint32_t number) noexcept {
    const std::size_t mask = slots_.size() - 1;
    std::size_t index = home_of(key_hash);
    while (slots_[index] != 0)
      index = (index + 1) & mask;
    slots_[index] = (key_hash >> 32) << 32 | (std::uint64_t{number} + 1);
  }

  // Empties slot `index` and shifts back the slots after it whose probe passed it, so
  // every remaining key is still found before an empty slot (no tombstones).
  void remove_slot(std::size_t index) noexcept {
    const std::size_t mask = slots_.size() - 1;
    std::size_t hole = index;
    for (std::size_t next = (index + 1) & mask; slots_[next] != 0; next = (next + 1) & mask) {
      const std::size_t home = home_of(slots_[next]);
      if (((next - home) & mask) >= ((next - hole) & mask)) {
        slots_[hole] = slots_[next];
        hole = next;
      }
    }
    slots_[hole] = 0;
  }

  void rebuild(std::size_t slot_count) {
    TALLY_ASSERT((slot_count & (slot_count - 1)) == 0 && slot_count >= slots_min
                 && slot_count >= (entries_.size() + 1) * 2);  // room for the entry being added
    slots_.assign(slot_count, 0);
    for (std::size_t number = 0; number < entries_.size(); ++number)
      place(hash(entries_[number].first), static_cast<std::uint32_t>(number));
  }

  std::vector<std::uint64_t> slots_;  // a power of two of them; 0: empty
  std::vector<entry> entries_;
};

}  // namespace tally::detail
