#pragma once

// Kafka record batches, message format v2 (magic 2): the unit a producer sends, the shard log
// stores as one entry payload (DESIGN.md section 4) and a fetch returns unchanged.
//
// Layout, big-endian, 61 header bytes then the records section:
//   0 baseOffset int64         8 batchLength int32 (bytes after this field)
//  12 partitionLeaderEpoch int32  16 magic int8 (2)  17 crc uint32 (CRC32C of bytes 21..end)
//  21 attributes int16: bits 0-2 compression (0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd),
//     bit 3 timestamp type (1 = LogAppendTime), bit 4 transactional, bit 5 control
//  23 lastOffsetDelta int32   27 baseTimestamp int64   35 maxTimestamp int64
//  43 producerId int64        51 producerEpoch int16   53 baseSequence int32
//  57 recordsCount int32      61 records (see log/record_reader.h), compressed as a whole
//
// The magic byte sits at offset 16 in every Kafka message format, so an old-format batch is
// recognised (and refused) before its layout is trusted. baseOffset and partitionLeaderEpoch lie
// outside the CRC so that the leader can stamp them without recomputing it.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "reactor/base/ids.h"
#include "reactor/base/result.h"

namespace wharf {

inline constexpr size_t batch_header_bytes = 61;
// baseOffset and batchLength precede what batchLength counts.
inline constexpr size_t batch_log_overhead_bytes = 12;
inline constexpr int32_t min_batch_length = batch_header_bytes - batch_log_overhead_bytes;
inline constexpr int8_t batch_magic_v2 = 2;

enum class compression_type : uint8_t { none = 0, gzip = 1, snappy = 2, lz4 = 3, zstd = 4 };
enum class timestamp_type : uint8_t { create_time = 0, log_append_time = 1 };

struct batch_header {
    kafka_offset base_offset;
    int32_t batch_length = 0;
    int32_t partition_leader_epoch = 0;
    int8_t magic = 0;
    uint32_t crc = 0;
    int16_t attributes = 0;
    int32_t last_offset_delta = 0;
    int64_t base_timestamp = 0;
    int64_t max_timestamp = 0;
    int64_t producer_id = 0;
    int16_t producer_epoch = 0;
    int32_t base_sequence = 0;
    int32_t records_count = 0;

