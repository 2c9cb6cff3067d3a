#include "core/client/fetched_records.h"

#include <algorithm>
#include <vector>

#include "log/compression.h"
#include "log/record_batch.h"

namespace wharf::client {

namespace {

// Decompressed records sections above this are not read (no broker accepts such batches).
constexpr size_t max_decompressed_bytes = 256u << 20;

}  // namespace

int64_t for_each_record(std::span<const std::byte> bytes, int64_t position,
                        const std::function<void(const fetched_record&)>& fn) {
    size_t pos = 0;
    std::vector<std::byte> decompressed;
    while (pos < bytes.size()) {
        // Stops at a partial batch (the fetch's byte limit) and at framing it cannot trust
        // (a magic other than 2).
        auto h = read_batch_header(bytes.subspan(pos));
        if (!h) break;
        auto batch = bytes.subspan(pos, h->total_bytes());
        pos += h->total_bytes();
        const int64_t base = h->base_offset.value();
        const int64_t next = base + h->last_offset_delta + 1;
        if (next <= position || h->is_control()) {
            position = std::max(position, next);
            continue;
        }
        auto section = batch_records(batch);
        if (h->compression() != compression_type::none) {
            auto d = decompress(h->compression(), section, max_decompressed_bytes);
            if (!d) {
                position = next;
                continue;
            }
            decompressed = std::move(*d);
            section = decompressed;
        }
        const bool log_append_time = h->ts_type() == timestamp_type::log_append_time;
        const int64_t base_ts = h->base_timestamp;
        const int64_t max_ts = h->max_timestamp;
        record_reader reader(section, h->records_count);
        while (!reader.at_end()) {
            auto r = reader.next();
            if (!r) break;
            int64_t offset = base + r->offset_delta;
            if (offset < position) continue;
            fn(fetched_record{offset, log_append_time ? max_ts : base_ts + r->timestamp_delta,
                              &*r});
        }
        position = next;
    }
    return position;
}

}  // namespace wharf::client
