// gzip (declared in compression.h): zlib's inflate and deflate in gzip mode. zlib's working memory
// is fixed (a 32 KiB window and about 7 KiB of state), so only the output needs bounding.

#include <algorithm>
#include <climits>
#include <cstdint>

#include <zlib.h>

#include "log/compression.h"
#include "log/compression_buffer.h"
#include "log/errc.h"
#include "reactor/base/assert.h"

namespace wharf {

namespace {

// windowBits 15 (the largest window, which every gzip writer may use) + 16: gzip wrapper only.
constexpr int gzip_window_bits = 15 + 16;
constexpr int default_mem_level = 8;

// A z_stream set up for inflate or deflate, ended on every path out.
class zlib_stream {
public:
    enum class mode { inflate, deflate };
    explicit zlib_stream(mode m) : _mode(m) {}
    ~zlib_stream() {
        if (!_initialised) return;
        if (_mode == mode::inflate) {
            inflateEnd(&z);
        } else {
            deflateEnd(&z);
        }
    }
    zlib_stream(const zlib_stream&) = delete;
    zlib_stream& operator=(const zlib_stream&) = delete;

    // Out of memory or a zlib built without gzip: neither is client input.
    void init_inflate() {
        const int rc = inflateInit2(&z, gzip_window_bits);
        WHARF_ASSERT(rc == Z_OK, "inflateInit2 failed: {}", rc);
        _initialised = true;
    }
    void init_deflate(int level) {
        const int rc = deflateInit2(&z, level, Z_DEFLATED, gzip_window_bits, default_mem_level,
                                    Z_DEFAULT_STRATEGY);
        WHARF_ASSERT(rc == Z_OK, "deflateInit2 failed: {}", rc);
        _initialised = true;
    }

    z_stream z{};

private:
    mode _mode;
    bool _initialised = false;
};

Bytef* as_bytef(const std::byte* p) {
    // zlib's next_in is not const-qualified (unless ZLIB_CONST), but inflate never writes there.
    return reinterpret_cast<Bytef*>(const_cast<std::byte*>(p));
}

}  // namespace

result<std::vector<std::byte>> gzip_decompress(std::span<const std::byte> in, size_t max_out) {
    // avail_in is 32 bits; batches are far smaller than 4 GiB.
    if (in.empty() || in.size() > UINT_MAX) return log_errc::decompression_failed;
    zlib_stream s(zlib_stream::mode::inflate);
    s.init_inflate();
    z_stream& z = s.z;
    z.next_in = as_bytef(in.data());
    z.avail_in = static_cast<uInt>(in.size());

    std::vector<std::byte> out;
    compression_detail::resize_exact(out,
                                     compression_detail::initial_out_bytes(in.size(), max_out));
    size_t produced = 0;
    std::byte probe{};
    for (;;) {
        // At the bound, inflate into a one-byte probe: the stream may still end exactly here, and
        // any byte that does come out proves it too large.
        const bool at_bound = produced == out.size() && out.size() == max_out;
        if (produced == out.size() && !at_bound) compression_detail::grow(out, max_out);
        const size_t room = at_bound ? 1 : std::min<size_t>(out.size() - produced, UINT_MAX);
        z.next_out = as_bytef(at_bound ? &probe : out.data() + produced);
        z.avail_out = static_cast<uInt>(room);
        const uInt in_before = z.avail_in;
        const int rc = inflate(&z, Z_NO_FLUSH);
        if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
            return log_errc::decompression_failed;  // Z_DATA_ERROR, Z_NEED_DICT and the like
        }
        const size_t got = room - z.avail_out;
        if (at_bound && got > 0) return log_errc::decompressed_too_large;
        produced += at_bound ? 0 : got;
        if (rc == Z_STREAM_END) {
            if (z.avail_in == 0) break;  // the last member is complete, its trailer checked
            // Another member follows (concatenated gzip); anything else fails in its header.
            const int reset = inflateReset(&z);
            WHARF_ASSERT(reset == Z_OK, "inflateReset failed: {}", reset);
            continue;
        }
        const bool room_left = z.avail_out > 0;
        // Room for output but no input left: the member is cut short.
        if (z.avail_in == 0 && room_left) return log_errc::decompression_failed;
        if (z.avail_in == in_before && got == 0 && room_left) {
            return log_errc::decompression_failed;  // no progress: never loop forever
        }
    }
    out.resize(produced);
    return out;
}

result<std::vector<std::byte>> gzip_compress(std::span<const std::byte> in, int level) {
    if (in.size() > UINT_MAX) return log_errc::compression_failed;
    // zlib refuses levels outside -1..9; clamp as zstd_compress does.
    level = std::clamp(level, 0, 9);
    zlib_stream s(zlib_stream::mode::deflate);
    s.init_deflate(level);
    z_stream& z = s.z;
    const uLong bound = deflateBound(&z, static_cast<uLong>(in.size()));
    if (bound > UINT_MAX) return log_errc::compression_failed;
    std::vector<std::byte> out;
    compression_detail::resize_exact(out, bound);
    z.next_in = as_bytef(in.data());
    z.avail_in = static_cast<uInt>(in.size());
    z.next_out = as_bytef(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    // With deflateBound's room, one Z_FINISH call completes the member.
    if (deflate(&z, Z_FINISH) != Z_STREAM_END) return log_errc::compression_failed;
    out.resize(out.size() - z.avail_out);
    return out;
}

}  // namespace wharf
