#pragma once

// log2_histogram: a histogram with exponential (power of two) buckets, cheap enough for the hot
// path: record() is a bit scan and two increments, no allocation, no floating point. One lives in
// each shard's stats (reactor loop turns, log fsyncs, Kafka request latency) and is read only
// when /metrics is scraped, on its own shard (DESIGN.md section 10).
//
// Bucket i (0 <= i < Bounds) counts the values v with 2^(FirstShift+i-1) < v <= 2^(FirstShift+i)
// (bucket 0 also takes everything below); bucket Bounds counts the values above the last bound
// (Prometheus' le="+Inf"). Values are integers in the unit the owner chose (microseconds, bytes).

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>

namespace wharf {

template <unsigned Bounds, unsigned FirstShift>
class log2_histogram {
    // Bounds are powers of two that must fit a uint64_t.
    static_assert(Bounds > 0 && FirstShift + Bounds <= 63, "bounds beyond 2^63");

public:
    static constexpr unsigned bound_count = Bounds;
    static constexpr unsigned first_shift = FirstShift;

    void record(uint64_t v) noexcept {
        // The smallest k with v <= 2^k (v = 0 and v = 1 give k = 0).
        unsigned k = static_cast<unsigned>(std::bit_width(v > 0 ? v - 1 : 0));
        unsigned i = k > FirstShift ? k - FirstShift : 0;
        ++_counts[i < Bounds ? i : Bounds];
        _sum += v;
    }

    // The upper bound of bucket i < Bounds, in the recorded unit.
    static constexpr uint64_t upper_bound(unsigned i) noexcept {
        return uint64_t{1} << (FirstShift + i);
    }
    // Values in bucket i; i == Bounds is the overflow bucket.
    uint64_t bucket(unsigned i) const noexcept { return _counts[i]; }
    uint64_t sum() const noexcept { return _sum; }
    uint64_t count() const noexcept {
        uint64_t n = 0;
        for (uint64_t c : _counts) n += c;
        return n;
    }

private:
    std::array<uint64_t, Bounds + 1> _counts{};
    uint64_t _sum = 0;
};

}  // namespace wharf
