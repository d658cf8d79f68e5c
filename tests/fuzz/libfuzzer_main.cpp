// The libFuzzer entry point of one fuzz target; CMake builds one executable per target
// with TALLY_FUZZ_TARGET naming its function (tests/fuzz/CMakeLists.txt).
#include <cstddef>
#include <cstdint>

#include "fuzz_targets.hpp"

#ifndef TALLY_FUZZ_TARGET
#error "TALLY_FUZZ_TARGET must name a function of fuzz_targets.hpp"
#endif

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return tally::fuzz::TALLY_FUZZ_TARGET(data, size);
}
