#include "perf/lib/histogram.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace wharf::perf {
namespace {

double relative_error(uint64_t reported, uint64_t value) {
    return std::abs(static_cast<double>(reported) - static_cast<double>(value)) /
           static_cast<double>(value);
}

class histogram_digits : public ::testing::TestWithParam<int> {};

// Every value from 1 to the maximum, swept in small geometric steps, is reported within
// 10^-digits by every value of its equivalence range, and the ranges contain it.
TEST_P(histogram_digits, relative_error_bound_over_log_sweep) {
    const int digits = GetParam();
    const double bound = std::pow(10.0, -digits);
    histogram h(histogram::default_max_value, digits);
    int step = 0;
    for (double v = 1; v <= static_cast<double>(histogram::default_max_value); v *= 1.0007) {
        auto value = static_cast<uint64_t>(v);
        uint64_t low = h.lowest_equivalent(value);
        uint64_t high = h.highest_equivalent(value);
        ASSERT_LE(low, value);
        ASSERT_GE(high, value);
        ASSERT_LE(relative_error(high, value), bound) << value;
        ASSERT_LE(relative_error(low, value), bound) << value;
        if (++step % 16 != 0) {
            continue;  // resetting 45k counters per value is the slow part: check a sample
        }
        h.reset();
        h.record(value);
        ASSERT_LE(relative_error(h.percentile(50), value), bound) << value;
        ASSERT_EQ(h.min(), value);
        ASSERT_EQ(h.max(), value);
    }
}

// Uniform 1..N: the value at p% is p% of N, within the error bound.
TEST_P(histogram_digits, uniform_percentiles) {
    const int digits = GetParam();
    const double bound = std::pow(10.0, -digits);
    const uint64_t n = 1'000'000;
    histogram h(histogram::default_max_value, digits);
    for (uint64_t v = 1; v <= n; ++v) {
        h.record(v);
    }
    EXPECT_EQ(h.count(), n);
    EXPECT_EQ(h.min(), 1u);
    EXPECT_EQ(h.max(), n);
    EXPECT_DOUBLE_EQ(h.mean(), (n + 1) / 2.0);
    for (double p : {50.0, 90.0, 99.0, 99.9, 99.99}) {
        auto expected = static_cast<uint64_t>(std::llround(p / 100 * n));
        EXPECT_LE(relative_error(h.percentile(p), expected), bound) << p;
        EXPECT_GE(h.percentile(p), expected) << p;  // the highest equivalent value
    }
    EXPECT_EQ(h.percentile(100), n);
    EXPECT_EQ(h.percentile(0), 1u);
}

INSTANTIATE_TEST_SUITE_P(digits, histogram_digits, ::testing::Values(2, 3));

TEST(histogram, exponential_percentiles_match_sorted_samples) {
    std::mt19937_64 rng(42);
    std::exponential_distribution<double> dist(1.0 / 2000);
    std::vector<uint64_t> samples;
    histogram h;
    for (int i = 0; i < 200'000; ++i) {
        auto v = static_cast<uint64_t>(dist(rng)) + 1;
        samples.push_back(v);
        h.record(v);
    }
    std::sort(samples.begin(), samples.end());
    for (double p : {50.0, 90.0, 99.0, 99.9, 99.99}) {
        auto rank = static_cast<size_t>(std::llround(p / 100 * samples.size()));
        uint64_t expected = samples[rank - 1];
        EXPECT_LE(relative_error(h.percentile(p), expected), 1e-3) << p;
    }
}

TEST(histogram, record_n_equals_repeated_record) {
    histogram a;
    histogram b;
    a.record_n(1234, 5);
    a.record_n(99, 0);
    for (int i = 0; i < 5; ++i) {
        b.record(1234);
    }
    EXPECT_EQ(a.count(), 5u);
    EXPECT_EQ(a.count_at(1234), b.count_at(1234));
    EXPECT_EQ(a.percentile(50), b.percentile(50));
    EXPECT_EQ(a.mean(), 1234.0);
    EXPECT_EQ(a.min(), 1234u);
}

TEST(histogram, merge_equals_recording_both) {
    std::mt19937_64 rng(7);
    std::uniform_int_distribution<uint64_t> small(1, 5000);
    std::uniform_int_distribution<uint64_t> large(1, 50'000'000);
    histogram a;
    histogram b;
    histogram both;
    for (int i = 0; i < 50'000; ++i) {
        uint64_t x = small(rng);
        uint64_t y = large(rng);
        a.record(x);
        b.record(y);
        both.record(x);
        both.record(y);
    }
    a.merge(b);
    EXPECT_EQ(a.count(), both.count());
    EXPECT_EQ(a.min(), both.min());
    EXPECT_EQ(a.max(), both.max());
    EXPECT_DOUBLE_EQ(a.mean(), both.mean());
    for (double p : {0.0, 10.0, 50.0, 90.0, 99.0, 99.9, 99.99, 100.0}) {
        EXPECT_EQ(a.percentile(p), both.percentile(p)) << p;
    }
    histogram empty;
    a.merge(empty);
    EXPECT_EQ(a.count(), both.count());
    EXPECT_EQ(a.min(), both.min());
}

// HdrHistogram's own example (HdrHistogram_c tests, load_histograms): 10,000 samples of 1 ms at
// an expected interval of 10 ms, then one stall of 100 s, in microseconds with 3 digits. The raw
// histogram hides the stall below p99.99; the corrected one fills the 10,000 samples the stall
// kept from being taken, 100 s - k * 10 ms.
TEST(histogram, corrected_recording_matches_hdrhistogram_example) {
    histogram raw(histogram::default_max_value, 3);
    histogram corrected(histogram::default_max_value, 3);
    for (int i = 0; i < 10'000; ++i) {
        raw.record(1000);
        corrected.record_corrected(1000, 10'000);
    }
    raw.record(100'000'000);
    corrected.record_corrected(100'000'000, 10'000);

    EXPECT_EQ(raw.count(), 10'001u);
    EXPECT_EQ(corrected.count(), 20'000u);
    EXPECT_EQ(corrected.min(), 1000u);
    EXPECT_EQ(corrected.max(), 100'000'000u);
    auto near = [](uint64_t got, double want) {
        return std::abs(static_cast<double>(got) - want) / want <= 1e-3;
    };
    EXPECT_TRUE(near(raw.percentile(30), 1000));
    EXPECT_TRUE(near(raw.percentile(99), 1000));
    EXPECT_TRUE(near(raw.percentile(99.99), 1000));
    EXPECT_TRUE(near(raw.percentile(99.999), 100'000'000));
    EXPECT_TRUE(near(raw.percentile(100), 100'000'000));
    EXPECT_TRUE(near(corrected.percentile(30), 1000));
    EXPECT_TRUE(near(corrected.percentile(50), 1000));
    EXPECT_TRUE(near(corrected.percentile(75), 50'000'000));
    EXPECT_TRUE(near(corrected.percentile(90), 80'000'000));
    EXPECT_TRUE(near(corrected.percentile(99), 98'000'000));
    EXPECT_TRUE(near(corrected.percentile(99.999), 100'000'000));
    EXPECT_TRUE(near(corrected.percentile(100), 100'000'000));
}

// HdrHistogram's HistogramTest.testRecordValueWithExpectedInterval: 4 at interval 1 adds 3, 2, 1.
TEST(histogram, corrected_recording_small_values) {
    histogram h(1000, 3);
    h.record_corrected(4, 1);
    EXPECT_EQ(h.count(), 4u);
    for (uint64_t v = 1; v <= 4; ++v) {
        EXPECT_EQ(h.count_at(v), 1u) << v;
    }
    h.reset();
    h.record_corrected(4, 0);  // no interval: the value alone
    h.record_corrected(3, 3);  // not above the interval: nothing added
    EXPECT_EQ(h.count(), 2u);
}

TEST(histogram, values_above_max_are_clamped_and_counted) {
    histogram h(10'000, 2);
    h.record(5);
    h.record(20'000);
    h.record_n(1'000'000, 3);
    EXPECT_EQ(h.count(), 5u);
    EXPECT_EQ(h.clamped(), 4u);
    EXPECT_EQ(h.max(), 10'000u);
    EXPECT_EQ(h.percentile(100), 10'000u);
    EXPECT_LE(relative_error(h.percentile(50), 10'000), 1e-2);
    EXPECT_EQ(h.percentile(10), 5u);
    h.record(UINT64_MAX);
    EXPECT_EQ(h.clamped(), 5u);
}

TEST(histogram, empty_and_reset) {
    histogram h;
    EXPECT_EQ(h.count(), 0u);
    EXPECT_EQ(h.percentile(99), 0u);
    EXPECT_EQ(h.min(), 0u);
    EXPECT_EQ(h.max(), 0u);
    EXPECT_EQ(h.mean(), 0.0);
    h.record(0);
    EXPECT_EQ(h.count_at(0), 1u);
    EXPECT_EQ(h.percentile(50), 0u);
    h.record(77);
    h.reset();
    EXPECT_EQ(h.count(), 0u);
    EXPECT_EQ(h.count_at(77), 0u);
    EXPECT_EQ(h.clamped(), 0u);
    EXPECT_EQ(h.min(), 0u);
}

}  // namespace
}  // namespace wharf::perf
