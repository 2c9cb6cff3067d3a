// snappy (declared in compression.h): raw snappy blocks through snappy-c.h, inside the xerial
// snappy-java framing that Kafka clients write.
//
// A raw block starts with its uncompressed length (a varint). That claim is checked against the
// bound, and against what the block's bytes could possibly expand to, before the output grows
// by it; snappy then verifies that the block decodes to exactly the claimed length.

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>

#include <snappy-c.h>

#include "log/compression.h"
#include "log/compression_buffer.h"
#include "log/errc.h"
#include "reactor/base/assert.h"

namespace wharf {

namespace {

// snappy-java's stream header: magic, then int32 version and int32 compatible version.
constexpr std::array<uint8_t, 8> xerial_magic = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0};
constexpr size_t xerial_header_bytes = 16;
constexpr int32_t xerial_version = 1;
constexpr int32_t xerial_compatible_version = 1;
// snappy-java's default block size; each block is compressed on its own.
constexpr size_t xerial_block_bytes = 32 << 10;

// The most a snappy element can expand: a 3-byte copy with a 2-byte offset yields 64 bytes. A
// claimed length beyond 22 times the block's size cannot be honest.
constexpr size_t max_snappy_expansion = 22;

bool xerial_header_at(std::span<const std::byte> in, size_t pos) {
    return in.size() - pos >= xerial_magic.size() &&
           std::memcmp(in.data() + pos, xerial_magic.data(), xerial_magic.size()) == 0;
}

uint32_t get_be32(const std::byte* p) {
    uint32_t v = 0;
    std::memcpy(&v, p, sizeof(v));
    return __builtin_bswap32(v);
}

void put_be32(std::byte* p, uint32_t v) {
    v = __builtin_bswap32(v);
    std::memcpy(p, &v, sizeof(v));
}

// Decodes one raw snappy block and appends it to `out` (whose size is all output so far).
status append_raw_block(std::span<const std::byte> block, std::vector<std::byte>& out,
                        size_t max_out) {
    const auto* src = reinterpret_cast<const char*>(block.data());
    size_t claimed = 0;
    if (snappy_uncompressed_length(src, block.size(), &claimed) != SNAPPY_OK) {
        return log_errc::decompression_failed;
    }
    if (claimed > max_out - out.size()) return log_errc::decompressed_too_large;
    if (claimed / max_snappy_expansion > block.size()) return log_errc::decompression_failed;
    const size_t at = out.size();
    compression_detail::extend(out, claimed, max_out);
    size_t written = claimed;
    if (snappy_uncompress(src, block.size(), reinterpret_cast<char*>(out.data() + at), &written) !=
            SNAPPY_OK ||
        written != claimed) {
        return log_errc::decompression_failed;
    }
    return {};
}

}  // namespace

result<std::vector<std::byte>> snappy_decompress(std::span<const std::byte> in, size_t max_out) {
    std::vector<std::byte> out;
    if (!xerial_header_at(in, 0)) {
        // A plain raw block (an empty input fails in its missing length).
        if (auto st = append_raw_block(in, out, max_out); !st) return st.error();
        return out;
    }
    size_t pos = 0;
    while (pos < in.size()) {
        if (xerial_header_at(in, pos)) {
            // The version fields are not checked: snappy-java itself only logs a mismatch.
            if (in.size() - pos < xerial_header_bytes) return log_errc::decompression_failed;
            pos += xerial_header_bytes;
            continue;
        }
        if (in.size() - pos < 4) return log_errc::decompression_failed;
        const uint32_t length = get_be32(in.data() + pos);
        pos += 4;
        // Negative as an int32, or past the input: never a block.
        if (length > static_cast<uint32_t>(INT32_MAX) || length > in.size() - pos) {
            return log_errc::decompression_failed;
        }
        if (auto st = append_raw_block(in.subspan(pos, length), out, max_out); !st) {
            return st.error();
        }
        pos += length;
    }
    return out;
}

result<std::vector<std::byte>> snappy_compress(std::span<const std::byte> in) {
    const size_t blocks = (in.size() + xerial_block_bytes - 1) / xerial_block_bytes;
    const size_t block_bound = snappy_max_compressed_length(xerial_block_bytes);
    std::vector<std::byte> out;
    compression_detail::resize_exact(out, xerial_header_bytes + blocks * (4 + block_bound));
    std::memcpy(out.data(), xerial_magic.data(), xerial_magic.size());
    put_be32(out.data() + 8, xerial_version);
    put_be32(out.data() + 12, xerial_compatible_version);
    size_t pos = xerial_header_bytes;
    for (size_t from = 0; from < in.size(); from += xerial_block_bytes) {
        const size_t n = std::min(xerial_block_bytes, in.size() - from);
        size_t written = block_bound;
        // The C function; wharf::snappy_compress (this one) would hide it.
        if (::snappy_compress(reinterpret_cast<const char*>(in.data() + from), n,
                              reinterpret_cast<char*>(out.data() + pos + 4),
                              &written) != SNAPPY_OK) {
            return log_errc::compression_failed;
        }
        WHARF_ASSERT(written <= block_bound, "snappy wrote {} bytes past its bound {}", written,
                     block_bound);
        put_be32(out.data() + pos, static_cast<uint32_t>(written));
        pos += 4 + written;
    }
    out.resize(pos);
    return out;
}

}  // namespace wharf
