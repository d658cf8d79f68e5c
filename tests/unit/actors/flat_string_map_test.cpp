// The string-keyed map of the read models and the router (tally/detail/flat_string_map.hpp) against
// std::unordered_map over seeded random keys, through growths and erasures.
#include "tally/detail/flat_string_map.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <unordered_map>

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

}  // namespace
}  // namespace tally::detail
