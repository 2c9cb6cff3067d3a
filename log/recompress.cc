#include "log/recompress.h"

#include <algorithm>
#include <cstdint>
#include <limits>

#include "log/batch_layout.h"
#include "log/compression.h"
#include "log/crc32c.h"
#include "log/errc.h"
#include "reactor/base/assert.h"

namespace wharf {

namespace bl = batch_layout;

result<std::vector<std::byte>> recompress_batch(std::span<const std::byte> batch,
                                                compression_type target,
                                                const batch_limits& limits) {
    if (static_cast<uint8_t>(target) > static_cast<uint8_t>(compression_type::zstd)) {
        return log_errc::unsupported_compression;
    }
    // The skew check needs the append's clock; the log's append makes it on the result.
    batch_limits unchecked_time = limits;
    unchecked_time.max_timestamp_skew_ms = -1;
    std::vector<std::byte> plain;
    WHARF_TRY(valid, validate_batch(batch, unchecked_time, timestamp_ms(0), &plain));
    const compression_type source = valid.header.compression();
    if (source == target) return std::vector<std::byte>(batch.begin(), batch.end());

    // validate_batch handed over the decompressed records of a compressed batch.
    const std::span<const std::byte> records =
        source == compression_type::none ? batch_records(batch) : std::span<const std::byte>(plain);
    std::vector<std::byte> section;
    if (target == compression_type::none) {
        // An uncompressed batch larger than the limit would be refused anyway: not worth copying.
        if (records.size() > limits.max_batch_bytes) return log_errc::batch_too_large;
        section.assign(records.begin(), records.end());
    } else {
        WHARF_TRY(packed, compress(target, records));
        section = std::move(packed);
    }

    const size_t total = batch_header_bytes + section.size();
    if (total > limits.max_batch_bytes ||
        total - batch_log_overhead_bytes >
            static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
        return log_errc::batch_too_large;
    }
    std::vector<std::byte> out(total);
    std::copy_n(batch.begin(), batch_header_bytes, out.begin());
    std::copy(section.begin(), section.end(), out.begin() + batch_header_bytes);
    std::span<std::byte> b(out);
    bl::put<int32_t>(b, bl::batch_length, static_cast<int32_t>(total - batch_log_overhead_bytes));
    const auto attrs = bl::get<uint16_t>(b, bl::attributes);
    bl::put<uint16_t>(b, bl::attributes,
                      static_cast<uint16_t>((attrs & ~uint16_t{bl::compression_mask}) |
                                            static_cast<uint16_t>(target)));
    bl::put<uint32_t>(b, bl::crc, crc32c(std::span<const std::byte>(out).subspan(bl::attributes)));
    // Checked as written (STYLE.md rule 9); the log's append checks it again on the way in.
    WHARF_VERIFY_ASSERT(validate_batch(out, unchecked_time, timestamp_ms(0)).has_value(),
                        "recompress_batch wrote a batch that does not validate");
    return out;
}

}  // namespace wharf
