#include "log/errc.h"

#include <string>

namespace wharf {

namespace {

class log_category_impl final : public std::error_category {
public:
    const char* name() const noexcept override { return "wharf.log"; }

    std::string message(int value) const override {
        switch (static_cast<log_errc>(value)) {
            case log_errc::corrupt_batch:
                return "record batch is corrupt";
            case log_errc::crc_mismatch:
                return "record batch CRC32C does not match its contents";
            case log_errc::invalid_batch_length:
                return "record batch length is out of range or disagrees with the bytes given";
            case log_errc::truncated_batch:
                return "fewer bytes than the record batch header or its declared length";
            case log_errc::invalid_record_count:
                return "record count is negative, zero, absurd or disagrees with the records";
            case log_errc::invalid_record:
                return "a record inside the batch is malformed";
            case log_errc::unsupported_magic:
                return "record batch magic is not 2 (only message format v2 is supported)";
            case log_errc::batch_too_large:
                return "record batch is larger than the configured maximum";
            case log_errc::invalid_timestamp:
                return "record timestamp overflows or is outside the allowed skew";
            case log_errc::unsupported_compression:
                return "record batch uses an unknown compression codec";
            case log_errc::decompression_failed:
                return "compressed records could not be decompressed";
            case log_errc::decompressed_too_large:
                return "compressed records expand beyond the configured maximum";
            case log_errc::compression_failed:
                return "records could not be compressed";
            case log_errc::corrupt_entry:
                return "log entry checksum or header is invalid";
            case log_errc::corrupt_segment:
                return "log segment is corrupt before its tail";
            case log_errc::torn_tail:
                return "log segment ends in a partially written entry";
            case log_errc::out_of_range:
                return "position is outside the log";
            case log_errc::disk_full:
                return "no space left on the log device";
            case log_errc::io_error:
                return "log I/O failed";
            case log_errc::partition_unknown:
                return "partition is not hosted by this shard log";
            case log_errc::offset_out_of_range:
                return "offset is outside the partition's log";
            case log_errc::shutting_down:
                return "the log is shutting down";
        }
        return "unknown wharf.log error " + std::to_string(value);
    }
};

}  // namespace

const std::error_category& log_category() noexcept {
    // A function-local static is initialised once and thread-safely; the category is immutable,
    // so sharing it between shards breaks no shared-nothing rule.
    static const log_category_impl category;
    return category;
}

}  // namespace wharf
