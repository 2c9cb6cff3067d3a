#include "log/record_batch.h"

#include <algorithm>
#include <limits>

#include "log/batch_layout.h"
#include "log/compression.h"
#include "log/crc32c.h"
#include "log/errc.h"
#include "log/record_reader.h"
#include "reactor/base/assert.h"

namespace wharf {

namespace bl = batch_layout;

namespace {

batch_header decode_header(std::span<const std::byte> b) {
    batch_header h;
    h.base_offset = kafka_offset(bl::get<int64_t>(b, bl::base_offset));
    h.batch_length = bl::get<int32_t>(b, bl::batch_length);
    h.partition_leader_epoch = bl::get<int32_t>(b, bl::partition_leader_epoch);
    h.magic = bl::get<int8_t>(b, bl::magic);
    h.crc = bl::get<uint32_t>(b, bl::crc);
    h.attributes = bl::get<int16_t>(b, bl::attributes);
    h.last_offset_delta = bl::get<int32_t>(b, bl::last_offset_delta);
    h.base_timestamp = bl::get<int64_t>(b, bl::base_timestamp);
    h.max_timestamp = bl::get<int64_t>(b, bl::max_timestamp);
    h.producer_id = bl::get<int64_t>(b, bl::producer_id);
    h.producer_epoch = bl::get<int16_t>(b, bl::producer_epoch);
    h.base_sequence = bl::get<int32_t>(b, bl::base_sequence);
    h.records_count = bl::get<int32_t>(b, bl::records_count);
    return h;
}

// The framing checks both readers share: the magic first, since only magic 2 has this layout;
// then enough bytes for the header; then a batchLength that covers at least the header.
result<batch_header> read_framing(std::span<const std::byte> bytes) {
    if (bytes.size() <= bl::magic) return log_errc::truncated_batch;
    if (bl::get<int8_t>(bytes, bl::magic) != batch_magic_v2) return log_errc::unsupported_magic;
    if (bytes.size() < batch_header_bytes) return log_errc::truncated_batch;
    batch_header h = decode_header(bytes);
    if (h.batch_length < min_batch_length) return log_errc::invalid_batch_length;
    return h;
}

uint32_t compute_crc(std::span<const std::byte> bytes) {
    return crc32c(bytes.subspan(bl::attributes));
}

// Checks the record count against lastOffsetDelta and against the most records that
// `max_records_bytes` could hold, before anything is sized or looped by it.
status check_record_count(const batch_header& h, size_t max_records_bytes) {
    if (h.records_count <= 0) return log_errc::invalid_record_count;  // Kafka refuses empty ones
    if (h.last_offset_delta != h.records_count - 1) return log_errc::invalid_record_count;
    if (static_cast<size_t>(h.records_count) > max_records_bytes / min_record_bytes) {
        return log_errc::invalid_record_count;
    }
    return {};
}

status check_timestamp(int64_t ts, const batch_limits& limits, timestamp_ms now) {
    if (limits.max_timestamp_skew_ms < 0) return {};
    int64_t diff = 0;
    if (__builtin_sub_overflow(ts, now.value(), &diff)) return log_errc::invalid_timestamp;
    if (diff > limits.max_timestamp_skew_ms || diff < -limits.max_timestamp_skew_ms) {
        return log_errc::invalid_timestamp;
    }
    return {};
}

// Reads every record of an uncompressed records section; returns the greatest record timestamp.
result<timestamp_ms> check_records(std::span<const std::byte> records, const batch_header& h,
                                   const batch_limits& limits, timestamp_ms now) {
    record_reader reader(records, h.records_count);
    int64_t max_ts = std::numeric_limits<int64_t>::min();
    for (int32_t expected_delta = 0; !reader.at_end(); ++expected_delta) {
        // The section ran out before the declared count: the count is what lies.
        if (reader.bytes_left() == 0) return log_errc::invalid_record_count;
        WHARF_TRY(r, reader.next());
        if (r.offset_delta != expected_delta) return log_errc::invalid_record;
        int64_t ts = 0;
        if (__builtin_add_overflow(h.base_timestamp, r.timestamp_delta, &ts)) {
            return log_errc::invalid_timestamp;
        }
        if (auto st = check_timestamp(ts, limits, now); !st) return st.error();
        max_ts = std::max(max_ts, ts);
    }
    // Bytes after the declared records: more records than declared, or garbage.
    if (reader.bytes_left() != 0) return log_errc::invalid_record_count;
    return timestamp_ms(max_ts);
}

}  // namespace

result<batch_header> peek_batch_header(std::span<const std::byte> header) {
    return read_framing(header);
}

result<batch_header> read_batch_header(std::span<const std::byte> bytes) {
    WHARF_TRY(h, read_framing(bytes));
    if (h.total_bytes() > bytes.size()) return log_errc::truncated_batch;
    return h;
}

std::span<const std::byte> batch_records(std::span<const std::byte> bytes) {
    WHARF_ASSERT(bytes.size() >= batch_header_bytes, "a batch of {} bytes has no header",
                 bytes.size());
    return bytes.subspan(batch_header_bytes);
}

bool batch_crc_matches(std::span<const std::byte> bytes) {
    WHARF_ASSERT(bytes.size() >= batch_header_bytes, "a batch of {} bytes has no header",
                 bytes.size());
    return bl::get<uint32_t>(bytes, bl::crc) == compute_crc(bytes);
}

result<validated_batch> validate_batch(std::span<const std::byte> bytes, const batch_limits& limits,
                                       timestamp_ms now,
                                       std::vector<std::byte>* decompressed_records) {
    WHARF_TRY(h, read_framing(bytes));
    // Framing first: when batchLength disagrees with the bytes, it is not a size to judge.
    if (h.total_bytes() > bytes.size()) return log_errc::truncated_batch;
    if (h.total_bytes() < bytes.size()) return log_errc::invalid_batch_length;
    if (h.total_bytes() > limits.max_batch_bytes) return log_errc::batch_too_large;
    if (h.crc != compute_crc(bytes)) return log_errc::crc_mismatch;
    if (static_cast<uint8_t>(h.compression()) > static_cast<uint8_t>(compression_type::zstd)) {
        return log_errc::unsupported_compression;
    }

    validated_batch v{h, h.total_bytes(), std::nullopt};
    const auto records = batch_records(bytes);
    if (h.compression() == compression_type::none) {
        if (auto st = check_record_count(h, records.size()); !st) return st.error();
        WHARF_TRY(max_ts, check_records(records, h, limits, now));
        v.max_record_timestamp = max_ts;
        return v;
    }
    // Compressed: the count is judged against the bound before the decompression it sizes.
    if (auto st = check_record_count(h, limits.max_uncompressed_bytes); !st) return st.error();
    WHARF_TRY(plain, decompress(h.compression(), records, limits.max_uncompressed_bytes));
    WHARF_TRY(max_ts, check_records(plain, h, limits, now));
    v.max_record_timestamp = max_ts;
    if (decompressed_records != nullptr) *decompressed_records = std::move(plain);
    return v;
}

void set_max_timestamp(std::span<std::byte> bytes, timestamp_type type, timestamp_ms max_ts) {
    WHARF_ASSERT(bytes.size() >= batch_header_bytes, "a batch of {} bytes has no header",
                 bytes.size());
    const auto attrs = bl::get<uint16_t>(bytes, bl::attributes);
    const auto new_attrs = static_cast<uint16_t>(type == timestamp_type::log_append_time
                                                     ? attrs | bl::timestamp_type_bit
                                                     : attrs & ~uint16_t{bl::timestamp_type_bit});
    if (new_attrs == attrs && bl::get<int64_t>(bytes, bl::max_timestamp) == max_ts.value()) {
        return;  // the CRC already covers these values
    }
    bl::put<uint16_t>(bytes, bl::attributes, new_attrs);
    bl::put<int64_t>(bytes, bl::max_timestamp, max_ts.value());
    bl::put<uint32_t>(bytes, bl::crc, compute_crc(bytes));
}

void stamp_batch(std::span<std::byte> bytes, kafka_offset base_offset, int32_t leader_epoch,
                 std::optional<timestamp_ms> log_append_time) {
    WHARF_ASSERT(bytes.size() >= batch_header_bytes &&
                     batch_log_overhead_bytes +
                             static_cast<size_t>(bl::get<int32_t>(bytes, bl::batch_length)) ==
                         bytes.size(),
                 "stamp_batch on {} bytes that are not one validated batch", bytes.size());
    // The CRC is checked on the way in (validate_batch) and again here, around the rewrite.
    WHARF_VERIFY_ASSERT(batch_crc_matches(bytes), "stamp_batch on a batch with a bad CRC");
    bl::put<int64_t>(bytes, bl::base_offset, base_offset.value());
    bl::put<int32_t>(bytes, bl::partition_leader_epoch, leader_epoch);
    if (log_append_time) {
        set_max_timestamp(bytes, timestamp_type::log_append_time, *log_append_time);
    } else {
        const timestamp_ms current(bl::get<int64_t>(bytes, bl::max_timestamp));
        set_max_timestamp(bytes, timestamp_type::create_time, current);
    }
    WHARF_VERIFY_ASSERT(batch_crc_matches(bytes), "stamp_batch left a bad CRC");
}

}  // namespace wharf
