// build_batch: writes Kafka v2 record batches as a producer would (declared in record_batch.h).
// It serves tests, the benchmark and the CLI producer, never the produce path, so clarity wins
// over speed here; its output goes through the same validate_batch as any client's.

#include <algorithm>
#include <limits>

#include "log/batch_layout.h"
#include "log/compression.h"
#include "log/crc32c.h"
#include "log/record_batch.h"
#include "log/varint.h"
#include "reactor/base/assert.h"

namespace wharf {

namespace bl = batch_layout;

namespace {

int64_t checked_length(size_t n) {
    WHARF_ASSERT(n <= static_cast<size_t>(std::numeric_limits<int32_t>::max()),
                 "a key, value or header of {} bytes does not fit a record", n);
    return static_cast<int64_t>(n);
}

size_t nullable_bytes_size(const std::optional<std::string_view>& s) {
    return s ? varlong_size(checked_length(s->size())) + s->size() : varlong_size(-1);
}

// Bytes of a record after its length prefix.
size_t record_body_bytes(const record_to_build& r, int32_t offset_delta) {
    size_t n = 1 + varlong_size(r.timestamp_delta) + varlong_size(offset_delta) +
               nullable_bytes_size(r.key) + nullable_bytes_size(r.value) +
               varlong_size(checked_length(r.headers.size()));
    for (const auto& [key, value] : r.headers) {
        n += nullable_bytes_size(std::optional<std::string_view>(key)) + nullable_bytes_size(value);
    }
    return n;
}

class byte_writer {
public:
    explicit byte_writer(std::vector<std::byte>& out) : _out(out) {}

    void varlong(int64_t v) {
        std::byte buf[max_varlong_bytes];
        const size_t n = write_varlong(buf, v);
        _out.insert(_out.end(), buf, buf + n);
    }
    void raw(std::string_view s) {
        const auto* p = reinterpret_cast<const std::byte*>(s.data());
        _out.insert(_out.end(), p, p + s.size());
    }
    void nullable(const std::optional<std::string_view>& s) {
        if (!s) {
            varlong(-1);
            return;
        }
        varlong(checked_length(s->size()));
        raw(*s);
    }
    void u8(uint8_t v) { _out.push_back(static_cast<std::byte>(v)); }

private:
    std::vector<std::byte>& _out;
};

std::vector<std::byte> encode_records(std::span<const record_to_build> records) {
    std::vector<std::byte> out;
    byte_writer w(out);
    for (size_t i = 0; i < records.size(); ++i) {
        const auto& r = records[i];
        const auto delta = static_cast<int32_t>(i);
        const size_t body = record_body_bytes(r, delta);
        const size_t start = out.size();
        w.varlong(checked_length(body));
        w.u8(0);  // record attributes: unused
        w.varlong(r.timestamp_delta);
        w.varlong(delta);
        w.nullable(r.key);
        w.nullable(r.value);
        w.varlong(static_cast<int64_t>(r.headers.size()));
        for (const auto& [key, value] : r.headers) {
            w.nullable(key);
            w.nullable(value);
        }
        WHARF_ASSERT(out.size() - start == varlong_size(static_cast<int64_t>(body)) + body,
                     "record {} encoded to {} bytes, its size said {}", i, out.size() - start,
                     body);
    }
    return out;
}

}  // namespace

std::vector<std::byte> build_batch(kafka_offset base_offset, int64_t base_timestamp,
                                   std::span<const record_to_build> records, compression_type c,
                                   int64_t producer_id, int16_t producer_epoch,
                                   int32_t base_sequence) {
    WHARF_ASSERT(!records.empty(), "a batch holds at least one record");
    WHARF_ASSERT(records.size() <= static_cast<size_t>(std::numeric_limits<int32_t>::max()),
                 "{} records do not fit a batch", records.size());
    std::vector<std::byte> section = encode_records(records);
    if (c != compression_type::none) {
        auto compressed = compress(c, section);
        WHARF_ASSERT(compressed.has_value(), "codec {} failed on {} bytes: {}", static_cast<int>(c),
                     section.size(), compressed.error().message());
        section = std::move(compressed).value();
    }
    int64_t max_delta = std::numeric_limits<int64_t>::min();
    for (const auto& r : records) max_delta = std::max(max_delta, r.timestamp_delta);

    const size_t total = batch_header_bytes + section.size();
    WHARF_ASSERT(total - batch_log_overhead_bytes <=
                     static_cast<size_t>(std::numeric_limits<int32_t>::max()),
                 "a batch of {} bytes overflows batchLength", total);
    std::vector<std::byte> out(total);
    std::span<std::byte> b(out);
    bl::put<int64_t>(b, bl::base_offset, base_offset.value());
    bl::put<int32_t>(b, bl::batch_length, static_cast<int32_t>(total - batch_log_overhead_bytes));
    bl::put<int32_t>(b, bl::partition_leader_epoch, -1);  // producers leave it to the leader
    bl::put<int8_t>(b, bl::magic, batch_magic_v2);
    bl::put<int16_t>(b, bl::attributes, static_cast<int16_t>(c));
    bl::put<int32_t>(b, bl::last_offset_delta, static_cast<int32_t>(records.size() - 1));
    bl::put<int64_t>(b, bl::base_timestamp, base_timestamp);
    // Wrapping, not overflowing: tests build batches with absurd deltas to see them refused.
    bl::put<int64_t>(b, bl::max_timestamp,
                     static_cast<int64_t>(static_cast<uint64_t>(base_timestamp) +
                                          static_cast<uint64_t>(max_delta)));
    bl::put<int64_t>(b, bl::producer_id, producer_id);
    bl::put<int16_t>(b, bl::producer_epoch, producer_epoch);
    bl::put<int32_t>(b, bl::base_sequence, base_sequence);
    bl::put<int32_t>(b, bl::records_count, static_cast<int32_t>(records.size()));
    std::copy(section.begin(), section.end(), out.begin() + batch_header_bytes);
    bl::put<uint32_t>(b, bl::crc, crc32c(std::span<const std::byte>(out).subspan(bl::attributes)));
    return out;
}

}  // namespace wharf
