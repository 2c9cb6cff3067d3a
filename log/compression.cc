// zstd (bounded streaming decompression, one-shot compression) and the dispatch by codec.

#include "log/compression.h"

#include <algorithm>
#include <bit>
#include <memory>

#include <zstd.h>
#include <zstd_errors.h>

#include "log/compression_buffer.h"
#include "log/errc.h"
#include "reactor/base/assert.h"

namespace wharf {

namespace {

using compression_detail::resize_exact;

struct dctx_deleter {
    void operator()(ZSTD_DCtx* ctx) const noexcept { ZSTD_freeDCtx(ctx); }
};
struct cctx_deleter {
    void operator()(ZSTD_CCtx* ctx) const noexcept { ZSTD_freeCCtx(ctx); }
};

// One context per shard thread: creating one costs far more than a small batch's decompression,
// and a context is never used by two threads at once.
ZSTD_DCtx* shard_dctx() {
    thread_local std::unique_ptr<ZSTD_DCtx, dctx_deleter> ctx(ZSTD_createDCtx());
    WHARF_ASSERT(ctx != nullptr, "ZSTD_createDCtx failed (out of memory)");
    return ctx.get();
}

ZSTD_CCtx* shard_cctx() {
    thread_local std::unique_ptr<ZSTD_CCtx, cctx_deleter> ctx(ZSTD_createCCtx());
    WHARF_ASSERT(ctx != nullptr, "ZSTD_createCCtx failed (out of memory)");
    return ctx.get();
}

// The decoder allocates a window buffer of the size a frame declares, before producing any byte.
// Tying the accepted window to the output bound keeps that allocation proportionate (a 100-byte
// frame must not make a shard hold 128 MiB), while 2^22 = 4 MiB still admits the windows that
// producers use at their default levels even when the output bound is small.
constexpr int min_window_log = 22;
constexpr int max_window_log = 27;  // ZSTD_WINDOWLOG_LIMIT_DEFAULT, the decoder's own default

int window_log_for(size_t max_out) {
    const int needed = max_out <= 1 ? 0 : static_cast<int>(std::bit_width(max_out - 1));
    return std::clamp(needed, min_window_log, max_window_log);
}

std::error_code from_zstd_error(size_t code) {
    if (ZSTD_getErrorCode(code) == ZSTD_error_frameParameter_windowTooLarge) {
        return log_errc::decompressed_too_large;
    }
    return log_errc::decompression_failed;
}

size_t initial_out_bytes(std::span<const std::byte> in, size_t max_out) {
    const unsigned long long declared = ZSTD_getFrameContentSize(in.data(), in.size());
    if (declared != ZSTD_CONTENTSIZE_UNKNOWN && declared != ZSTD_CONTENTSIZE_ERROR) {
        return std::min<unsigned long long>(declared, max_out);
    }
    return compression_detail::initial_out_bytes(in.size(), max_out);
}

}  // namespace

result<std::vector<std::byte>> zstd_decompress(std::span<const std::byte> in, size_t max_out) {
    if (in.empty()) return log_errc::decompression_failed;
    // A frame header that states its size lets an oversized frame be refused before any work.
    const unsigned long long declared = ZSTD_getFrameContentSize(in.data(), in.size());
    if (declared == ZSTD_CONTENTSIZE_ERROR) return log_errc::decompression_failed;
    if (declared != ZSTD_CONTENTSIZE_UNKNOWN && declared > max_out) {
        return log_errc::decompressed_too_large;
    }

    ZSTD_DCtx* ctx = shard_dctx();
    // Drops the state a previous failed call may have left behind.
    ZSTD_DCtx_reset(ctx, ZSTD_reset_session_only);
    const size_t set = ZSTD_DCtx_setParameter(ctx, ZSTD_d_windowLogMax, window_log_for(max_out));
    WHARF_ASSERT(!ZSTD_isError(set), "windowLogMax rejected: {}", ZSTD_getErrorName(set));

    std::vector<std::byte> out;
    resize_exact(out, initial_out_bytes(in, max_out));
    size_t produced = 0;
    ZSTD_inBuffer input{in.data(), in.size(), 0};
    std::byte probe{};
    for (;;) {
        // At the bound, decode into a one-byte probe: the input may still end exactly here, and
        // any byte that does come out proves the frame too large.
        const bool at_bound = produced == out.size() && out.size() == max_out;
        if (produced == out.size() && !at_bound) compression_detail::grow(out, max_out);
        ZSTD_outBuffer output =
            at_bound ? ZSTD_outBuffer{&probe, 1, 0}
                     : ZSTD_outBuffer{out.data() + produced, out.size() - produced, 0};
        const size_t in_before = input.pos;
        const size_t hint = ZSTD_decompressStream(ctx, &output, &input);
        if (ZSTD_isError(hint)) return from_zstd_error(hint);
        if (at_bound && output.pos > 0) return log_errc::decompressed_too_large;
        produced += at_bound ? 0 : output.pos;
        const bool input_done = input.pos == input.size;
        if (hint == 0 && input_done) break;  // the last frame is complete and flushed
        const bool room_left = output.pos < output.size;
        // Room for output but no input left: the frame is cut short. No progress at all with both
        // available would loop forever; zstd never does that, but a bound costs nothing.
        if (input_done && room_left) return log_errc::decompression_failed;
        if (input.pos == in_before && output.pos == 0) return log_errc::decompression_failed;
    }
    out.resize(produced);
    return out;
}

result<std::vector<std::byte>> zstd_compress(std::span<const std::byte> in, int level) {
    const size_t bound = ZSTD_compressBound(in.size());
    if (bound == 0 || ZSTD_isError(bound)) return log_errc::compression_failed;
    ZSTD_CCtx* ctx = shard_cctx();
    ZSTD_CCtx_reset(ctx, ZSTD_reset_session_and_parameters);
    // zstd clamps an out-of-range level to the nearest valid one.
    const size_t set = ZSTD_CCtx_setParameter(ctx, ZSTD_c_compressionLevel, level);
    if (ZSTD_isError(set)) return log_errc::compression_failed;
    std::vector<std::byte> out;
    resize_exact(out, bound);
    const size_t written = ZSTD_compress2(ctx, out.data(), out.size(), in.data(), in.size());
    if (ZSTD_isError(written)) return log_errc::compression_failed;
    out.resize(written);
    return out;
}

result<std::vector<std::byte>> decompress(compression_type c, std::span<const std::byte> in,
                                          size_t max_out) {
    switch (c) {
        case compression_type::none:
            if (in.size() > max_out) return log_errc::decompressed_too_large;
            return std::vector<std::byte>(in.begin(), in.end());
        case compression_type::gzip:
            return gzip_decompress(in, max_out);
        case compression_type::snappy:
            return snappy_decompress(in, max_out);
        case compression_type::lz4:
            return lz4_decompress(in, max_out);
        case compression_type::zstd:
            return zstd_decompress(in, max_out);
    }
    return log_errc::unsupported_compression;
}

result<std::vector<std::byte>> compress(compression_type c, std::span<const std::byte> in) {
    switch (c) {
        case compression_type::none:
            return std::vector<std::byte>(in.begin(), in.end());
        case compression_type::gzip:
            return gzip_compress(in);
        case compression_type::snappy:
            return snappy_compress(in);
        case compression_type::lz4:
            return lz4_compress(in);
        case compression_type::zstd:
            return zstd_compress(in);
    }
    return log_errc::unsupported_compression;
}

namespace {
constexpr const char* codec_names[] = {"none", "gzip", "snappy", "lz4", "zstd"};
}  // namespace

std::optional<compression_type> codec_from_name(std::string_view name) {
    for (size_t i = 0; i < std::size(codec_names); ++i) {
        if (name == codec_names[i]) return static_cast<compression_type>(i);
    }
    return std::nullopt;
}

const char* codec_name(compression_type c) {
    auto i = static_cast<size_t>(c);
    return i < std::size(codec_names) ? codec_names[i] : "unknown";
}

}  // namespace wharf
