#pragma once

// CRC32C (Castagnoli, polynomial 0x1EDC6F41), the checksum of Kafka record batches v2. It runs on
// every produced batch and again when a batch is read back, so the hardware path matters: the
// SSE4.2 crc32 instruction over three interleaved streams (about one 8-byte word per cycle).

#include <cstddef>
#include <cstdint>
#include <span>

namespace wharf {

// Extends `crc`, the CRC32C of the bytes before (0 for none), over `len` more bytes at `data`:
// crc32c(crc32c(0, a, n), b, m) equals the CRC32C of a followed by b. Uses the crc32 instruction
// when the CPU has it (checked once), the portable tables otherwise.
uint32_t crc32c(uint32_t crc, const void* data, size_t len) noexcept;

inline uint32_t crc32c(std::span<const std::byte> bytes) noexcept {
    return crc32c(0, bytes.data(), bytes.size());
}

// The same function computed with byte tables (slicing by 8), never with the crc32 instruction:
// the fallback for CPUs without SSE4.2 and the reference the tests check the hardware path with.
uint32_t crc32c_portable(uint32_t crc, const void* data, size_t len) noexcept;

// Whether this CPU has SSE4.2 (cpuid leaf 1, ECX bit 20).
bool crc32c_hardware_available() noexcept;

}  // namespace wharf
