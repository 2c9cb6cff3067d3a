#pragma once

// Rewriting a record batch into another codec, for topics whose compression.type is not
// `producer` (Kafka's LogValidator recompresses such batches on the leader the same way). The
// produce path calls it on the owning shard before the append; plain synchronous CPU work, no
// state, any thread.

#include <cstddef>
#include <span>
#include <vector>

#include "log/record_batch.h"
#include "reactor/base/result.h"

namespace wharf {

// Validates `batch` (validate_batch with `limits`, timestamps unchecked: the log's append checks
// their skew when the result is appended), decompresses its records when compressed, compresses
// them with `target` (none leaves them uncompressed) and returns the new batch: every header
// field kept (base offset, leader epoch, producer id, epoch and sequence, timestamps, last
// offset delta, record count, the other attribute bits), the codec bits set to `target`,
// batchLength for the new size and a new CRC32C. A batch already in `target` comes back as an
// unchanged copy.
//
// Client input is expected here: a batch that fails validation is refused with validate_batch's
// error, and one that would grow past limits.max_batch_bytes (uncompressing a well-compressed
// batch) with log_errc::batch_too_large.
// Errors (log_errc): those of validate_batch, batch_too_large, compression_failed,
// unsupported_compression (target not a codec).
result<std::vector<std::byte>> recompress_batch(std::span<const std::byte> batch,
                                                compression_type target,
                                                const batch_limits& limits);

}  // namespace wharf
