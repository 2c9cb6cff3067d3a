#pragma once

// Helpers for the record batch and reader tests: hand-made records sections wrapped in a correct
// header and CRC, so each test can write what build_batch never would.

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "log/batch_layout.h"
#include "log/crc32c.h"
#include "log/record_batch.h"
#include "log/varint.h"
#include "tests/log/batch_test_support.h"

namespace wharf::test {

inline std::span<const std::byte> as_bytes(std::string_view s) {
    return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

inline std::string_view as_string(std::span<const std::byte> b) {
    return {reinterpret_cast<const char*>(b.data()), b.size()};
}

// Appends raw bytes given as integers: bytes_of({0x10, 0x00}).
inline void append(std::vector<std::byte>& out, std::initializer_list<int> bytes) {
    for (int b : bytes) out.push_back(static_cast<std::byte>(b));
}

inline void append_varlong(std::vector<std::byte>& out, int64_t v) {
    std::byte buf[max_varlong_bytes];
    out.insert(out.end(), buf, buf + write_varlong(buf, v));
}

inline void append_string(std::vector<std::byte>& out, std::string_view s) {
    auto b = as_bytes(s);
    out.insert(out.end(), b.begin(), b.end());
}

// Encodes one record by hand, so tests can write what build_batch never would.
struct raw_record {
    int64_t timestamp_delta = 0;
    int32_t offset_delta = 0;
    int32_t key_length = 1;  // -1 for null; the key bytes are 'k' repeated
    int32_t value_length = 1;
    int32_t headers_count = 0;
    std::vector<std::byte> headers{};  // already encoded
};

inline std::vector<std::byte> encode_record(const raw_record& r) {
    std::vector<std::byte> body;
    append(body, {0});
    append_varlong(body, r.timestamp_delta);
    append_varlong(body, r.offset_delta);
    append_varlong(body, r.key_length);
    for (int32_t i = 0; i < r.key_length; ++i) append(body, {'k'});
    append_varlong(body, r.value_length);
    for (int32_t i = 0; i < r.value_length; ++i) append(body, {'v'});
    append_varlong(body, r.headers_count);
    body.insert(body.end(), r.headers.begin(), r.headers.end());
    std::vector<std::byte> out;
    append_varlong(out, static_cast<int64_t>(body.size()));
    out.insert(out.end(), body.begin(), body.end());
    return out;
}

// Recomputes the CRC after a test changed covered bytes, so that the check under test (not the
// CRC) is what refuses the batch.
inline void reseal(std::vector<std::byte>& batch) {
    std::span<std::byte> b(batch);
    batch_layout::put<uint32_t>(
        b, batch_layout::crc,
        crc32c(std::span<const std::byte>(batch).subspan(batch_layout::attributes)));
}

// A v2 header with `records_count` and lastOffsetDelta = count - 1 around a hand-made records
// section, with the correct length and CRC.
inline std::vector<std::byte> wrap_section(std::span<const std::byte> section, int32_t count,
                                           compression_type c = compression_type::none,
                                           int64_t base_timestamp = 1000) {
    namespace bl = batch_layout;
    std::vector<std::byte> out(batch_header_bytes);
    std::span<std::byte> b(out);
    bl::put<int64_t>(b, bl::base_offset, 0);
    bl::put<int32_t>(
        b, bl::batch_length,
        static_cast<int32_t>(batch_header_bytes - batch_log_overhead_bytes + section.size()));
    bl::put<int32_t>(b, bl::partition_leader_epoch, -1);
    bl::put<int8_t>(b, bl::magic, 2);
    bl::put<int16_t>(b, bl::attributes, static_cast<int16_t>(c));
    bl::put<int32_t>(b, bl::last_offset_delta, count - 1);
    bl::put<int64_t>(b, bl::base_timestamp, base_timestamp);
    bl::put<int64_t>(b, bl::max_timestamp, base_timestamp);
    bl::put<int64_t>(b, bl::producer_id, -1);
    bl::put<int16_t>(b, bl::producer_epoch, -1);
    bl::put<int32_t>(b, bl::base_sequence, -1);
    bl::put<int32_t>(b, bl::records_count, count);
    out.insert(out.end(), section.begin(), section.end());
    reseal(out);
    return out;
}

}  // namespace wharf::test
