// Memory prepared ahead of its use (store/prepared_memory.hpp): zeroed blocks, the
// helper that prepares the next one on a thread of its own, and the arena the memory
// journal and the history read model take their memory from. Its pieces must be
// zeroed, aligned and apart; what is prepared must be what is taken.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "store/prepared_memory.hpp"

namespace tally::store {
namespace {

bool all_zero(const void* data, std::size_t bytes) {
  const auto* begin = static_cast<const unsigned char*>(data);
  return std::all_of(begin, begin + bytes, [](unsigned char byte) { return byte == 0; });
}

TEST(zeroed_memory, small_and_large_blocks_are_zeroed_and_released) {
  for (std::size_t bytes : {std::size_t{1}, std::size_t{4096}, mapped_bytes_min - 1,
                            mapped_bytes_min, mapped_bytes_min + 12345}) {
    zeroed_memory memory = allocate_zeroed(bytes);
    ASSERT_NE(memory.data, nullptr) << bytes;
    EXPECT_EQ(memory.bytes, bytes);
    EXPECT_EQ(memory.mapped, bytes >= mapped_bytes_min) << bytes;
    touch_pages(memory);
    EXPECT_TRUE(all_zero(memory.data, bytes)) << "touching keeps the block zeroed: " << bytes;
    release(memory);
    EXPECT_EQ(memory.data, nullptr);
    EXPECT_EQ(memory.bytes, 0U);
  }
}

TEST(memory_preparer, take_hands_over_the_prepared_block_of_that_size) {
  memory_preparer preparer;
  EXPECT_EQ(preparer.preparing_bytes(), 0U);
  preparer.start(mapped_bytes_min);
  EXPECT_EQ(preparer.preparing_bytes(), mapped_bytes_min);
  zeroed_memory taken = preparer.take(mapped_bytes_min);
  EXPECT_EQ(preparer.prepared_takes(), 1U);
  EXPECT_EQ(preparer.preparing_bytes(), 0U);
  ASSERT_NE(taken.data, nullptr);
  EXPECT_EQ(taken.bytes, mapped_bytes_min);
  EXPECT_TRUE(all_zero(taken.data, taken.bytes));
  std::memset(taken.data, 0xAB, taken.bytes);  // it is ours now: no one else writes it
  release(taken);
}

TEST(memory_preparer, a_block_of_another_size_is_dropped_and_the_taker_gets_its_own) {
  memory_preparer preparer;
  preparer.start(64 * 1024);
  zeroed_memory taken = preparer.take(128 * 1024);
  EXPECT_EQ(preparer.prepared_takes(), 0U);
  EXPECT_EQ(preparer.preparing_bytes(), 0U);
  ASSERT_NE(taken.data, nullptr);
  EXPECT_EQ(taken.bytes, 128U * 1024);
  EXPECT_TRUE(all_zero(taken.data, taken.bytes));
  release(taken);
  // Nothing prepared: take() allocates.
  taken = preparer.take(4096);
  EXPECT_EQ(taken.bytes, 4096U);
  EXPECT_EQ(preparer.prepared_takes(), 0U);
  release(taken);
}

TEST(memory_preparer, cancel_and_destruction_wait_for_the_thread) {
  memory_preparer preparer;
  preparer.start(8 * mapped_bytes_min);
  preparer.cancel();
  EXPECT_EQ(preparer.preparing_bytes(), 0U);
  preparer.start(8 * mapped_bytes_min);  // a new one may start after a cancel
  EXPECT_EQ(preparer.preparing_bytes(), 8 * mapped_bytes_min);
  // The destructor joins it (TSan and ASan check that nothing is left behind).
}

TEST(prepared_arena, pieces_are_zeroed_aligned_and_apart) {
  prepared_arena arena;
  struct piece {
    unsigned char* data;
    std::size_t bytes;
    unsigned char fill;
  };
  std::vector<piece> pieces;
  std::uint64_t state = 7;
  std::size_t total = 0;
  while (total < 3 * prepared_arena::chunk_bytes_max) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    const std::size_t bytes = 1 + (state >> 33) % 3000;
    const std::size_t alignment = std::size_t{1} << ((state >> 20) % 7);  // 1 .. 64
    auto* data = static_cast<unsigned char*>(arena.allocate(bytes, alignment));
    ASSERT_EQ(reinterpret_cast<std::uintptr_t>(data) % alignment, 0U) << alignment;
    ASSERT_TRUE(all_zero(data, bytes));
    const auto fill = static_cast<unsigned char>(pieces.size() % 255 + 1);
    std::memset(data, fill, bytes);
    pieces.push_back(piece{data, bytes, fill});
    total += bytes;
  }
  // No piece overlaps another: each still holds only its own fill.
  for (const auto& held : pieces)
    ASSERT_TRUE(std::all_of(held.data, held.data + held.bytes,
                            [&](unsigned char byte) { return byte == held.fill; }));
  EXPECT_GE(arena.bytes_used(), total);
  EXPECT_GT(arena.chunks(), 5U) << "64 KiB, 128 KiB, ... up to 4 MiB";
  EXPECT_GE(arena.prepared_chunks(), 2U) << "chunks of 1 MiB and more are prepared ahead";
}

TEST(prepared_arena, a_piece_larger_than_a_chunk_gets_its_own) {
  prepared_arena arena;
  auto* small = static_cast<char*>(arena.allocate(100, 8));
  const std::size_t large_bytes = prepared_arena::chunk_bytes_max + 100;
  auto* large = static_cast<char*>(arena.allocate(large_bytes, 64));
  ASSERT_EQ(reinterpret_cast<std::uintptr_t>(large) % 64, 0U);
  EXPECT_TRUE(all_zero(large, large_bytes));
  std::memset(large, 0x5A, large_bytes);
  auto* after = static_cast<char*>(arena.allocate(100, 8));
  EXPECT_TRUE(all_zero(after, 100));
  std::memset(small, 1, 100);
  std::memset(after, 2, 100);
  EXPECT_EQ(large[0], 0x5A);
  EXPECT_EQ(large[large_bytes - 1], 0x5A);
  EXPECT_EQ(arena.chunks(), 3U);
}

}  // namespace
}  // namespace tally::store
