#include "store/crc32c.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "journal_test_support.hpp"

namespace tally::store {
namespace {

TEST(crc32c, matches_known_vectors) {
  EXPECT_EQ(crc32c(""), 0x00000000U);
  EXPECT_EQ(crc32c("123456789"), 0xE3069283U);
  EXPECT_EQ(crc32c("a"), 0xC1D04330U);
  // RFC 3720 (iSCSI) B.4 test patterns.
  EXPECT_EQ(crc32c(std::string(32, '\0')), 0x8A9136AAU);
  EXPECT_EQ(crc32c(std::string(32, '\xFF')), 0x62A8AB43U);
  std::string ascending(32, '\0');
  for (int i = 0; i < 32; ++i)
    ascending[static_cast<std::size_t>(i)] = static_cast<char>(i);
  EXPECT_EQ(crc32c(ascending), 0x46DD794EU);
}

TEST(crc32c, extend_equals_crc_of_concatenation) {
  std::string text = "hello, durable world";
  for (std::size_t split = 0; split <= text.size(); ++split) {
    std::uint32_t first = crc32c_extend(0, text.data(), split);
    EXPECT_EQ(crc32c_extend(first, text.data() + split, text.size() - split), crc32c(text));
  }
}

TEST(crc32c, hardware_and_software_agree_on_random_data) {
  if (!detail::crc32c_hardware_available())
    GTEST_SKIP() << "no SSE4.2 on this CPU";
  std::uint64_t seed = testing::test_seed(20240501);
  SCOPED_TRACE(testing::seed_trace(seed));
  std::mt19937_64 random{seed};
  for (int round = 0; round < 2000; ++round) {
    std::string data(random() % 300, '\0');
    for (auto& byte : data)
      byte = static_cast<char>(random());
    std::size_t offset = data.empty() ? 0 : random() % data.size();  // unaligned starts
    std::uint32_t initial = static_cast<std::uint32_t>(random());
    ASSERT_EQ(detail::crc32c_hardware(initial, data.data() + offset, data.size() - offset),
              detail::crc32c_software(initial, data.data() + offset, data.size() - offset));
  }
}

TEST(crc32c, mask_round_trips_and_changes_the_value) {
  for (std::uint32_t value : {0U, 1U, 0xE3069283U, 0xFFFFFFFFU}) {
    EXPECT_EQ(unmask_crc(mask_crc(value)), value);
    EXPECT_NE(mask_crc(value), value);
  }
}

}  // namespace
}  // namespace tally::store
