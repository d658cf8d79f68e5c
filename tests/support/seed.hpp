// Seeds for randomized tests: every run prints the seed of a failing case, and
// TALLY_SEED=<n> reruns exactly that case.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>

namespace tally::test_support {

/// The seed from the TALLY_SEED environment variable, if set.
inline std::optional<std::uint64_t> seed_from_environment() {
  const char* text = std::getenv("TALLY_SEED");
  if (text == nullptr || *text == '\0')
    return std::nullopt;
  return std::strtoull(text, nullptr, 10);
}

/// A SCOPED_TRACE text telling how to replay `seed`.
inline std::string replay_hint(std::uint64_t seed, const char* test_filter) {
  return "replay with: TALLY_SEED=" + std::to_string(seed) + " <test binary> --gtest_filter="
         + test_filter;
}

/// SplitMix64: small, fast and the same everywhere (also the workload generator's).
struct splitmix64 {
  std::uint64_t state;
  std::uint64_t next() {
    std::uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  std::uint64_t below(std::uint64_t bound) { return next() % bound; }
};

}  // namespace tally::test_support
