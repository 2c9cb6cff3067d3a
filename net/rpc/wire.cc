#include "net/rpc/wire.h"

// The state type of the streaming API is only public with static linking declarations.
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

namespace wharf::rpc::wire {

uint64_t checksum(std::span<const std::byte> bytes) noexcept {
    return XXH3_64bits(bytes.data(), bytes.size());
}

uint64_t checksum(std::span<const std::byte> head, const iobuf& tail) noexcept {
    XXH3_state_t state;
    XXH3_64bits_reset(&state);
    XXH3_64bits_update(&state, head.data(), head.size());
    for (auto frag : tail.fragments()) XXH3_64bits_update(&state, frag.data(), frag.size());
    return XXH3_64bits_digest(&state);
}

}  // namespace wharf::rpc::wire
