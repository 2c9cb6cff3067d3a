#pragma once

// Compression codecs for the records section of Kafka record batches. zstd is the first codec
// (DESIGN.md section 4); gzip, snappy and lz4 come later.
//
// Every decompression is bounded: a compressed batch is client input, and a few hundred bytes of
// zstd can claim (or really expand to) gigabytes (the shape of CVE-2022-34917). Output memory
// never exceeds the caller's bound, whatever the frame header says.
//
// The codec contexts are thread_local: one per shard thread, reused across calls, never shared.

#include <cstddef>
#include <span>
#include <vector>

#include "reactor/base/result.h"

namespace wharf {

// Decompresses one or more concatenated zstd frames (as Kafka producers may write them).
// Errors: log_errc::decompressed_too_large when the output would exceed max_out bytes or the
// frame needs a decoder window too large for that bound, log_errc::decompression_failed for
// anything malformed, truncated or empty.
result<std::vector<std::byte>> zstd_decompress(std::span<const std::byte> in, size_t max_out);

// Compresses `in` into a single zstd frame that records its content size.
// Errors: log_errc::compression_failed when `in` is beyond what zstd can compress in one call.
result<std::vector<std::byte>> zstd_compress(std::span<const std::byte> in, int level = 3);

}  // namespace wharf
