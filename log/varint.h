#pragma once

// Zigzag varints as Kafka records use them (protobuf's encoding): 7 bits per byte, low bits first,
// high bit set on every byte but the last; zigzag maps small negative numbers to small codes.
//
// Decoding is strict about size, because these bytes come from clients: an int32 takes at most 5
// bytes and an int64 at most 10, and the last byte may not carry bits beyond the type's width.
// Non-minimal encodings (0x80 0x00 for zero) are accepted, as Kafka accepts them.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace wharf {

inline constexpr size_t max_varint_bytes = 5;
inline constexpr size_t max_varlong_bytes = 10;

constexpr uint64_t zigzag_encode(int64_t v) noexcept {
    return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}

constexpr int64_t zigzag_decode(uint64_t v) noexcept {
    return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1);
}

namespace detail {

// Reads an unsigned LEB128 value of at most `max_bytes` bytes whose value fits in `value_bits`.
// On success advances `pos`.
inline std::optional<uint64_t> read_uleb(std::span<const std::byte> in, size_t& pos,
                                         size_t max_bytes, unsigned value_bits) noexcept {
    uint64_t v = 0;
    for (size_t i = 0; i < max_bytes; ++i) {
        if (pos + i >= in.size()) return std::nullopt;
        const auto b = static_cast<uint8_t>(in[pos + i]);
        const unsigned shift = static_cast<unsigned>(7 * i);
        if (i + 1 == max_bytes) {
            // The last allowed byte: no continuation bit, and no bits past the type's width.
            if ((b & 0x80) != 0 || (uint64_t{b} >> (value_bits - shift)) != 0) return std::nullopt;
        }
        v |= uint64_t{b & 0x7fu} << shift;
        if ((b & 0x80) == 0) {
            pos += i + 1;
            return v;
        }
    }
    return std::nullopt;
}

}  // namespace detail

// Decodes a zigzag int32 at in[pos]; advances pos. nullopt when truncated or over 5 bytes/32 bits.
inline std::optional<int32_t> read_varint(std::span<const std::byte> in, size_t& pos) noexcept {
    auto v = detail::read_uleb(in, pos, max_varint_bytes, 32);
    if (!v) return std::nullopt;
    return static_cast<int32_t>(zigzag_decode(*v));
}

// Decodes a zigzag int64 at in[pos]; advances pos. nullopt when truncated or over 10 bytes/64 bits.
inline std::optional<int64_t> read_varlong(std::span<const std::byte> in, size_t& pos) noexcept {
    auto v = detail::read_uleb(in, pos, max_varlong_bytes, 64);
    if (!v) return std::nullopt;
    return zigzag_decode(*v);
}

// Encoded size of a zigzag value.
constexpr size_t varlong_size(int64_t v) noexcept {
    uint64_t u = zigzag_encode(v);
    size_t n = 1;
    while (u >= 0x80) {
        u >>= 7;
        ++n;
    }
    return n;
}

// Writes the zigzag encoding of v at out; returns the bytes written (at most 10).
// REQUIRES: out has room for varlong_size(v) bytes.
inline size_t write_varlong(std::byte* out, int64_t v) noexcept {
    uint64_t u = zigzag_encode(v);
    size_t n = 0;
    while (u >= 0x80) {
        out[n++] = static_cast<std::byte>((u & 0x7f) | 0x80);
        u >>= 7;
    }
    out[n++] = static_cast<std::byte>(u);
    return n;
}

}  // namespace wharf