    // The raw codec bits; values 5-7 are not codecs, validate_batch refuses them.
    compression_type compression() const noexcept {
        return static_cast<compression_type>(attributes & 0x07);
    }
    timestamp_type ts_type() const noexcept {
        return (attributes & 0x08) != 0 ? timestamp_type::log_append_time
                                        : timestamp_type::create_time;
    }
    bool is_transactional() const noexcept { return (attributes & 0x10) != 0; }
    bool is_control() const noexcept { return (attributes & 0x20) != 0; }
    kafka_offset last_offset() const noexcept { return base_offset + last_offset_delta; }
    size_t total_bytes() const noexcept {
        return batch_log_overhead_bytes + static_cast<size_t>(batch_length);
    }
};

// Reads the header of the batch at the start of `bytes`, which may hold more batches after it.
// Checks only what is needed to trust the header's framing; no CRC check.
// Errors: truncated_batch (fewer than 61 bytes, or fewer than the declared length),
// unsupported_magic (magic != 2), invalid_batch_length (batchLength < 49).
result<batch_header> read_batch_header(std::span<const std::byte> bytes);
// The same from the header's 61 bytes alone, without the check against the declared length:
// for a caller that has the batch elsewhere (in pieces) and checks its size itself.
result<batch_header> peek_batch_header(std::span<const std::byte> header);

// The records section of a batch: everything after the 61-byte header.
// REQUIRES: bytes holds one whole batch (as read_batch_header accepted).
std::span<const std::byte> batch_records(std::span<const std::byte> bytes);

// Whether the stored CRC32C matches bytes 21..end. The shard log checks it again when it reads a
// batch back (STYLE.md rule 9).
// REQUIRES: bytes holds exactly one batch whose framing read_batch_header accepted.
bool batch_crc_matches(std::span<const std::byte> bytes);

struct batch_limits {
    size_t max_batch_bytes = 1 << 20;
    size_t max_uncompressed_bytes = 64 << 20;
    int64_t max_timestamp_skew_ms = -1;  // -1: no check
};

struct validated_batch {
    batch_header header;
    size_t total_bytes = 0;
    // Greatest baseTimestamp + timestampDelta over the records (validate_batch reads them all,
    // whatever the codec). Kafka rewrites maxTimestamp with it for CreateTime topics; see
    // set_max_timestamp.
    std::optional<timestamp_ms> max_record_timestamp;
};

// Full validation of exactly one batch occupying all of `bytes`, as received from a producer.
// Checks, in order: framing and magic, size against limits, CRC32C, codec, the record count
// (> 0, equal to lastOffsetDelta + 1, and no more than the bytes can hold, before anything is
// sized by it), then every record: exact lengths, offset deltas 0, 1, 2, ... in order, key,
// value and header lengths in bounds, no bytes left over, and timestamps (no overflow; within
// max_timestamp_skew_ms of now_ms when that is set, for every record whatever the batch's
// timestamp type, since the leader decides the type when it stamps).
//
// Compressed records (every Kafka codec: gzip, snappy, lz4, zstd; log/compression.h) are
// decompressed, at most limits.max_uncompressed_bytes, and checked the same way. When the batch
// is compressed and decompressed_records is not null, it receives the decompressed records
// section, so that a caller that rewrites the batch (recompress_batch) decompresses it once.
//
// Not checked here, being produce-path policy rather than format: control batches from clients,
// sequence numbers, and what the topic allows.
// Errors (log_errc): truncated_batch, invalid_batch_length, unsupported_magic, batch_too_large,
// crc_mismatch, unsupported_compression, invalid_record_count, invalid_record,
// invalid_timestamp, decompression_failed, decompressed_too_large.
result<validated_batch> validate_batch(std::span<const std::byte> bytes, const batch_limits& limits,
                                       timestamp_ms now,
                                       std::vector<std::byte>* decompressed_records = nullptr);

// Rewrites the timestamp type bit and maxTimestamp, then the CRC if either changed, as Kafka's
// DefaultRecordBatch.setMaxTimestamp does. baseTimestamp is untouched: it stays the create time of
// the first record, and readers of a LogAppendTime batch take every record's timestamp from
// maxTimestamp.
// REQUIRES: bytes is a batch that passed validate_batch.
void set_max_timestamp(std::span<std::byte> bytes, timestamp_type type, timestamp_ms max_ts);

// Leader-side stamping before append: writes baseOffset and partitionLeaderEpoch (outside the
// CRC, so no recomputation for those). With log_append_time the batch becomes LogAppendTime
// with maxTimestamp = the append time (KIP-32); without it the batch becomes CreateTime, its
// maxTimestamp unchanged. The CRC is recomputed only when the attributes or maxTimestamp change.
// REQUIRES: bytes is a batch that passed validate_batch.
void stamp_batch(std::span<std::byte> bytes, kafka_offset base_offset, int32_t leader_epoch,
                 std::optional<timestamp_ms> log_append_time);

struct record_to_build {
    std::optional<std::string_view> key{};
    std::optional<std::string_view> value{};
    std::vector<std::pair<std::string_view, std::optional<std::string_view>>> headers{};
    int64_t timestamp_delta = 0;
};

// Builds a v2 batch (for tests, the benchmark and the CLI producer), as a producer would:
// partitionLeaderEpoch -1, offset deltas 0..n-1, maxTimestamp the greatest record timestamp.
// REQUIRES: records is not empty; c is a codec (not bits 5-7); every key, value and header fits in
// int32.
std::vector<std::byte> build_batch(kafka_offset base_offset, int64_t base_timestamp,
                                   std::span<const record_to_build> records,
                                   compression_type c = compression_type::none,
                                   int64_t producer_id = -1, int16_t producer_epoch = -1,
                                   int32_t base_sequence = -1);

}  // namespace wharf
