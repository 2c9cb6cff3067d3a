#include "core/kafka/errors.h"

#include "core/cluster/errc.h"
#include "log/errc.h"
#include "raft/errc.h"

namespace wharf::kafka {

namespace {

error_code from_log(log_errc e) noexcept {
    switch (e) {
    case log_errc::corrupt_batch:
    case log_errc::crc_mismatch:
    case log_errc::invalid_batch_length:
    case log_errc::truncated_batch:
    case log_errc::decompression_failed:
    case log_errc::decompressed_too_large:
        return error_code::corrupt_message;
    case log_errc::invalid_record_count:
    case log_errc::invalid_record:
        return error_code::invalid_record;
    case log_errc::unsupported_magic:
        return error_code::unsupported_for_message_format;
    case log_errc::batch_too_large:
        return error_code::message_too_large;
    case log_errc::invalid_timestamp:
        return error_code::invalid_timestamp;
    case log_errc::unsupported_compression:
    case log_errc::compression_failed:
        return error_code::unsupported_compression_type;
    case log_errc::disk_full:
    case log_errc::io_error:
    case log_errc::corrupt_entry:
    case log_errc::corrupt_segment:
    case log_errc::torn_tail:
        return error_code::kafka_storage_error;
    case log_errc::partition_unknown:
        return error_code::unknown_topic_or_partition;
    case log_errc::out_of_range:
    case log_errc::offset_out_of_range:
        return error_code::offset_out_of_range;
    case log_errc::shutting_down:
        return error_code::not_leader_or_follower;
    }
    return error_code::unknown_server_error;
}

}  // namespace

error_code to_kafka_error(std::error_code ec) noexcept {
    if (!ec) return error_code::none;
    if (ec.category() == log_category()) return from_log(static_cast<log_errc>(ec.value()));
    if (ec.category() == raft_category()) {
        auto e = static_cast<raft_errc>(ec.value());
        if (e == raft_errc::not_leader || e == raft_errc::shutting_down) {
            return error_code::not_leader_or_follower;
        }
        // The write may still commit: clients must take it as possibly persisted and retry it
        // with the same sequence numbers. NOT_LEADER_OR_FOLLOWER and KAFKA_STORAGE_ERROR tell
        // librdkafka it was not persisted, and its idempotent producer may then bump its epoch
        // and send it again as new: stored twice.
        if (e == raft_errc::outcome_unknown) return error_code::request_timed_out;
        return error_code::kafka_storage_error;
    }
    if (ec.category() == cluster_category()) {
        return static_cast<error_code>(kafka_error_code(static_cast<cluster_errc>(ec.value())));
    }
    return error_code::unknown_server_error;
}

}  // namespace wharf::kafka
