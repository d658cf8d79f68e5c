// CRC32C (Castagnoli, polynomial 0x1EDC6F41 reflected as 0x82F63B78): the checksum of
// every record and snapshot on disk. Hardware (SSE4.2) when the CPU has it, a table
// otherwise; both give the same value (tested).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace tally::store {

/// Returns the CRC32C of `data` continued from `crc` (the CRC of the bytes before it;
/// 0 for none). crc32c_extend(crc32c_extend(0, a), b) == crc32c(a + b).
std::uint32_t crc32c_extend(std::uint32_t crc, const void* data, std::size_t size) noexcept;

/// Returns the CRC32C of `data`.
inline std::uint32_t crc32c(std::string_view data) noexcept {
  return crc32c_extend(0, data.data(), data.size());
}

/// Stored CRCs are masked (LevelDB): a CRC of bytes that themselves contain CRCs is
/// otherwise weak, and an all-zero record would have a plausible all-zero CRC.
inline std::uint32_t mask_crc(std::uint32_t crc) noexcept {
  return ((crc >> 15) | (crc << 17)) + 0xA282EAD8U;
}

inline std::uint32_t unmask_crc(std::uint32_t masked) noexcept {
  std::uint32_t rotated = masked - 0xA282EAD8U;
  return (rotated >> 17) | (rotated << 15);
}

namespace detail {
/// The table implementation (always available).
std::uint32_t crc32c_software(std::uint32_t crc, const void* data, std::size_t size) noexcept;
/// True when crc32c_hardware() may be called on this CPU.
bool crc32c_hardware_available() noexcept;
/// The SSE4.2 implementation; only call when crc32c_hardware_available().
std::uint32_t crc32c_hardware(std::uint32_t crc, const void* data, std::size_t size) noexcept;
}  // namespace detail

}  // namespace tally::store
