#pragma once

// Compression codecs for the records section of Kafka record batches: all four of Kafka's,
// zstd, gzip, lz4 and snappy, with the framings Kafka clients write (see each below), and a
// dispatch by the batch's compression_type.
//
// Every decompression is bounded: a compressed batch is client input, and a few hundred bytes of
// zstd (or a few kilobytes of gzip) can claim (or really expand to) gigabytes (the shape of
// CVE-2022-34917). Output memory never exceeds the caller's bound, whatever a frame header or a
// block length says; each codec's own working memory (a decoder window) is bounded separately.
// All decompressors fail the same way: log_errc::decompressed_too_large when the output would
// exceed max_out bytes, log_errc::decompression_failed for anything malformed, truncated, empty
// or followed by trailing bytes. Compressors fail with log_errc::compression_failed only for
// inputs beyond what the library takes in one call (gigabytes; batches are far smaller).
//
// The codec contexts that are worth keeping (zstd, lz4) are thread_local: one per shard thread,
// reused across calls, never shared.

#include <cstddef>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "log/record_batch.h"
#include "reactor/base/result.h"

namespace wharf {

// --- zstd (codec 4) ------------------------------------------------------------------------
// One or more concatenated zstd frames, as Kafka producers may write them. A frame that needs a
// decoder window larger than the bound allows (at least 4 MiB) is decompressed_too_large.
result<std::vector<std::byte>> zstd_decompress(std::span<const std::byte> in, size_t max_out);
// A single zstd frame that records its content size.
result<std::vector<std::byte>> zstd_compress(std::span<const std::byte> in, int level = 3);

// --- gzip (codec 1) ------------------------------------------------------------------------
// One or more concatenated gzip members (RFC 1952), as Java's GZIPOutputStream and librdkafka
// write them; each member's CRC32 and length are checked by zlib.
result<std::vector<std::byte>> gzip_decompress(std::span<const std::byte> in, size_t max_out);
// One gzip member; level 6 is Java's Deflater.DEFAULT_COMPRESSION.
result<std::vector<std::byte>> gzip_compress(std::span<const std::byte> in, int level = 6);

// --- lz4 (codec 3) -------------------------------------------------------------------------
// One or more LZ4 frames (the LZ4 frame format, not raw blocks). Kafka's Java client wrote a
// wrong header checksum in frames of magic 0 and 1 batches only; v2 batches, the only ones this
// broker accepts, carry standard frames. The block size a frame declares (at most 4 MiB) bounds
// the decoder's own buffer.
result<std::vector<std::byte>> lz4_decompress(std::span<const std::byte> in, size_t max_out);
// One frame as Kafka's Java client writes it: independent 64 KiB blocks, no content size.
result<std::vector<std::byte>> lz4_compress(std::span<const std::byte> in);

// --- snappy (codec 2) ----------------------------------------------------------------------
// The xerial snappy-java framing that the Java client and librdkafka write: the 16-byte header
// (0x82 "SNAPPY" 0x00, int32 version 1, int32 compatible version 1), then blocks of a big-endian
// int32 compressed length and one raw snappy block; a header may recur between blocks
// (concatenated streams). Input that does not start with the header is one raw snappy block.
result<std::vector<std::byte>> snappy_decompress(std::span<const std::byte> in, size_t max_out);
// The xerial framing with 32 KiB blocks, as snappy-java writes it.
result<std::vector<std::byte>> snappy_compress(std::span<const std::byte> in);

// --- dispatch ------------------------------------------------------------------------------
// By codec; compression_type::none copies (decompressed_too_large past max_out). A value that
// is not a codec (bits 5-7) is log_errc::unsupported_compression.
result<std::vector<std::byte>> decompress(compression_type c, std::span<const std::byte> in,
                                          size_t max_out);
result<std::vector<std::byte>> compress(compression_type c, std::span<const std::byte> in);

// The producer-side codec names, as clients' compression.type spells them: none, gzip, snappy,
// lz4, zstd. nullopt for anything else.
std::optional<compression_type> codec_from_name(std::string_view name);
const char* codec_name(compression_type c);

}  // namespace wharf
