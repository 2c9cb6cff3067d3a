// lz4 (declared in compression.h): the LZ4 frame format through lz4frame.h. The decoder buffers
// at most one block of the size the frame declares (64 KiB to 4 MiB) plus 64 KiB of history; the
// output is bounded like every codec's (compression_buffer.h).

#include <memory>

#include <lz4frame.h>

#include "log/compression.h"
#include "log/compression_buffer.h"
#include "log/errc.h"
#include "reactor/base/assert.h"

namespace wharf {

namespace {

struct lz4_dctx_deleter {
    void operator()(LZ4F_dctx* ctx) const noexcept { LZ4F_freeDecompressionContext(ctx); }
};

// One context per shard thread, as for zstd: reused, never shared between threads.
LZ4F_dctx* shard_lz4_dctx() {
    thread_local std::unique_ptr<LZ4F_dctx, lz4_dctx_deleter> ctx([] {
        LZ4F_dctx* p = nullptr;
        const size_t rc = LZ4F_createDecompressionContext(&p, LZ4F_VERSION);
        WHARF_ASSERT(!LZ4F_isError(rc), "LZ4F_createDecompressionContext failed: {}",
                     LZ4F_getErrorName(rc));
        return p;
    }());
    return ctx.get();
}

}  // namespace

result<std::vector<std::byte>> lz4_decompress(std::span<const std::byte> in, size_t max_out) {
    if (in.empty()) return log_errc::decompression_failed;
    LZ4F_dctx* ctx = shard_lz4_dctx();
    // Drops the state a previous failed call may have left behind.
    LZ4F_resetDecompressionContext(ctx);

    std::vector<std::byte> out;
    compression_detail::resize_exact(out,
                                     compression_detail::initial_out_bytes(in.size(), max_out));
    size_t produced = 0;
    size_t pos = 0;
    std::byte probe{};
    for (;;) {
        // At the bound, decode into a one-byte probe: the input may still end exactly here, and
        // any byte that does come out proves the frame too large.
        const bool at_bound = produced == out.size() && out.size() == max_out;
        if (produced == out.size() && !at_bound) compression_detail::grow(out, max_out);
        const size_t room = at_bound ? 1 : out.size() - produced;
        size_t written = room;
        size_t consumed = in.size() - pos;
        // Without stableDst, the decoder keeps the history of linked blocks in its own buffer,
        // so the output vector may move between calls.
        const size_t hint = LZ4F_decompress(ctx, at_bound ? &probe : out.data() + produced,
                                            &written, in.data() + pos, &consumed, nullptr);
        if (LZ4F_isError(hint)) return log_errc::decompression_failed;
        pos += consumed;
        if (at_bound && written > 0) return log_errc::decompressed_too_large;
        produced += at_bound ? 0 : written;
        const bool input_done = pos == in.size();
        // 0: a frame ended and was flushed. More input is another frame (or garbage, which fails
        // in its header); the context is ready for it.
        if (hint == 0 && input_done) break;
        const bool room_left = written < room;
        // Room for output but no input left: the frame is cut short.
        if (input_done && room_left) return log_errc::decompression_failed;
        if (consumed == 0 && written == 0) return log_errc::decompression_failed;  // no progress
    }
    out.resize(produced);
    return out;
}

result<std::vector<std::byte>> lz4_compress(std::span<const std::byte> in) {
    LZ4F_preferences_t prefs{};
    prefs.frameInfo.blockSizeID = LZ4F_max64KB;
    prefs.frameInfo.blockMode = LZ4F_blockIndependent;
    prefs.frameInfo.contentChecksumFlag = LZ4F_noContentChecksum;
    prefs.frameInfo.contentSize = 0;  // unknown, as Kafka's KafkaLZ4BlockOutputStream writes
    prefs.compressionLevel = 0;       // lz4's fast default
    const size_t bound = LZ4F_compressFrameBound(in.size(), &prefs);
    if (LZ4F_isError(bound)) return log_errc::compression_failed;
    std::vector<std::byte> out;
    compression_detail::resize_exact(out, bound);
    const size_t written = LZ4F_compressFrame(out.data(), out.size(), in.data(), in.size(), &prefs);
    if (LZ4F_isError(written)) return log_errc::compression_failed;
    out.resize(written);
    return out;
}

}  // namespace wharf
