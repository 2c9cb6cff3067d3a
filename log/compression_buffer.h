#pragma once

// The output buffer policy that every bounded decompressor of log/compression_*.cc shares (an
// implementation detail of compression.h, not for other callers): a first guess at the output
// size, then doubling, never past the caller's bound. A frame that claims a small size and lies
// costs only the doubling; a frame that claims a huge one costs nothing, since no claim larger
// than the bound is ever allocated.

#include <algorithm>
#include <cstddef>
#include <vector>

namespace wharf::compression_detail {

inline constexpr size_t min_initial_out_bytes = 64 << 10;

// Resizes to exactly `bytes`: reserve first, so the vector never picks a larger capacity of its
// own (libstdc++ would double on resize).
inline void resize_exact(std::vector<std::byte>& v, size_t bytes) {
    v.reserve(bytes);
    v.resize(bytes);
}

// The first output size for `in_bytes` of input whose decompressed size is unknown.
inline size_t initial_out_bytes(size_t in_bytes, size_t max_out) {
    return std::min(max_out, std::max(in_bytes * 4, min_initial_out_bytes));
}

// Doubles the buffer (at least to min_initial_out_bytes), up to max_out.
// REQUIRES: out.size() < max_out.
inline void grow(std::vector<std::byte>& out, size_t max_out) {
    resize_exact(out, std::min(max_out, std::max(out.size() * 2, min_initial_out_bytes)));
}

// Makes room for `extra` more bytes after the current size, doubling the capacity when it must
// grow but never reserving past max_out.
// REQUIRES: out.size() + extra <= max_out.
inline void extend(std::vector<std::byte>& out, size_t extra, size_t max_out) {
    const size_t needed = out.size() + extra;
    if (needed > out.capacity()) {
        out.reserve(std::min(max_out, std::max(needed, out.capacity() * 2)));
    }
    out.resize(needed);
}

}  // namespace wharf::compression_detail
