#include "net/kafka/client/murmur2.h"

namespace wharf::kafka::client {

// Utils.murmur2: Java's int arithmetic wraps, so it is done on uint32_t here; `>>>` is the
// unsigned shift. The tail bytes fall through as in the Java switch.
int32_t murmur2(std::span<const uint8_t> key) {
    constexpr uint32_t seed = 0x9747b28c;
    constexpr uint32_t m = 0x5bd1e995;
    constexpr int r = 24;
    const auto length = static_cast<uint32_t>(key.size());
    uint32_t h = seed ^ length;
    const size_t whole = key.size() / 4;
    for (size_t i = 0; i < whole; ++i) {
        const uint8_t* p = key.data() + i * 4;
        uint32_t k = uint32_t{p[0]} | (uint32_t{p[1]} << 8) | (uint32_t{p[2]} << 16) |
                     (uint32_t{p[3]} << 24);
        k *= m;
        k ^= k >> r;
        k *= m;
        h *= m;
        h ^= k;
    }
    const uint8_t* tail = key.data() + whole * 4;
    switch (key.size() % 4) {
        case 3:
            h ^= uint32_t{tail[2]} << 16;
            [[fallthrough]];
        case 2:
            h ^= uint32_t{tail[1]} << 8;
            [[fallthrough]];
        case 1:
            h ^= uint32_t{tail[0]};
            h *= m;
            break;
        default:
            break;
    }
    h ^= h >> 13;
    h *= m;
    h ^= h >> 15;
    return static_cast<int32_t>(h);
}

}  // namespace wharf::kafka::client
