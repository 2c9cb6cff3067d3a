#pragma once

// The log module's expected failures (STYLE.md rule 7): malformed record batches from clients or
// disk, and the storage conditions the shard log reports. Kafka error codes are chosen from these
// only at the handler edge (DESIGN.md section 2).

#include <system_error>
#include <type_traits>

namespace wharf {

// Values are stable: tests and logs may print them, and none is ever zero (zero means success in
// std::error_code).
enum class log_errc : int {
    // Record batches (Kafka message format v2).
    corrupt_batch = 1,
    crc_mismatch,
    invalid_batch_length,
    truncated_batch,
    invalid_record_count,
    invalid_record,
    unsupported_magic,
    batch_too_large,
    invalid_timestamp,
    unsupported_compression,
    decompression_failed,
    decompressed_too_large,
    compression_failed,
    // The shard log.
    corrupt_entry,
    corrupt_segment,
    torn_tail,
    out_of_range,
    disk_full,
    io_error,
    partition_unknown,
    offset_out_of_range,
    shutting_down,
};

const std::error_category& log_category() noexcept;

inline std::error_code make_error_code(log_errc e) noexcept {
    return {static_cast<int>(e), log_category()};
}

}  // namespace wharf

template <>
struct std::is_error_code_enum<wharf::log_errc> : std::true_type {};
