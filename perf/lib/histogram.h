#pragma once

// A log-linear histogram in the design of HdrHistogram (Gil Tene): values from 0 to a
// configurable maximum are counted in buckets whose width grows with the value, so that every
// value is represented within a relative error of 10^-significant_digits at a fixed memory cost
// (about 2 * 10^digits * log2(max / 10^digits) counters: 3 digits and 1 hour in microseconds make
// about 45k counters, 360 KiB). `record` is O(1): two shifts, a count-leading-zeros and an add.
//
// Units are the caller's: `wharf bench` records microseconds (the default maximum is one hour in
// microseconds). Values above the maximum are clamped to it and counted in `clamped()`.
//
// Thread-safety: none. One histogram per thread (per shard); merge them at the end with `merge`.
//
// Percentiles follow HdrHistogram's `getValueAtPercentile`: the highest value equivalent (within
// the resolution) to the recorded value at which the cumulative count reaches p% of the total.
// `min`, `max` and `mean` are exact over the recorded (clamped) values.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace wharf::perf {

class histogram {
public:
    static constexpr uint64_t default_max_value = 3'600'000'000;  // one hour in microseconds

    // REQUIRES: 1 <= significant_digits <= 5, max_value >= 2.
    explicit histogram(uint64_t max_value = default_max_value, int significant_digits = 3);

    // Counts one value. Values above max_value() are counted as max_value() and in clamped().
    void record(uint64_t value) { record_n(value, 1); }
    void record_n(uint64_t value, uint64_t count);

    // Records `value` and corrects for coordinated omission as HdrHistogram's
    // recordValueWithExpectedInterval: when a value exceeds the interval at which samples were
    // expected, the samples that the stall kept from being taken are recorded as well, at
    // value - interval, value - 2 * interval, ... down to (and including) the last one >= interval.
    // An interval of 0 records the value alone.
    void record_corrected(uint64_t value, uint64_t expected_interval);

    // Adds every count of `other`. REQUIRES: the same max_value and significant_digits.
    void merge(const histogram& other);

    // p in [0, 100]. 0 with an empty histogram.
    uint64_t percentile(double p) const;
    uint64_t min() const { return _total == 0 ? 0 : _min; }
    uint64_t max() const { return _max; }
    double mean() const { return _total == 0 ? 0.0 : _sum / static_cast<double>(_total); }
    uint64_t count() const { return _total; }
    uint64_t clamped() const { return _clamped; }
    void reset();

    uint64_t max_value() const { return _max_value; }
    int significant_digits() const { return _digits; }

    // The range of values counted together with `value`: [lowest, highest].
    uint64_t lowest_equivalent(uint64_t value) const;
    uint64_t highest_equivalent(uint64_t value) const;
    // How many times values equivalent to `value` were recorded.
    uint64_t count_at(uint64_t value) const {
        return _counts[counts_index(std::min(value, _max_value))];
    }

private:
    size_t counts_index(uint64_t value) const;
    int bucket_index(uint64_t value) const;
    uint64_t value_at_index(size_t index) const;

    uint64_t _max_value;
    int _digits;
    int _sub_bucket_half_count_magnitude;  // log2 of the sub-buckets in the upper half of a bucket
    uint64_t _sub_bucket_half_count;
    uint64_t _sub_bucket_mask;
    std::vector<uint64_t> _counts;
    uint64_t _total = 0;
    uint64_t _clamped = 0;
    uint64_t _min = UINT64_MAX;
    uint64_t _max = 0;
    double _sum = 0;
};

}  // namespace wharf::perf
