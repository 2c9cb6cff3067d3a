#pragma once

// Helpers shared by the RPC handshake and frame codecs (not part of the API): little-endian
// fixed-width fields and the xxh3-64 checksum that guards every handshake and frame.

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "reactor/iobuf.h"

namespace wharf::rpc::wire {

// Fields are written with memcpy of native integers: the wire format is little-endian.
static_assert(std::endian::native == std::endian::little,
              "the RPC wire format is little-endian and written with native stores");

template <typename T>
void put(std::span<std::byte> out, size_t off, T v) noexcept {
    std::memcpy(out.data() + off, &v, sizeof(T));
}

template <typename T>
T get(std::span<const std::byte> in, size_t off) noexcept {
    T v;
    std::memcpy(&v, in.data() + off, sizeof(T));
    return v;
}

// XXH3_64bits of the bytes.
uint64_t checksum(std::span<const std::byte> bytes) noexcept;
// XXH3_64bits of head followed by the bytes of tail, as if they were contiguous.
uint64_t checksum(std::span<const std::byte> head, const iobuf& tail) noexcept;

}  // namespace wharf::rpc::wire
