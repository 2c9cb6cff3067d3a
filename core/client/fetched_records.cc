#include "core/client/fetched_records.h"

#include <algorithm>
#include <vector>

#include "log/batch_layout.h"
#include "log/compression.h"

namespace wharf::client {

namespace {

// Decompressed records sections above this are not read (no broker accepts such batches).
constexpr size_t max_decompressed_bytes = 256u << 20;
constexpr uint8_t control_batch_bit = 0x20;

}  // namespace

int64_t for_each_record(std::span<const std::byte> bytes, int64_t position,
                        const std::function<void(const fetched_record&)>& fn) {
    size_t pos = 0;
    std::vector<std::byte> decompressed;
    while (pos + batch_header_bytes <= bytes.size()) {
        auto batch = bytes.subspan(pos);
        auto base = batch_layout::get<int64_t>(batch, batch_layout::base_offset);
        auto length = batch_layout::get<int32_t>(batch, batch_layout::batch_length);
        if (length < 0) break;
        size_t total = batch_log_overhead_bytes + static_cast<size_t>(length);
        if (total < batch_header_bytes || total > batch.size()) break;  // partial: the byte limit
        batch = batch.first(total);
        pos += total;
        auto attributes = batch_layout::get<int16_t>(batch, batch_layout::attributes);
        auto last_delta = batch_layout::get<int32_t>(batch, batch_layout::last_offset_delta);
        auto count = batch_layout::get<int32_t>(batch, batch_layout::records_count);
        auto base_ts = batch_layout::get<int64_t>(batch, batch_layout::base_timestamp);
        auto max_ts = batch_layout::get<int64_t>(batch, batch_layout::max_timestamp);
        bool log_append_time = (attributes & batch_layout::timestamp_type_bit) != 0;
        int64_t next = base + last_delta + 1;
        if (next <= position || (attributes & control_batch_bit) != 0) {
            position = std::max(position, next);
            continue;
        }
        auto section = batch.subspan(batch_layout::records);
        auto codec = static_cast<compression_type>(attributes & batch_layout::compression_mask);
        if (codec != compression_type::none) {
            auto d = decompress(codec, section, max_decompressed_bytes);
            if (!d) {
                position = next;
                continue;
            }
            decompressed = std::move(*d);
            section = decompressed;
        }
        record_reader reader(section, count);
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
