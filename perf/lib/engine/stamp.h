#pragma once

// The end-to-end latency stamp that `wharf bench` producers write at the front of every record
// value, and consumers read back: the run's nonce (so that records of another run or another tool
// in the same topic are told apart and not counted), then the publish time. Publish time is the
// record's due time in a fixed-rate run (coordinated omission: a record that the system under test
// kept from being sent on time is late from its due time) and its creation time otherwise.
//
//   bytes 0-7   nonce, little-endian
//   bytes 8-15  publish time, nanoseconds on the process's steady clock, little-endian
//
// Producer and consumers are one process, so one steady clock serves both: no clock sync needed.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>

namespace wharf::perf {

inline constexpr size_t stamp_bytes = 16;

inline uint64_t steady_ns() noexcept {
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                     std::chrono::steady_clock::now().time_since_epoch())
                                     .count());
}

inline void write_stamp(std::byte* value, uint64_t nonce, uint64_t publish_ns) noexcept {
    std::memcpy(value, &nonce, 8);
    std::memcpy(value + 8, &publish_ns, 8);
}

// The publish time when `value` carries this run's stamp.
inline std::optional<uint64_t> read_stamp(std::span<const std::byte> value,
                                          uint64_t nonce) noexcept {
    if (value.size() < stamp_bytes) return std::nullopt;
    uint64_t n = 0;
    std::memcpy(&n, value.data(), 8);
    if (n != nonce) return std::nullopt;
    uint64_t t = 0;
    std::memcpy(&t, value.data() + 8, 8);
    return t;
}

}  // namespace wharf::perf
