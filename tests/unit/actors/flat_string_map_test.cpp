// The string-keyed map of the read models and the router (tally/detail/flat_string_map.hpp) against
// std::unordered_map over seeded random keys, through growths and erasures.
#include "tally/detail/flat_string_map.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace tally::detail {
namespace {

TEST(flat_string_map, finds_what_was_added_and_nothing_else_through_growth) {
  for (std::uint64_t seed : {1u, 2u, 3u}) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937_64 random{seed};
    flat_string_map<std::int64_t> map;
    std::unordered_map<std::string, std::int64_t> expected;
    std::vector<std::string> order;
    for (int step = 0; step < 20'000; ++step) {
      // Short ids (as accounts use), long ones (no small-string storage), and repeats.
      auto number = random() % 6'000;
      std::string key = (number % 3 == 0 ? std::string(40, 'x') : std::string{"acct-"})
                        + std::to_string(number);
      auto delta = static_cast<std::int64_t>(random() % 100);
      if (expected.count(key) == 0)
        order.push_back(key);
      map[key] += delta;
      expected[key] += delta;
      ASSERT_EQ(map.size(), expected.size());
    }
    for (const auto& [key, value] : expected) {
      ASSERT_NE(map.find(key), nullptr) << key;
      EXPECT_EQ(*map.find(key), value) << key;
    }
    EXPECT_EQ(map.find("acct-6000"), nullptr);
    EXPECT_EQ(map.find(""), nullptr);
    ASSERT_EQ(map.entries().size(), order.size());
    for (std::size_t index = 0; index < order.size(); ++index)
      EXPECT_EQ(map.entries()[index].first, order[index]);  // insertion order
  }
}

TEST(flat_string_map, erasing_keeps_every_other_key_findable) {
  for (std::uint64_t seed : {4u, 5u, 6u}) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937_64 random{seed};
    flat_string_map<std::uint64_t> map;
    std::unordered_map<std::string, std::uint64_t> expected;
    // Few distinct keys against many operations: long probe runs form, wrap around the
    // slot array's end and are shifted back by erasures again and again.
    for (int step = 0; step < 50'000; ++step) {
      std::string key = "stream-" + std::to_string(random() % 300);
      switch (random() % 3) {
        case 0:
          map[key] = static_cast<std::uint64_t>(step);
          expected[key] = static_cast<std::uint64_t>(step);
          break;
        case 1:
          ASSERT_EQ(map.erase(key), expected.erase(key) == 1) << key;
          break;
        default: {
          map.prefetch(key);  // a hint: changes nothing (and stays inside the map, under ASan)
          auto found = expected.find(key);
          if (found == expected.end()) {
            ASSERT_EQ(map.find(key), nullptr) << key;
          } else {
            ASSERT_NE(map.find(key), nullptr) << key;
            ASSERT_EQ(*map.find(key), found->second) << key;
          }
        }
      }
      ASSERT_EQ(map.size(), expected.size());
    }
    for (const auto& [key, value] : expected)
      ASSERT_EQ(map.at(key), value) << key;
    std::size_t visited = 0;
    map.for_each([&](const std::string& key, std::uint64_t& value) {
      ++visited;
      EXPECT_EQ(expected.at(key), value);
    });
    EXPECT_EQ(visited, expected.size());
    for (const auto& [key, value] : expected)
      EXPECT_TRUE(map.erase(key));
    EXPECT_TRUE(map.empty());
    EXPECT_FALSE(map.erase("stream-0"));
  }
}

TEST(flat_string_map, an_empty_map_finds_nothing_and_the_empty_string_is_a_key) {
  flat_string_map<int> map;
  EXPECT_TRUE(map.empty());
  map.prefetch("a");
  EXPECT_EQ(map.find("a"), nullptr);
  EXPECT_FALSE(map.erase("a"));
  map["a"] = 1;
  map["b"] = 2;
  EXPECT_EQ(map.size(), 2u);
  ASSERT_NE(map.find("a"), nullptr);
  EXPECT_EQ(*map.find("a"), 1);
  ASSERT_NE(map.find("b"), nullptr);
  EXPECT_EQ(*map.find("b"), 2);
  map[""] = 3;  // the empty string is a key like any other
  ASSERT_NE(map.find(""), nullptr);
  EXPECT_EQ(*map.find(""), 3);
}

TEST(hash_text, every_byte_changes_the_hash_and_account_ids_spread_over_both_ends) {
  // Each byte of texts of every length up to 24, flipped one bit at a time, gives a
  // hash never seen before (a byte the loop or the tail dropped would repeat one).
  std::unordered_set<std::uint64_t> seen;
  std::size_t hashed = 0;
  for (std::size_t length = 0; length <= 24; ++length) {
    std::string text(length, 'a');
    ASSERT_TRUE(seen.insert(hash_text(text)).second) << length;
    ++hashed;
    for (std::size_t at = 0; at < length; ++at)
      for (int bit = 0; bit < 8; ++bit) {
        std::string changed = text;
        changed[at] = static_cast<char>(changed[at] ^ (1 << bit));
        ASSERT_TRUE(seen.insert(hash_text(changed)).second) << length << " " << at << " " << bit;
        ++hashed;
      }
  }
  EXPECT_EQ(seen.size(), hashed);
  // The maps take the slot from one end of the hash and a tag from the other: 10,000
  // account ids over 16,384 slots by either end fill about as many as random keys do
  // (1 - e^-0.61 of them: about 7,480; a weak mix of the short, similar ids would fill far
  // fewer).
  std::vector<bool> by_low(16'384), by_high(16'384);
  for (int number = 0; number < 10'000; ++number) {
    const auto hash = hash_text("acct-" + std::to_string(number));
    by_low[hash & 16'383] = true;
    by_high[hash >> 50] = true;
  }
  const auto filled_low = std::count(by_low.begin(), by_low.end(), true);
  const auto filled_high = std::count(by_high.begin(), by_high.end(), true);
  EXPECT_GT(filled_low, 7'200);
  EXPECT_LT(filled_low, 7'650);
  EXPECT_GT(filled_high, 7'200);
  EXPECT_LT(filled_high, 7'650);
}

}  // namespace
}  // namespace tally::detail
