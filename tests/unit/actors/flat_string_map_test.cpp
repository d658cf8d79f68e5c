// The read models' string-keyed map (actors/projections/flat_string_map.hpp) against
// std::unordered_map over seeded random keys, through many growths.
#include "actors/projections/flat_string_map.hpp"

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

TEST(flat_string_map, an_empty_map_finds_nothing_and_reserve_keeps_entries) {
  flat_string_map<int> map;
  EXPECT_TRUE(map.empty());
  EXPECT_EQ(map.find("a"), nullptr);
  map["a"] = 1;
  map["b"] = 2;
  map.reserve(1'000);
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
