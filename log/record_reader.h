#pragma once

// Reading the records inside a Kafka v2 record batch, without copying: each record_view points
// into the caller's bytes, which must outlive it.
//
// Record layout (all lengths and counts are zigzag varints, timestamp delta a varlong):
//   length, attributes int8, timestampDelta, offsetDelta, keyLength (-1 = null), key,
//   valueLength (-1 = null), value, headersCount, headers[keyLength, key, valueLength, value]
//
// The bytes are client input or disk contents, so every length is checked against the bytes that
// remain before it is used; a malformed record is an error value (log_errc::invalid_record),
// never a crash. The reader never allocates.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "reactor/base/result.h"

namespace wharf {

// The smallest encoded record: a one-byte length and six one-byte fields (attributes, timestamp
// delta, offset delta, key length, value length, header count). A declared record count is
// checked against this before anything trusts it.
inline constexpr size_t min_record_bytes = 7;

// One record, pointing into the records bytes it was read from.
struct record_view {
    int8_t attributes = 0;  // unused by Kafka so far
    int64_t timestamp_delta = 0;
    int32_t offset_delta = 0;
    std::optional<std::span<const std::byte>> key;    // nullopt: a null key
    std::optional<std::span<const std::byte>> value;  // nullopt: a null value (a tombstone)
    int32_t headers_count = 0;
    // The encoded headers, already checked by the reader; iterate them with header_reader.
    std::span<const std::byte> headers;
    // The record's bytes, length prefix included.
    std::span<const std::byte> encoded;
};

struct record_header_view {
    std::span<const std::byte> key;  // Kafka forbids null header keys
    std::optional<std::span<const std::byte>> value;
};

// Iterates `records_count` records over an uncompressed (or already decompressed) records
// section. Lives on the stack of one call; not shared.
class record_reader {
public:
    record_reader(std::span<const std::byte> records, int32_t records_count) noexcept
        : _bytes(records), _count(records_count) {}

    // True once records_count records have been read (or at once for a count <= 0).
    bool at_end() const noexcept { return _read >= _count; }

    // Reads the next record. After an error the reader stays failed and returns that error again.
    // Errors: log_errc::invalid_record.
    // REQUIRES: !at_end().
    result<record_view> next() noexcept;

    int32_t records_read() const noexcept { return _read; }
    // Bytes after the last record read; a whole section read correctly leaves none.
    size_t bytes_left() const noexcept { return _bytes.size() - _pos; }

private:
    std::span<const std::byte> _bytes;
    size_t _pos = 0;
    int32_t _count;
    int32_t _read = 0;
    bool _failed = false;
};

// Iterates the headers of a record that record_reader returned (and so already checked).
class header_reader {
public:
    explicit header_reader(const record_view& record) noexcept
        : _bytes(record.headers), _count(record.headers_count) {}

    bool at_end() const noexcept { return _read >= _count; }
    // REQUIRES: !at_end().
    record_header_view next() noexcept;

private:
    std::span<const std::byte> _bytes;
    size_t _pos = 0;
    int32_t _count;
    int32_t _read = 0;
};

}  // namespace wharf
