// Cache prefetch hints that the compiler keeps. GCC 12 deletes a __builtin_prefetch
// whose address comes from inline code without other effects (a map's prefetch() once
// its hash was inlined lost every prefetch instruction, and the read models their
// hidden misses: docs/benchmarks.md, 2026-11-29 late evening). A volatile asm is never
// deleted. A prefetch never faults, so any address will do.
#pragma once

namespace tally::detail {

/// Starts loading the cache line holding `address`.
inline void prefetch(const void* address) noexcept {
#if defined(__x86_64__) || defined(__i386__)
  asm volatile("prefetcht0 (%0)" : : "r"(address));
#else
  __builtin_prefetch(address, 0, 3);
  asm volatile("" : : "r"(address));
#endif
}

}  // namespace tally::detail
