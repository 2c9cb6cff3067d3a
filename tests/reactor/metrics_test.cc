// The metrics primitives (reactor/metrics/): log2_histogram's buckets, the Prometheus text
// exposition (HELP/TYPE lines, labels, escaping, cumulative histogram buckets), and merging the
// snapshots of several shards.

#include <gtest/gtest.h>

#include <string>

#include "reactor/metrics/histogram.h"
#include "reactor/metrics/metrics.h"

namespace wharf {
namespace {

TEST(log2_histogram, values_land_in_the_bucket_of_the_smallest_bound_at_or_above_them) {
    // Bounds 4, 8, 16, 32 (FirstShift 2), then the overflow bucket.
    log2_histogram<4, 2> h;
    EXPECT_EQ(h.upper_bound(0), 4u);
    EXPECT_EQ(h.upper_bound(3), 32u);
    for (uint64_t v : {0, 1, 3, 4}) h.record(v);  // all <= 4
    h.record(5);                                  // (4, 8]
    h.record(8);
    h.record(9);                  // (8, 16]
    h.record(32);                 // (16, 32]
    h.record(33);                 // overflow
    h.record(uint64_t{1} << 62);  // overflow
    EXPECT_EQ(h.bucket(0), 4u);
    EXPECT_EQ(h.bucket(1), 2u);
    EXPECT_EQ(h.bucket(2), 1u);
    EXPECT_EQ(h.bucket(3), 1u);
    EXPECT_EQ(h.bucket(4), 2u);
    EXPECT_EQ(h.count(), 10u);
    EXPECT_EQ(h.sum(), 0u + 1 + 3 + 4 + 5 + 8 + 9 + 32 + 33 + (uint64_t{1} << 62));
}

TEST(log2_histogram, every_power_of_two_is_the_top_of_its_bucket) {
    log2_histogram<10, 0> h;
    for (unsigned i = 0; i < 10; ++i) {
        h = {};
        h.record(uint64_t{1} << i);
        EXPECT_EQ(h.bucket(i), 1u) << "2^" << i;
        h = {};
        h.record((uint64_t{1} << i) + 1);
        EXPECT_EQ(h.bucket(i + 1), 1u) << "2^" << i << " + 1";
    }
}

TEST(prometheus_text, counters_and_gauges_with_help_type_and_labels) {
    metric_families fams;
    fams.emplace_back("wharf_things_total", "Things done", metric_type::counter);
    fams.back().add({{"shard", "0"}}, 3);
    fams.back().add({{"shard", "1"}}, 12345678);
    fams.emplace_back("wharf_level", "A level", metric_type::gauge);
    fams.back().add({}, 0.25);
    std::string text;
    write_prometheus(fams, text);
    EXPECT_EQ(text,
              "# HELP wharf_things_total Things done\n"
              "# TYPE wharf_things_total counter\n"
              "wharf_things_total{shard=\"0\"} 3\n"
              "wharf_things_total{shard=\"1\"} 12345678\n"
              "# HELP wharf_level A level\n"
              "# TYPE wharf_level gauge\n"
              "wharf_level 0.25\n");
}

TEST(prometheus_text, histograms_are_cumulative_with_sum_count_and_inf) {
    log2_histogram<3, 0> h;  // bounds 1, 2, 4 microseconds
    h.record(1);
    h.record(2);
    h.record(2);
    h.record(3);
    h.record(100);
    metric_families fams;
    fams.emplace_back("wharf_wait_seconds", "Waits", metric_type::histogram);
    fams.back().add({{"shard", "2"}}, h, 1e-6);
    std::string text;
    write_prometheus(fams, text);
    EXPECT_EQ(text,
              "# HELP wharf_wait_seconds Waits\n"
              "# TYPE wharf_wait_seconds histogram\n"
              "wharf_wait_seconds_bucket{shard=\"2\",le=\"1e-06\"} 1\n"
              "wharf_wait_seconds_bucket{shard=\"2\",le=\"2e-06\"} 3\n"
              "wharf_wait_seconds_bucket{shard=\"2\",le=\"4e-06\"} 4\n"
              "wharf_wait_seconds_bucket{shard=\"2\",le=\"+Inf\"} 5\n"
              "wharf_wait_seconds_sum{shard=\"2\"} 0.000108\n"
              "wharf_wait_seconds_count{shard=\"2\"} 5\n");
}

TEST(prometheus_text, label_values_and_help_are_escaped) {
    metric_families fams;
    fams.emplace_back("wharf_x", "a \\ back\nslash", metric_type::gauge);
    fams.back().add({{"group", "q\"uo\\te\nnl"}}, 1);
    std::string text;
    write_prometheus(fams, text);
    EXPECT_EQ(text,
              "# HELP wharf_x a \\\\ back\\nslash\n"
              "# TYPE wharf_x gauge\n"
              "wharf_x{group=\"q\\\"uo\\\\te\\nnl\"} 1\n");
}

TEST(prometheus_text, invalid_utf8_in_label_values_becomes_the_replacement_character) {
    EXPECT_EQ(escape_label_value("ok \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
              "ok \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
    EXPECT_EQ(escape_label_value("a\xff"
                                 "b"),
              "a\xef\xbf\xbd"
              "b");
    EXPECT_EQ(escape_label_value("\xc3"), "\xef\xbf\xbd");                  // truncated sequence
    EXPECT_EQ(escape_label_value("\xc0\xaf"), "\xef\xbf\xbd\xef\xbf\xbd");  // overlong '/'
    EXPECT_EQ(escape_label_value("\xed\xa0\x80"),                           // a surrogate
              "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    // The rules of reactor/base/utf8.h, which the __consumer_offsets hash shares.
    EXPECT_EQ(escape_label_value("\xe0\x9f\xbf"),  // overlong U+07FF
              "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    EXPECT_EQ(escape_label_value("\xf4\x90\x80\x80"),  // past U+10FFFF
              "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    EXPECT_EQ(escape_label_value("\xf4\x8f\xbf\xbf"), "\xf4\x8f\xbf\xbf");  // U+10FFFF
}

TEST(merge_families, sums_equal_label_sets_and_keeps_distinct_ones) {
    auto shard = [](const char* id, double requests, uint64_t latency) {
        metric_families f;
        f.emplace_back("wharf_requests_total", "Requests", metric_type::counter);
        f.back().add({{"api", "Produce"}}, requests);
        f.emplace_back("wharf_up", "Shard up", metric_type::gauge);
        f.back().add({{"shard", id}}, 1);
        log2_histogram<2, 0> h;
        h.record(latency);
        f.emplace_back("wharf_latency_seconds", "Latency", metric_type::histogram);
        f.back().add({{"api", "Produce"}}, h, 1.0);
        return f;
    };
    std::vector<metric_families> parts;
    parts.push_back(shard("0", 2, 1));
    parts.push_back(shard("1", 5, 9));
    metric_families merged = merge_families(std::move(parts));
    ASSERT_EQ(merged.size(), 3u);
    ASSERT_EQ(merged[0].series.size(), 1u);
    EXPECT_EQ(merged[0].series[0].value, 7);
    ASSERT_EQ(merged[1].series.size(), 2u);
    EXPECT_EQ(merged[1].series[1].labels, (metric_labels{{"shard", "1"}}));
    ASSERT_EQ(merged[2].series.size(), 1u);
    const histogram_value& h = merged[2].series[0].histogram;
    EXPECT_EQ(h.counts, (std::vector<uint64_t>{1, 0, 1}));
    EXPECT_EQ(h.sum, 10);
}

TEST(merge_families, empty_families_keep_their_help_and_type) {
    std::vector<metric_families> parts(1);
    parts[0].emplace_back("wharf_none_total", "Nothing yet", metric_type::counter);
    std::string text;
    write_prometheus(merge_families(std::move(parts)), text);
    EXPECT_EQ(text, "# HELP wharf_none_total Nothing yet\n# TYPE wharf_none_total counter\n");
}

}  // namespace
}  // namespace wharf
