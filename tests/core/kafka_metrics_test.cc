// The Kafka counters of /metrics (core/metrics/kafka_metrics.h) and the error walk over
// responses that decides what counts as an error (core/kafka/response_errors.h).

#include <gtest/gtest.h>

#include <string>

#include "core/kafka/response_errors.h"
#include "core/metrics/kafka_metrics.h"
#include "net/kafka/messages.h"

namespace wharf {
namespace {

const metric_family* find(const metric_families& fams, const std::string& name) {
    for (const auto& f : fams) {
        if (f.name == name) return &f;
    }
    return nullptr;
}

const metric_series* series(const metric_family& f, const metric_labels& labels) {
    for (const auto& s : f.series) {
        if (s.labels == labels) return &s;
    }
    return nullptr;
}

TEST(response_errors, finds_error_codes_at_every_level) {
    kafka::api_versions_response ok;
    EXPECT_EQ(kafka::count_error_codes(ok), 0u);
    kafka::heartbeat_response top;
    top.error_code = 27;  // REBALANCE_IN_PROGRESS
    EXPECT_EQ(kafka::count_error_codes(top), 1u);

    kafka::produce_response produce;
    auto& t = produce.responses.emplace_back();
    t.partition_responses.emplace_back();
    EXPECT_EQ(kafka::count_error_codes(produce), 0u);
    t.partition_responses.emplace_back().error_code = 3;
    t.partition_responses.emplace_back().error_code = 6;
    EXPECT_EQ(kafka::count_error_codes(produce), 2u);

    kafka::offset_fetch_response fetch;  // v8: groups -> topics -> partitions
    fetch.groups.emplace_back().topics.emplace_back().partitions.emplace_back().error_code = 3;
    EXPECT_EQ(kafka::count_error_codes(fetch), 1u);

    kafka::metadata_response md;
    md.topics.emplace_back().error_code = 3;
    EXPECT_EQ(kafka::count_error_codes(md), 1u);
}

TEST(response_errors, refused_as_not_controller_only_when_every_item_is) {
    kafka::create_topics_response r;
    EXPECT_FALSE(kafka::refused_as_not_controller(r));  // nothing refused
    r.topics.emplace_back().error_code = 41;
    r.topics.emplace_back().error_code = 41;
    EXPECT_TRUE(kafka::refused_as_not_controller(r));
    r.topics.emplace_back().error_code = 0;  // one was created: not to be sent again
    EXPECT_FALSE(kafka::refused_as_not_controller(r));
    kafka::incremental_alter_configs_response c;
    c.responses.emplace_back().error_code = 41;
    EXPECT_TRUE(kafka::refused_as_not_controller(c));
    c.responses.emplace_back().error_code = 40;  // INVALID_CONFIG
    EXPECT_FALSE(kafka::refused_as_not_controller(c));
}

TEST(kafka_metrics, requests_errors_and_latency_per_api_and_version) {
    metrics::record_kafka_request(0, 9, 100, false);  // Produce v9
    metrics::record_kafka_request(0, 9, 3000, true);
    metrics::record_kafka_request(0, 7, 5, false);     // Produce v7
    metrics::record_kafka_request(1, 12, 10, false);   // Fetch v12
    metrics::record_kafka_request(999, 0, 10, false);  // outside the table: ignored
    metric_families out;
    metrics::collect_kafka_metrics(out, [](std::string_view) { return true; });
    const metric_family* requests = find(out, "wharf_kafka_requests_total");
    const metric_family* errors = find(out, "wharf_kafka_request_errors_total");
    const metric_family* latency = find(out, "wharf_kafka_request_latency_seconds");
    ASSERT_TRUE(requests && errors && latency);
    metric_labels produce9{{"api", "Produce"}, {"version", "9"}};
    ASSERT_TRUE(series(*requests, produce9));
    EXPECT_EQ(series(*requests, produce9)->value, 2);
    EXPECT_EQ(series(*errors, produce9)->value, 1);
    const histogram_value& h = series(*latency, produce9)->histogram;
    uint64_t n = 0;
    for (uint64_t c : h.counts) n += c;
    EXPECT_EQ(n, 2u);
    EXPECT_NEAR(h.sum, 3100e-6, 1e-12);
    EXPECT_EQ(series(*requests, {{"api", "Produce"}, {"version", "7"}})->value, 1);
    EXPECT_EQ(series(*requests, {{"api", "Fetch"}, {"version", "12"}})->value, 1);
    EXPECT_EQ(requests->series.size(), 3u);
}

TEST(kafka_metrics, topic_bytes_are_forgotten_once_the_topic_is_gone) {
    metrics::add_topic_bytes_in("kept", 100);
    metrics::add_topic_bytes_in("kept", 50);
    metrics::add_topic_bytes_out("kept", 7);
    metrics::add_topic_bytes_in("deleted", 1);
    metric_families out;
    metrics::collect_kafka_metrics(out, [](std::string_view t) { return t == "kept"; });
    const metric_family* in = find(out, "wharf_kafka_topic_bytes_in_total");
    const metric_family* fetched = find(out, "wharf_kafka_topic_bytes_out_total");
    ASSERT_TRUE(in && fetched);
    ASSERT_EQ(in->series.size(), 1u);
    EXPECT_EQ(series(*in, {{"topic", "kept"}})->value, 150);
    EXPECT_EQ(series(*fetched, {{"topic", "kept"}})->value, 7);
    // The deleted topic's counters are gone for good, not just left out once.
    metric_families again;
    metrics::collect_kafka_metrics(again, [](std::string_view) { return true; });
    EXPECT_EQ(find(again, "wharf_kafka_topic_bytes_in_total")->series.size(), 1u);
}

}  // namespace
}  // namespace wharf
