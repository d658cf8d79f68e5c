#include "store/prepared_memory.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <system_error>

#include "tally/assert.hpp"

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace tally::store {

zeroed_memory allocate_zeroed(std::size_t bytes) {
  TALLY_ASSERT(bytes > 0);
  zeroed_memory out;
  out.bytes = bytes;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  if (bytes >= mapped_bytes_min) {
    void* mapped = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mapped == MAP_FAILED)
      throw std::bad_alloc{};
    // Large blocks are touched at random (hash tables) or page by page in quick
    // succession: fewer, larger faults. A hint: fine when refused.
    (void)::madvise(mapped, bytes, MADV_HUGEPAGE);
    out.data = mapped;
    out.mapped = true;
    return out;
  }
#endif
  out.data = std::calloc(bytes, 1);
  if (out.data == nullptr)
    throw std::bad_alloc{};
  return out;
}

void release(zeroed_memory& memory) noexcept {
  if (memory.data == nullptr)
    return;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  if (memory.mapped) {
    ::munmap(memory.data, memory.bytes);
    memory = zeroed_memory{};
    return;
  }
#endif
  std::free(memory.data);
  memory = zeroed_memory{};
}

void touch_pages(const zeroed_memory& memory) noexcept {
  // Writing 0 keeps the memory zeroed, as its owner expects it.
  constexpr std::size_t page_bytes = 4096;
  auto* bytes = static_cast<volatile unsigned char*>(memory.data);
  for (std::size_t offset = 0; offset < memory.bytes; offset += page_bytes)
    bytes[offset] = 0;
}

void memory_preparer::start(std::size_t bytes) {
  TALLY_ASSERT(bytes > 0);
  TALLY_ASSERT(preparing_bytes_ == 0 && !thread_.joinable() && prepared_.data == nullptr);
  preparing_bytes_ = bytes;
  try {
    thread_ = std::thread{[this, bytes] {
      try {
        prepared_ = allocate_zeroed(bytes);
        touch_pages(prepared_);
      } catch (const std::bad_alloc&) {
        prepared_ = zeroed_memory{};  // take() allocates, and reports it
      }
    }};
  } catch (const std::system_error&) {
    // No thread to spare: take() allocates the block itself, as without one.
  }
}

zeroed_memory memory_preparer::take(std::size_t bytes) {
  if (thread_.joinable())
    thread_.join();
  zeroed_memory out;
  if (preparing_bytes_ == bytes && prepared_.data != nullptr) {
    out = prepared_;
    prepared_ = zeroed_memory{};
    ++prepared_takes_;
  } else {
    release(prepared_);
    out = allocate_zeroed(bytes);
  }
  preparing_bytes_ = 0;
  return out;
}

void memory_preparer::cancel() noexcept {
  if (thread_.joinable())
    thread_.join();
  release(prepared_);
  preparing_bytes_ = 0;
}

prepared_arena::~prepared_arena() {
  preparer_.cancel();
  for (auto& held : chunks_)
    release(held.memory);
}

std::size_t prepared_arena::next_chunk_bytes() const noexcept {
  if (chunks_.empty())
    return first_chunk_bytes;
  // Doubles from the last chunk of the regular sizes (an oversized one counts as the
  // largest regular size).
  std::size_t last = std::min(chunks_.back().memory.bytes, chunk_bytes_max);
  return std::min(last * 2, chunk_bytes_max);
}

void* prepared_arena::allocate(std::size_t bytes, std::size_t alignment) {
  TALLY_ASSERT(bytes > 0);
  TALLY_ASSERT(alignment > 0 && alignment <= alignment_max && (alignment & (alignment - 1)) == 0);
  auto padding = [alignment](const chunk& held) {
    const auto next = reinterpret_cast<std::uintptr_t>(held.memory.data) + held.used;
    return static_cast<std::size_t>((alignment - next % alignment) % alignment);
  };
  if (chunks_.empty() || chunks_.back().memory.bytes - chunks_.back().used
                           < bytes + padding(chunks_.back())) {
    const std::size_t size = std::max(next_chunk_bytes(), bytes + alignment);
    if (chunks_.size() == chunks_.capacity())  // so that push_back below cannot throw
      chunks_.reserve(2 * chunks_.size() + 8);
    chunks_.push_back(chunk{preparer_.take(size), 0});
  }
  auto& current = chunks_.back();
  const std::size_t skipped = padding(current);
  TALLY_ASSERT(current.memory.bytes - current.used >= bytes + skipped);
  void* piece = static_cast<char*>(current.memory.data) + current.used + skipped;
  current.used += skipped + bytes;
  bytes_used_ += skipped + bytes;
  // From half used on, the next chunk is made ready on the side.
  if (current.used * 2 >= current.memory.bytes && preparer_.preparing_bytes() == 0) {
    const std::size_t next = next_chunk_bytes();
    if (next >= prepared_chunk_bytes_min)
      preparer_.start(next);
  }
  return piece;
}

}  // namespace tally::store
