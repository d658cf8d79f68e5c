#include "app/tallyd/file_checkpoint_store.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <string>

using namespace tally;
using namespace tally::daemon;

namespace {

std::string fresh_directory() {
  std::string pattern = ::testing::TempDir() + "tally_ckpt_XXXXXX";
  char* made = ::mkdtemp(pattern.data());
  EXPECT_NE(made, nullptr);
  return std::string{made} + "/checkpoints";
}

}  // namespace

TEST(file_checkpoint_store, saves_and_loads_across_instances) {
  auto directory = fresh_directory();
  {
    auto store = make_file_checkpoint_store(posix_file_system(), directory);
    ASSERT_TRUE(store) << store.error().to_string();
    EXPECT_TRUE((*store)->blocks_on_io());
    EXPECT_FALSE((*store)->load("balances"));
    ASSERT_TRUE((*store)->save("balances", checkpoint{7, std::string{"abc\0def", 7}}).is_ok());
    ASSERT_TRUE((*store)->save("balances", checkpoint{9, "xyz"}).is_ok());
  }
  auto store = make_file_checkpoint_store(posix_file_system(), directory);
  ASSERT_TRUE(store);
  auto loaded = (*store)->load("balances");
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->position, 9u);
  EXPECT_EQ(loaded->state, "xyz");
}

TEST(file_checkpoint_store, a_damaged_file_loads_as_no_checkpoint) {
  auto directory = fresh_directory();
  auto store = make_file_checkpoint_store(posix_file_system(), directory);
  ASSERT_TRUE(store);
  ASSERT_TRUE((*store)->save("totals", checkpoint{3, "state-bytes"}).is_ok());
  auto path = directory + "/totals.checkpoint";
  {
    std::fstream file{path, std::ios::in | std::ios::out | std::ios::binary};
    file.seekp(26);
    file.put('X');
  }
  EXPECT_FALSE((*store)->load("totals"));
  {
    std::ofstream truncated{path, std::ios::binary | std::ios::trunc};
    truncated << "TCKP";
  }
  EXPECT_FALSE((*store)->load("totals"));
}

TEST(file_checkpoint_store, refuses_unsafe_names) {
  auto store = make_file_checkpoint_store(posix_file_system(), fresh_directory());
  ASSERT_TRUE(store);
  EXPECT_FALSE((*store)->save("../x", checkpoint{1, ""}).is_ok());
}
