#pragma once

// Byte offsets of the record batch v2 header fields, and the big-endian accessors that read and
// write them. Shared by the reader (record_batch.cc), the builder (batch_builder.cc) and tests,
// so that the layout is written down once.

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <type_traits>

#include "log/record_batch.h"
#include "reactor/base/assert.h"

namespace wharf::batch_layout {

inline constexpr size_t base_offset = 0;
inline constexpr size_t batch_length = 8;
inline constexpr size_t partition_leader_epoch = 12;
inline constexpr size_t magic = 16;
inline constexpr size_t crc = 17;
inline constexpr size_t attributes = 21;  // the CRC covers from here to the end of the batch
inline constexpr size_t last_offset_delta = 23;
inline constexpr size_t base_timestamp = 27;
inline constexpr size_t max_timestamp = 35;
inline constexpr size_t producer_id = 43;
inline constexpr size_t producer_epoch = 51;
inline constexpr size_t base_sequence = 53;
inline constexpr size_t records_count = 57;
inline constexpr size_t records = 61;

static_assert(records == batch_header_bytes, "the header ends where the records begin");
static_assert(min_batch_length == 49, "Kafka's RECORD_BATCH_OVERHEAD (61) minus LOG_OVERHEAD (12)");
static_assert(batch_length + 4 == batch_log_overhead_bytes,
              "batchLength counts the bytes after itself");
static_assert(std::endian::native == std::endian::little,
              "the accessors below byte-swap unconditionally");

inline constexpr uint8_t compression_mask = 0x07;
inline constexpr uint8_t timestamp_type_bit = 0x08;

template <typename T>
T get(std::span<const std::byte> bytes, size_t at) noexcept {
    static_assert(std::is_integral_v<T>);
    WHARF_ASSERT(at + sizeof(T) <= bytes.size(), "batch field at {} past {} bytes", at,
                 bytes.size());
    std::make_unsigned_t<T> v;
    std::memcpy(&v, bytes.data() + at, sizeof(v));
    if constexpr (sizeof(T) == 8) v = __builtin_bswap64(v);
    if constexpr (sizeof(T) == 4) v = __builtin_bswap32(v);
    if constexpr (sizeof(T) == 2) v = __builtin_bswap16(v);
    return static_cast<T>(v);
}

template <typename T>
void put(std::span<std::byte> bytes, size_t at, T value) noexcept {
    static_assert(std::is_integral_v<T>);
    WHARF_ASSERT(at + sizeof(T) <= bytes.size(), "batch field at {} past {} bytes", at,
                 bytes.size());
    auto v = static_cast<std::make_unsigned_t<T>>(value);
    if constexpr (sizeof(T) == 8) v = __builtin_bswap64(v);
    if constexpr (sizeof(T) == 4) v = __builtin_bswap32(v);
    if constexpr (sizeof(T) == 2) v = __builtin_bswap16(v);
    std::memcpy(bytes.data() + at, &v, sizeof(v));
}

}  // namespace wharf::batch_layout
