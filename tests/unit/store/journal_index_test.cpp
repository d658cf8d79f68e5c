// The command index grows in steps: after a doubling, the previous table's entries move
// over a few per insert. Every entry must be found at every step, a change made to an
// entry that has not moved yet must move with it, and the table must be whole again
// long before it doubles once more.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "store/journal_index.hpp"

namespace tally::store {
namespace {

command_id id_of(std::uint64_t n) { return command_id{n * 0x9E3779B97F4A7C15ULL + 1, n}; }

// Inserts `id` the way the journals do: reserve, find (for the slot), insert_at.
command_table::entry& add(command_table& table, const command_id& id, std::uint64_t position) {
  table.reserve(table.size() + 1);
  const auto hash = command_table::hash(id);
  std::size_t slot = 0;
  EXPECT_EQ(table.find(id, hash, &slot), nullptr);
  auto& added = table.insert_at(id, slot);
  added.first_position = position;
  added.events = 1;
  return added;
}

std::size_t occupied_slots(const command_table& table) {
  std::size_t occupied = 0;
  for (std::size_t i = 0; i < table.capacity(); ++i)
    if (table.slots()[i].high != 0 || table.slots()[i].low != 0)
      ++occupied;
  return occupied;
}

TEST(command_table, every_entry_is_found_while_the_table_grows_in_steps) {
  command_table table;
  constexpr std::uint64_t count = 50'000;
  std::size_t doublings = 0;
  std::size_t inserts_while_growing = 0;
  std::size_t growth_inserts_max = 0;  // for the doubling under way
  for (std::uint64_t n = 1; n <= count; ++n) {
    const auto capacity_before = table.capacity();
    add(table, id_of(n), n);
    if (table.capacity() != capacity_before && capacity_before != 0) {
      ++doublings;
      // The doubling itself moved at most one insert's share.
      EXPECT_TRUE(table.growing()) << "after the doubling at " << n;
      inserts_while_growing = 0;
      growth_inserts_max = capacity_before / command_table::growth_moves_per_insert + 1;
    }
    if (table.growing()) {
      ++inserts_while_growing;
      ASSERT_LE(inserts_while_growing, growth_inserts_max) << "a table of "
        << growth_inserts_max * command_table::growth_moves_per_insert << " slots moves in C / 8";
    }
    // Every older entry is found, unchanged: all of them every 64 inserts while the
    // table grows, a sample otherwise.
    const std::uint64_t stride = table.growing() ? 1 : 997;
    if (table.growing() && n % 64 != 0)
      continue;
    for (std::uint64_t m = n % stride + 1; m <= n; m += stride) {
      const auto* found = table.find(id_of(m), command_table::hash(id_of(m)));
      ASSERT_NE(found, nullptr) << "entry " << m << " lost after inserting " << n;
      ASSERT_EQ(found->first_position, m);
    }
  }
  EXPECT_EQ(table.size(), count);
  EXPECT_GE(doublings, 10u);
  table.finish_growth();
  EXPECT_FALSE(table.growing());
  EXPECT_EQ(occupied_slots(table), count) << "each entry is in the table once";
}

TEST(command_table, a_change_to_an_entry_not_yet_moved_moves_with_it) {
  command_table table;
  std::uint64_t n = 1;
  // Fill up to the edge of a doubling, then trigger it with one insert.
  while (table.capacity() == 0 || (table.size() + 1) * 4 <= table.capacity() * 3) {
    add(table, id_of(n), n);
    ++n;
  }
  add(table, id_of(n), n);
  ++n;
  ASSERT_TRUE(table.growing());
  // An entry whose home is in the middle of the previous table: the moves so far (one
  // insert's share, from slot 0) have not reached it.
  const std::size_t previous_capacity = table.capacity() / 2;
  std::uint64_t target = 1;
  while ((command_table::hash(id_of(target)) & (previous_capacity - 1)) < previous_capacity / 2
         || (command_table::hash(id_of(target)) & (previous_capacity - 1)) > previous_capacity * 3 / 4)
    ++target;
  ASSERT_LT(target, n);
  auto* entry = table.find(id_of(target), command_table::hash(id_of(target)));
  ASSERT_NE(entry, nullptr);
  entry->events += 41;  // a later batch continues the command (the journals do this)
  while (table.growing()) {
    add(table, id_of(n), n);
    ++n;
  }
  const auto* moved = table.find(id_of(target), command_table::hash(id_of(target)));
  ASSERT_NE(moved, nullptr);
  EXPECT_NE(moved, entry) << "it moved to the larger table";
  EXPECT_EQ(moved->events, 42u);
  EXPECT_EQ(occupied_slots(table), table.size());
}

TEST(command_table, a_reserve_during_growth_finishes_it_first) {
  command_table table;
  std::uint64_t n = 1;
  while (!table.growing() || table.capacity() < 1024) {
    add(table, id_of(n), n);
    ++n;
  }
  ASSERT_TRUE(table.growing());
  table.reserve(table.capacity() * 2);  // a recovery sizing the index up front
  EXPECT_TRUE(table.growing());         // the new doubling, not the old one
  table.finish_growth();
  EXPECT_EQ(occupied_slots(table), table.size());
  for (std::uint64_t m = 1; m < n; ++m)
    ASSERT_NE(table.find(id_of(m), command_table::hash(id_of(m))), nullptr) << m;
}

// Fills `table` until the growth into a table of at least `bytes` has taken place.
std::uint64_t fill_past(command_table& table, std::size_t bytes, std::uint64_t n) {
  while (table.capacity() * (sizeof(command_table::entry) + 1) < bytes) {
    add(table, id_of(n), n);
    ++n;
  }
  return n;
}

constexpr std::size_t mapped_table_bytes = 4U * 1024 * 1024;

// Fills `table` until the first mapped table is at load 5/8 and its successor is being
// prepared (or a bound is reached); returns the next id number.
std::uint64_t fill_until_preparing(command_table& table) {
  std::uint64_t n = fill_past(table, mapped_table_bytes / 2, 1);
  while (table.preparing_capacity() == 0 && n < 1'000'000) {
    add(table, id_of(n), n);
    ++n;
  }
  return n;
}

TEST(command_table, a_large_table_grows_into_a_table_prepared_ahead_of_it) {
  command_table table;
  std::uint64_t n = fill_past(table, mapped_table_bytes / 2, 1);
  EXPECT_EQ(table.prepared_growths(), 0u) << "small tables are allocated when they grow";
  std::size_t capacity_when_prepared = 0;
  while (table.prepared_growths() < 2) {
    const auto capacity_before = table.capacity();
    add(table, id_of(n), n);
    ++n;
    if (table.preparing_capacity() != 0 && capacity_when_prepared != table.capacity()) {
      capacity_when_prepared = table.capacity();
      EXPECT_EQ(table.preparing_capacity(), table.capacity() * 2);
      EXPECT_GT(table.size() * 8, table.capacity() * 5) << "prepared from load 5/8";
    }
    if (table.capacity() != capacity_before) {
      EXPECT_EQ(table.preparing_capacity(), 0u) << "the growth took it";
      EXPECT_EQ(capacity_when_prepared, capacity_before);
    }
    ASSERT_LT(n, 1'000'000u) << "no growth took a prepared table";
  }
  // The prepared tables held no stray bytes (an entry or tag would be found or probed),
  // and every entry moved over.
  table.finish_growth();
  EXPECT_EQ(occupied_slots(table), table.size());
  for (std::uint64_t m = 1; m < n; ++m) {
    const auto* found = table.find(id_of(m), command_table::hash(id_of(m)));
    ASSERT_NE(found, nullptr) << "entry " << m << " lost";
    ASSERT_EQ(found->first_position, m);
  }
  EXPECT_EQ(table.find(id_of(n), command_table::hash(id_of(n))), nullptr);
}

TEST(command_table, a_prepared_table_of_the_wrong_size_is_dropped) {
  command_table table;
  std::uint64_t n = fill_until_preparing(table);
  ASSERT_NE(table.preparing_capacity(), 0u) << "no table was prepared";
  const auto prepared = table.preparing_capacity();
  table.reserve(prepared * 2);  // a recovery sizing the index up front
  EXPECT_GE(table.capacity(), prepared * 4);
  EXPECT_EQ(table.prepared_growths(), 0u);
  EXPECT_EQ(table.preparing_capacity(), 0u);
  table.finish_growth();
  EXPECT_EQ(occupied_slots(table), table.size());
  for (std::uint64_t m = 1; m < n; ++m)
    ASSERT_NE(table.find(id_of(m), command_table::hash(id_of(m))), nullptr) << m;
}

TEST(command_table, clear_and_destruction_wait_for_a_table_being_prepared) {
  command_table table;
  fill_until_preparing(table);
  ASSERT_NE(table.preparing_capacity(), 0u) << "no table was prepared";
  table.clear();
  EXPECT_EQ(table.preparing_capacity(), 0u);
  EXPECT_EQ(table.size(), 0u);
  add(table, id_of(1), 7);
  EXPECT_EQ(table.find(id_of(1), command_table::hash(id_of(1)))->first_position, 7u);
  command_table destroyed_while_preparing;
  fill_until_preparing(destroyed_while_preparing);
  ASSERT_NE(destroyed_while_preparing.preparing_capacity(), 0u) << "no table was prepared";
}  // (sanitizer builds see a thread or mapping that outlives its table)

TEST(command_table, clear_drops_both_tables) {
  command_table table;
  std::uint64_t n = 1;
  while (!table.growing()) {
    add(table, id_of(n), n);
    ++n;
  }
  table.clear();
  EXPECT_FALSE(table.growing());
  EXPECT_EQ(table.size(), 0u);
  EXPECT_EQ(table.find(id_of(1), command_table::hash(id_of(1))), nullptr);
  add(table, id_of(1), 7);
  EXPECT_EQ(table.find(id_of(1), command_table::hash(id_of(1)))->first_position, 7u);
}

TEST(command_table, ids_that_share_a_tag_are_told_apart_by_their_entries) {
  // A probe skips slots by their tag byte and compares the entry only where the tag
  // matches: ids whose hashes share that byte must still find their own entries, and
  // an unknown id with the same tag must find none.
  const std::uint8_t shared = command_table::tag_of(command_table::hash(id_of(1)));
  std::vector<command_id> same_tag;
  for (std::uint64_t n = 1; same_tag.size() < 301; ++n)
    if (command_table::tag_of(command_table::hash(id_of(n))) == shared)
      same_tag.push_back(id_of(n));
  const command_id unknown = same_tag.back();
  same_tag.pop_back();
  command_table table;
  for (std::size_t i = 0; i < same_tag.size(); ++i)
    add(table, same_tag[i], i + 1);
  table.finish_growth();
  for (std::size_t i = 0; i < same_tag.size(); ++i) {
    const auto* found = table.find(same_tag[i], command_table::hash(same_tag[i]));
    ASSERT_NE(found, nullptr) << i;
    EXPECT_EQ(found->first_position, i + 1);
    EXPECT_EQ(found->high, same_tag[i].high);
  }
  EXPECT_EQ(table.find(unknown, command_table::hash(unknown)), nullptr);
}

TEST(command_table, a_table_assigned_from_its_slots_finds_every_entry) {
  // Loading an index checkpoint: the slots are copied in raw, then tagged.
  command_table table;
  constexpr std::uint64_t count = 5'000;
  for (std::uint64_t n = 1; n <= count; ++n)
    add(table, id_of(n), n);
  table.finish_growth();
  command_table loaded;
  auto* slots = loaded.assign_raw(table.capacity(), table.size());
  ASSERT_NE(slots, nullptr);
  std::copy(table.slots(), table.slots() + table.capacity(), slots);
  EXPECT_EQ(loaded.find(id_of(1), command_table::hash(id_of(1))), nullptr);  // not tagged yet
  ASSERT_TRUE(loaded.tag_assigned());
  for (std::uint64_t n = 1; n <= count; ++n) {
    const auto* found = loaded.find(id_of(n), command_table::hash(id_of(n)));
    ASSERT_NE(found, nullptr) << n;
    EXPECT_EQ(found->first_position, n);
  }
  EXPECT_EQ(loaded.find(id_of(count + 1), command_table::hash(id_of(count + 1))), nullptr);
  // Inserts after loading go where probes find them.
  add(loaded, id_of(count + 1), count + 1);
  EXPECT_EQ(loaded.find(id_of(count + 1), command_table::hash(id_of(count + 1)))->first_position,
            count + 1);

  command_table miscounted;
  slots = miscounted.assign_raw(table.capacity(), table.size() + 1);
  ASSERT_NE(slots, nullptr);
  std::copy(table.slots(), table.slots() + table.capacity(), slots);
  EXPECT_FALSE(miscounted.tag_assigned());
}

}  // namespace
}  // namespace tally::store
