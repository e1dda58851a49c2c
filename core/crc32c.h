// CRC32C (Castagnoli): the checksum of weight-snapshot tensors and of intake-log records. Uses the SSE4.2 crc32
// instruction when the CPU has it, a slicing-by-8 table otherwise; both give the same value.
#ifndef SKILLSD_CORE_CRC32C_H_
#define SKILLSD_CORE_CRC32C_H_

#include <cstddef>
#include <cstdint>

namespace skillsd {

// Extends `crc` (0 to start) with `size` bytes at `data`.
uint32_t Crc32cExtend(uint32_t crc, const void* data, size_t size);
inline uint32_t Crc32c(const void* data, size_t size) { return Crc32cExtend(0, data, size); }

// The portable implementation (for tests comparing the two).
uint32_t Crc32cExtendPortable(uint32_t crc, const void* data, size_t size);

}  // namespace skillsd

#endif  // SKILLSD_CORE_CRC32C_H_
