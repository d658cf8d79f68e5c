#include "store/crc32c.hpp"

#include <array>
#include <cstring>

namespace tally::store {

namespace detail {

namespace {

constexpr std::uint32_t castagnoli_reflected = 0x82F63B78U;

// Slicing-by-8 tables: table[k][b] is the CRC of byte b followed by k zero bytes, so
// eight bytes are folded per step instead of one.
struct crc_tables {
  std::uint32_t table[8][256];
};

constexpr crc_tables make_tables() {
  crc_tables tables{};
  for (std::uint32_t byte = 0; byte < 256; ++byte) {
    std::uint32_t crc = byte;
    for (int bit = 0; bit < 8; ++bit)
      crc = (crc & 1U) != 0 ? (crc >> 1) ^ castagnoli_reflected : crc >> 1;
    tables.table[0][byte] = crc;
  }
  for (std::uint32_t byte = 0; byte < 256; ++byte)
    for (int k = 1; k < 8; ++k) {
      std::uint32_t previous = tables.table[k - 1][byte];
      tables.table[k][byte] = (previous >> 8) ^ tables.table[0][previous & 0xFFU];
    }
  return tables;
}

constexpr crc_tables tables = make_tables();
// Byte 0x80 shifts its one bit out on the eighth step, leaving exactly the polynomial.
static_assert(tables.table[0][0x80] == castagnoli_reflected);

std::uint64_t load_little_endian_64(const unsigned char* bytes) noexcept {
  std::uint64_t value = 0;
  for (int i = 7; i >= 0; --i)
    value = (value << 8) | bytes[i];
  return value;
}

}  // namespace

std::uint32_t crc32c_software(std::uint32_t crc, const void* data, std::size_t size) noexcept {
  const auto* bytes = static_cast<const unsigned char*>(data);
  std::uint32_t state = ~crc;
  while (size >= 8) {
    std::uint64_t word = load_little_endian_64(bytes) ^ state;
    state = tables.table[7][word & 0xFF] ^ tables.table[6][(word >> 8) & 0xFF]
            ^ tables.table[5][(word >> 16) & 0xFF] ^ tables.table[4][(word >> 24) & 0xFF]
            ^ tables.table[3][(word >> 32) & 0xFF] ^ tables.table[2][(word >> 40) & 0xFF]
            ^ tables.table[1][(word >> 48) & 0xFF] ^ tables.table[0][(word >> 56) & 0xFF];
    bytes += 8;
    size -= 8;
  }
  while (size > 0) {
    state = (state >> 8) ^ tables.table[0][(state ^ *bytes) & 0xFFU];
    ++bytes;
    --size;
  }
  return ~state;
}

#if defined(__x86_64__)

bool crc32c_hardware_available() noexcept {
  static const bool available = __builtin_cpu_supports("sse4.2");
  return available;
}

__attribute__((target("sse4.2"))) std::uint32_t
crc32c_hardware(std::uint32_t crc, const void* data, std::size_t size) noexcept {
  const auto* bytes = static_cast<const unsigned char*>(data);
  std::uint64_t state = ~crc;
  while (size >= 8) {
    std::uint64_t word;
    std::memcpy(&word, bytes, sizeof word);  // unaligned-safe; x86 is little-endian
    state = __builtin_ia32_crc32di(state, word);
    bytes += 8;
    size -= 8;
  }
  auto state32 = static_cast<std::uint32_t>(state);
  while (size > 0) {
    state32 = __builtin_ia32_crc32qi(state32, *bytes);
    ++bytes;
    --size;
  }
  return ~state32;
}

#else

bool crc32c_hardware_available() noexcept {
  return false;
}

std::uint32_t crc32c_hardware(std::uint32_t crc, const void* data, std::size_t size) noexcept {
  return crc32c_software(crc, data, size);
}

#endif

}  // namespace detail

std::uint32_t crc32c_extend(std::uint32_t crc, const void* data, std::size_t size) noexcept {
  if (detail::crc32c_hardware_available())
    return detail::crc32c_hardware(crc, data, size);
  return detail::crc32c_software(crc, data, size);
}

}  // namespace tally::store
