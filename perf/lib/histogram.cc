#include "perf/lib/histogram.h"

#include <algorithm>
#include <cmath>

#include "reactor/base/assert.h"

namespace wharf::perf {

// The layout is HdrHistogram's with a unit magnitude of 0 (the lowest discernible value is 1).
// Bucket 0 holds values [0, sub_bucket_count) one by one; every following bucket covers twice the
// range of the one before with sub_bucket_half_count sub-buckets (its lower half overlaps the
// previous bucket and is not stored). A value v in bucket b >= 1 lies in a sub-bucket 2^b wide
// with v >= half_count * 2^b, and half_count >= 10^digits: the relative error is <= 10^-digits.
histogram::histogram(uint64_t max_value, int significant_digits)
    : _max_value(max_value), _digits(significant_digits) {
    WHARF_ASSERT(significant_digits >= 1 && significant_digits <= 5, "significant digits {}",
                 significant_digits);
    WHARF_ASSERT(max_value >= 2 && max_value <= (uint64_t{1} << 62), "max value {}", max_value);
    uint64_t single_unit_resolution = 2;
    for (int i = 0; i < significant_digits; ++i) {
        single_unit_resolution *= 10;
    }
    int sub_bucket_count_magnitude = 0;
    while ((uint64_t{1} << sub_bucket_count_magnitude) < single_unit_resolution) {
        ++sub_bucket_count_magnitude;
    }
    _sub_bucket_half_count_magnitude = std::max(sub_bucket_count_magnitude, 1) - 1;
    uint64_t sub_bucket_count = uint64_t{1} << (_sub_bucket_half_count_magnitude + 1);
    _sub_bucket_half_count = sub_bucket_count / 2;
    _sub_bucket_mask = sub_bucket_count - 1;
    size_t buckets = 1;
    for (uint64_t untrackable = sub_bucket_count; untrackable <= max_value; untrackable <<= 1) {
        ++buckets;
    }
    _counts.assign((buckets + 1) * _sub_bucket_half_count, 0);
}

int histogram::bucket_index(uint64_t value) const {
    int pow2_ceiling = 64 - __builtin_clzll(value | _sub_bucket_mask);
    return pow2_ceiling - (_sub_bucket_half_count_magnitude + 1);
}

size_t histogram::counts_index(uint64_t value) const {
    int bucket = bucket_index(value);
    uint64_t sub_bucket = value >> bucket;
    return ((static_cast<size_t>(bucket) + 1) << _sub_bucket_half_count_magnitude) +
           (sub_bucket - _sub_bucket_half_count);
}

// The lowest value counted at `index`: the inverse of counts_index.
uint64_t histogram::value_at_index(size_t index) const {
    int bucket = static_cast<int>(index >> _sub_bucket_half_count_magnitude) - 1;
    uint64_t sub_bucket = (index & (_sub_bucket_half_count - 1)) + _sub_bucket_half_count;
    if (bucket < 0) {
        sub_bucket -= _sub_bucket_half_count;
        bucket = 0;
    }
    return sub_bucket << bucket;
}

uint64_t histogram::lowest_equivalent(uint64_t value) const {
    int bucket = bucket_index(value);
    return (value >> bucket) << bucket;
}

uint64_t histogram::highest_equivalent(uint64_t value) const {
    int bucket = bucket_index(value);
    return lowest_equivalent(value) + (uint64_t{1} << bucket) - 1;
}

void histogram::record_n(uint64_t value, uint64_t count) {
    if (count == 0) {
        return;
    }
    if (value > _max_value) {
        value = _max_value;
        _clamped += count;
    }
    _counts[counts_index(value)] += count;
    _total += count;
    _min = std::min(_min, value);
    _max = std::max(_max, value);
    _sum += static_cast<double>(value) * static_cast<double>(count);
}

void histogram::record_corrected(uint64_t value, uint64_t expected_interval) {
    record(value);
    if (expected_interval == 0 || value <= expected_interval) {
        return;
    }
    for (uint64_t missing = value - expected_interval; missing >= expected_interval;
         missing -= expected_interval) {
        record(missing);
    }
}

void histogram::merge(const histogram& other) {
    WHARF_ASSERT(other._max_value == _max_value && other._digits == _digits,
                 "merge of histograms of different layouts");
    for (size_t i = 0; i < _counts.size(); ++i) {
        _counts[i] += other._counts[i];
    }
    _total += other._total;
    _clamped += other._clamped;
    _min = std::min(_min, other._min);
    _max = std::max(_max, other._max);
    _sum += other._sum;
}

uint64_t histogram::percentile(double p) const {
    if (_total == 0) {
        return 0;
    }
    p = std::clamp(p, 0.0, 100.0);
    auto wanted = static_cast<uint64_t>(std::llround(p / 100.0 * static_cast<double>(_total)));
    wanted = std::clamp<uint64_t>(wanted, 1, _total);
    uint64_t seen = 0;
    for (size_t i = 0; i < _counts.size(); ++i) {
        seen += _counts[i];
        if (seen >= wanted) {
            // Never report beyond what was recorded: the bucket's top may exceed the maximum.
            return std::min(highest_equivalent(value_at_index(i)), _max);
        }
    }
    return _max;
}

void histogram::reset() {
    std::fill(_counts.begin(), _counts.end(), 0);
    _total = 0;
    _clamped = 0;
    _min = UINT64_MAX;
    _max = 0;
    _sum = 0;
}

}  // namespace wharf::perf
