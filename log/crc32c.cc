#include "log/crc32c.h"

#include <array>
#include <cstring>

#include <cpuid.h>
#include <nmmintrin.h>

namespace wharf {

namespace {

// The reflected form of 0x1EDC6F41: bit 31 holds x^0, as the crc32 instruction expects.
constexpr uint32_t crc32c_poly_reflected = 0x82F63B78;

using byte_table = std::array<uint32_t, 256>;

// Slicing-by-8 tables: tables[k][b] is the CRC register after byte b followed by k zero bytes.
constexpr std::array<byte_table, 8> make_slice_tables() {
    std::array<byte_table, 8> t{};
    for (uint32_t b = 0; b < 256; ++b) {
        uint32_t c = b;
        for (int i = 0; i < 8; ++i) c = (c & 1) ? (c >> 1) ^ crc32c_poly_reflected : c >> 1;
        t[0][b] = c;
    }
    for (size_t k = 1; k < 8; ++k) {
        for (uint32_t b = 0; b < 256; ++b) t[k][b] = (t[k - 1][b] >> 8) ^ t[0][t[k - 1][b] & 0xff];
    }
    return t;
}

constexpr auto slice_tables = make_slice_tables();

// a * b modulo the polynomial, both in reflected form (zlib's multmodp). Used at compile time to
// build the operators that shift a CRC register over runs of zero bytes.
constexpr uint32_t mult_mod_poly(uint32_t a, uint32_t b) {
    uint32_t m = uint32_t{1} << 31;
    uint32_t p = 0;
    for (;;) {
        if (a & m) {
            p ^= b;
            if ((a & (m - 1)) == 0) break;
        }
        m >>= 1;
        b = (b & 1) ? (b >> 1) ^ crc32c_poly_reflected : b >> 1;
    }
    return p;
}

// x^(8 * n) modulo the polynomial: appending n zero bytes multiplies the register by this.
constexpr uint32_t x_pow_8n(uint64_t n) {
    uint32_t result = uint32_t{1} << 31;  // x^0
    uint32_t base = uint32_t{1} << 23;    // x^8
    while (n != 0) {
        if (n & 1) result = mult_mod_poly(base, result);
        base = mult_mod_poly(base, base);
        n >>= 1;
    }
    return result;
}

// shift_table(n)[k][b] = (b << 8k) * x^(8n): four lookups advance a register over n zero bytes,
// which is how the three interleaved streams are joined (the register is linear in its input).
constexpr std::array<byte_table, 4> make_shift_table(uint64_t n) {
    std::array<byte_table, 4> t{};
    const uint32_t op = x_pow_8n(n);
    for (uint32_t k = 0; k < 4; ++k) {
        for (uint32_t b = 0; b < 256; ++b) t[k][b] = mult_mod_poly(op, b << (8 * k));
    }
    return t;
}

// Stream lengths for the interleaved loop. Long streams amortise the join; short ones still keep
// the instruction's three-cycle latency hidden for mid-sized buffers such as single records.
constexpr size_t long_stream_bytes = 8192;
constexpr size_t short_stream_bytes = 256;
static_assert(long_stream_bytes % 8 == 0 && short_stream_bytes % 8 == 0,
              "streams advance by whole 8-byte words");

constexpr auto long_shift = make_shift_table(long_stream_bytes);
constexpr auto short_shift = make_shift_table(short_stream_bytes);

inline uint32_t shift(const std::array<byte_table, 4>& t, uint32_t crc) {
    return t[0][crc & 0xff] ^ t[1][(crc >> 8) & 0xff] ^ t[2][(crc >> 16) & 0xff] ^ t[3][crc >> 24];
}

inline uint64_t load_u64(const uint8_t* p) {
    uint64_t v;
    std::memcpy(&v, p, sizeof(v));
    return v;
}

// Runs three crc32 streams over consecutive `stream_bytes` runs and joins them, as long as three
// runs remain. Advances p and len past what it consumed.
__attribute__((target("sse4.2"))) inline uint32_t crc_three_way(
    uint32_t crc, const uint8_t*& p, size_t& len, size_t stream_bytes,
    const std::array<byte_table, 4>& shift_table) {
    while (len >= 3 * stream_bytes) {
        uint64_t c0 = crc;
        uint64_t c1 = 0;
        uint64_t c2 = 0;
        const uint8_t* p1 = p + stream_bytes;
        const uint8_t* p2 = p + 2 * stream_bytes;
        for (size_t i = 0; i < stream_bytes; i += 8) {
            c0 = _mm_crc32_u64(c0, load_u64(p + i));
            c1 = _mm_crc32_u64(c1, load_u64(p1 + i));
            c2 = _mm_crc32_u64(c2, load_u64(p2 + i));
        }
        crc = shift(shift_table, static_cast<uint32_t>(c0)) ^ static_cast<uint32_t>(c1);
        crc = shift(shift_table, crc) ^ static_cast<uint32_t>(c2);
        p += 3 * stream_bytes;
        len -= 3 * stream_bytes;
    }
    return crc;
}

__attribute__((target("sse4.2"))) uint32_t crc32c_hardware(uint32_t crc, const uint8_t* p,
                                                           size_t len) {
    uint32_t c = ~crc;
    // Whole words from an aligned address keep every load within one cache line.
    while (len > 0 && (reinterpret_cast<uintptr_t>(p) & 7) != 0) {
        c = _mm_crc32_u8(c, *p++);
        --len;
    }
    c = crc_three_way(c, p, len, long_stream_bytes, long_shift);
    c = crc_three_way(c, p, len, short_stream_bytes, short_shift);
    uint64_t c64 = c;
    for (; len >= 8; p += 8, len -= 8) c64 = _mm_crc32_u64(c64, load_u64(p));
    c = static_cast<uint32_t>(c64);
    for (; len > 0; --len) c = _mm_crc32_u8(c, *p++);
    return ~c;
}

}  // namespace

uint32_t crc32c_portable(uint32_t crc, const void* data, size_t len) noexcept {
    const auto* p = static_cast<const uint8_t*>(data);
    const auto& t = slice_tables;
    uint32_t c = ~crc;
    for (; len >= 8; p += 8, len -= 8) {
        // Little-endian assembly, so the tables stay correct on any host byte order.
        uint32_t lo = c ^ (uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 |
                           uint32_t{p[3]} << 24);
        c = t[7][lo & 0xff] ^ t[6][(lo >> 8) & 0xff] ^ t[5][(lo >> 16) & 0xff] ^ t[4][lo >> 24] ^
            t[3][p[4]] ^ t[2][p[5]] ^ t[1][p[6]] ^ t[0][p[7]];
    }
    for (; len > 0; --len) c = (c >> 8) ^ t[0][(c ^ *p++) & 0xff];
    return ~c;
}

bool crc32c_hardware_available() noexcept {
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    if (__get_cpuid(1, &eax, &ebx, &ecx, &edx) == 0) return false;
    return (ecx & bit_SSE4_2) != 0;
}

uint32_t crc32c(uint32_t crc, const void* data, size_t len) noexcept {
    // Checked once per process; the CPU cannot change under us.
    static const bool hardware = crc32c_hardware_available();
    if (hardware) return crc32c_hardware(crc, static_cast<const uint8_t*>(data), len);
    return crc32c_portable(crc, data, len);
}

}  // namespace wharf
