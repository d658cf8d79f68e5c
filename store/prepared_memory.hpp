// Memory prepared ahead of its use, for structures that only grow (the command table,
// the memory journal's records, the history read model's entries): zeroed blocks, a
// helper that allocates the next block and touches its pages on a thread of its own
// before the structure needs it, and an arena that hands out pieces of such blocks.
// The kernel clears each fresh page at its first touch, and on the 2-core VM of
// docs/benchmarks.md that is slow (clear_page: 9 % of the in-memory runtime's samples
// while the memory journal kept the store's batches): the appender, which runs on a
// CAF scheduler thread, should not be the one that waits for it.
#pragma once

#include <cstddef>
#include <thread>
#include <vector>

namespace tally::store {

/// Zeroed memory straight from the kernel when large (mapped, with a hint for
/// transparent huge pages), otherwise from calloc.
struct zeroed_memory {
  void* data = nullptr;
  std::size_t bytes = 0;
  bool mapped = false;
};

/// Blocks of at least this many bytes are mapped rather than calloc'd.
inline constexpr std::size_t mapped_bytes_min = 4U * 1024 * 1024;

/// `bytes` (> 0) zeroed bytes. Throws std::bad_alloc when there is no memory.
zeroed_memory allocate_zeroed(std::size_t bytes);
/// Frees `memory` (nothing when empty) and empties it.
void release(zeroed_memory& memory) noexcept;
/// Writes a zero into every page of `memory`, so that the kernel clears and maps them
/// now rather than at their first use. (A read would map the shared zero page.)
void touch_pages(const zeroed_memory& memory) noexcept;

/// One block of zeroed memory at a time, allocated and touched ahead of its use on a
/// thread of its own. Not thread-safe: one owner calls it (the thread it starts only
/// writes the block, which take() hands over after joining it).
class memory_preparer {
public:
  memory_preparer() = default;
  ~memory_preparer() { cancel(); }
  memory_preparer(const memory_preparer&) = delete;
  memory_preparer& operator=(const memory_preparer&) = delete;

  /// Starts preparing a block of `bytes` (> 0). Precondition: none is being prepared
  /// or waiting to be taken (preparing_bytes() == 0). Without a thread to spare it
  /// prepares nothing, and take() allocates as without it.
  void start(std::size_t bytes);
  /// Size of the block being prepared or ready to be taken; 0 when there is none.
  std::size_t preparing_bytes() const noexcept { return preparing_bytes_; }
  /// A zeroed block of `bytes`: the prepared one when it has that size (waiting for its
  /// thread if it is still at work), otherwise a newly allocated one (a prepared block
  /// of another size is released). Throws std::bad_alloc when there is no memory.
  zeroed_memory take(std::size_t bytes);
  /// Waits for the thread, if any, and releases the block it prepared.
  void cancel() noexcept;
  /// How many take() calls got a prepared block.
  std::size_t prepared_takes() const noexcept { return prepared_takes_; }

private:
  std::thread thread_;
  zeroed_memory prepared_;  ///< written by thread_ until it is joined
  std::size_t preparing_bytes_ = 0;
  std::size_t prepared_takes_ = 0;
};

/// Hands out pieces of memory that live as long as the arena (never freed one by one),
/// zeroed, from chunks that double from 64 KiB up to 4 MiB; each next chunk of 1 MiB
/// or more is prepared ahead (memory_preparer) from the moment the current one is half
/// used. A piece larger than the next chunk gets a chunk of its own size. Not
/// thread-safe: its owner guards it.
class prepared_arena {
public:
  static constexpr std::size_t first_chunk_bytes = 64U * 1024;
  static constexpr std::size_t chunk_bytes_max = 4U * 1024 * 1024;
  /// Chunks of at least this size are prepared ahead.
  static constexpr std::size_t prepared_chunk_bytes_min = 1024U * 1024;
  static constexpr std::size_t alignment_max = 64;

  prepared_arena() = default;
  ~prepared_arena();
  prepared_arena(const prepared_arena&) = delete;
  prepared_arena& operator=(const prepared_arena&) = delete;

  /// `bytes` (> 0) zeroed bytes aligned to `alignment` (a power of two, at most
  /// alignment_max). Throws std::bad_alloc when there is no memory, leaving the arena
  /// as it was.
  void* allocate(std::size_t bytes, std::size_t alignment);
  /// Bytes handed out so far (alignment padding included).
  std::size_t bytes_used() const noexcept { return bytes_used_; }
  std::size_t chunks() const noexcept { return chunks_.size(); }
  /// Size of the chunk being prepared ahead (0: none is).
  std::size_t preparing_bytes() const noexcept { return preparer_.preparing_bytes(); }
  /// Chunks that were prepared ahead of their first piece.
  std::size_t prepared_chunks() const noexcept { return preparer_.prepared_takes(); }

private:
  struct chunk {
    zeroed_memory memory;
    std::size_t used = 0;
  };
  /// The size of the chunk after the current one, for pieces that fit it.
  std::size_t next_chunk_bytes() const noexcept;

  std::vector<chunk> chunks_;
  std::size_t bytes_used_ = 0;
  memory_preparer preparer_;
};

}  // namespace tally::store
