#pragma once

// Kafka's murmur2 hash and its default partitioner for keyed records, bit for bit as the Java
// client (org.apache.kafka.common.utils.Utils.murmur2 with seed 0x9747b28c, Utils.toPositive,
// BuiltInPartitioner.partitionForKey), so that `wharf bench` sends a keyed record to the
// partition a Java producer would choose. Pure functions; safe from any thread.

#include <cstdint>
#include <span>
#include <string_view>

namespace wharf::kafka::client {

// The signed 32-bit hash the Java client computes for `key`.
int32_t murmur2(std::span<const uint8_t> key);
inline int32_t murmur2(std::string_view key) {
    return murmur2(std::span(reinterpret_cast<const uint8_t*>(key.data()), key.size()));
}

// Utils.toPositive: clears the sign bit (not abs: INT32_MIN maps to 0).
constexpr int32_t to_positive(int32_t n) {
    return n & 0x7fffffff;
}

// The partition of a record with a non-null key. REQUIRES: partitions > 0.
inline int32_t partition_for_key(std::span<const uint8_t> key, int32_t partitions) {
    return to_positive(murmur2(key)) % partitions;
}
inline int32_t partition_for_key(std::string_view key, int32_t partitions) {
    return to_positive(murmur2(key)) % partitions;
}

}  // namespace wharf::kafka::client
