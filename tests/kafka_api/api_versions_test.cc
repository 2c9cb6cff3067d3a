// ApiVersions (v0-v4 and an unknown version), DescribeCluster (v0, v1) and pipelining, against
// the real broker.

#include <gtest/gtest.h>

#include <set>
#include <tuple>

#include "core/kafka/handlers.h"
#include "tests/kafka_api/api_test_util.h"

namespace wharf::kafka::test {
namespace {

using api_versions = shared_broker_test;
using describe_cluster = shared_broker_test;
using pipelining = shared_broker_test;

std::set<std::tuple<int16_t, int16_t, int16_t>> registry_set() {
    std::set<std::tuple<int16_t, int16_t, int16_t>> out;
    for (const auto& h : handler_registry()) {
        out.emplace(static_cast<int16_t>(h.key), h.advertised_min_version, h.max_version);
    }
    return out;
}

api_versions_request probe() {
    api_versions_request req;
    req.client_software_name = "wharf-api-test";
    req.client_software_version = "1.0";
    return req;
}

TEST_F(api_versions, every_version_advertises_exactly_the_registry) {
    for (int16_t v = 0; v <= 4; ++v) {
        SCOPED_TRACE("ApiVersions v" + std::to_string(v));
        auto resp = client().call(probe(), v);
        EXPECT_EQ(resp.error_code, 0);
        std::set<std::tuple<int16_t, int16_t, int16_t>> got;
        for (const auto& k : resp.api_keys) got.emplace(k.api_key, k.min_version, k.max_version);
        EXPECT_EQ(got.size(), resp.api_keys.size()) << "an API key is listed twice";
        EXPECT_EQ(got, registry_set());
        // Every advertised range lies inside what the codec implements.
        for (const auto& k : resp.api_keys) {
            const api_descriptor* api = find_api(k.api_key);
            ASSERT_NE(api, nullptr) << "key " << k.api_key;
            EXPECT_GE(k.min_version, api->min_version) << api->name;
            EXPECT_LE(k.max_version, api->max_version) << api->name;
        }
    }
}

TEST_F(api_versions, unknown_version_gets_unsupported_version_in_v0_layout) {
    // A client newer than the broker sends its own version with a flexible header (v2); the
    // broker answers in v0 (header and body) with the versions it has.
    protocol_writer w;
    int32_t id = client().next_correlation_id();
    encode_request_header(w, request_header{.key = api_key::api_versions,
                                            .version = 99,
                                            .correlation_id = id,
                                            .client_id = "wharf-api-test"});
    ASSERT_EQ(request_header_version(api_key::api_versions, 99), 2);
    probe().encode(w, 3);
    client().send_payload(w.buffer());
    auto resp = client().receive<api_versions_response>(0, id);
    EXPECT_EQ(resp.error_code, err(error_code::unsupported_version));
    std::set<std::tuple<int16_t, int16_t, int16_t>> got;
    for (const auto& k : resp.api_keys) got.emplace(k.api_key, k.min_version, k.max_version);
    EXPECT_EQ(got, registry_set());
    // The connection stays usable.
    EXPECT_EQ(client().call(probe(), 3).error_code, 0);
}

TEST_F(api_versions, v3_refuses_invalid_client_software_fields) {
    // KIP-511: name and version match [a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?, else
    // INVALID_REQUEST (and no API keys).
    for (auto [name, version] : {std::pair{"bad name!", "1.0"}, std::pair{"client", ""},
                                 std::pair{"-client", "1.0"}, std::pair{"client", "1.0."}}) {
        api_versions_request req;
        req.client_software_name = name;
        req.client_software_version = version;
        for (int16_t v : {3, 4}) {
            auto resp = client().call(req, v);
            EXPECT_EQ(resp.error_code, err(error_code::invalid_request))
                << "v" << v << " '" << name << "' '" << version << "'";
            EXPECT_TRUE(resp.api_keys.empty());
        }
        // Versions without the fields ignore them.
        EXPECT_EQ(client().call(req, 2).error_code, 0);
    }
    api_versions_request ok;
    ok.client_software_name = "apache-kafka-java";
    ok.client_software_version = "3.7.0-SNAPSHOT";
    EXPECT_EQ(client().call(ok, 4).error_code, 0);
}

TEST_F(describe_cluster, lists_this_broker_at_v0_and_v1) {
    auto md = client().call(
        metadata_request{.topics = std::vector<metadata_request::metadata_request_topic>{}}, 12);
    ASSERT_EQ(md.brokers.size(), 1u);
    for (int16_t v : {0, 1}) {
        SCOPED_TRACE("DescribeCluster v" + std::to_string(v));
        describe_cluster_request req;
        req.endpoint_type = 1;
        auto resp = client().call(req, v);
        EXPECT_EQ(resp.error_code, 0);
        EXPECT_EQ(resp.cluster_id, md.cluster_id.value_or(""));
        EXPECT_FALSE(resp.cluster_id.empty());
        EXPECT_EQ(resp.controller_id, md.brokers[0].node_id);
        ASSERT_EQ(resp.brokers.size(), 1u);
        EXPECT_EQ(resp.brokers[0].broker_id, md.brokers[0].node_id);
        EXPECT_EQ(resp.brokers[0].host, md.brokers[0].host);
        EXPECT_EQ(resp.brokers[0].port, md.brokers[0].port);
        EXPECT_EQ(resp.brokers[0].port, port());
        if (v >= 1) {
            EXPECT_EQ(resp.endpoint_type, 1);
        }
    }
    // v1 may ask for controller endpoints (2): this listener is a broker endpoint, and Kafka
    // answers MISMATCHED_ENDPOINT_TYPE; a type Kafka does not know is UNSUPPORTED_ENDPOINT_TYPE.
    describe_cluster_request req;
    req.endpoint_type = 2;
    EXPECT_EQ(client().call(req, 1).error_code, err(error_code::mismatched_endpoint_type));
    req.endpoint_type = 7;
    EXPECT_EQ(client().call(req, 1).error_code, err(error_code::unsupported_endpoint_type));
}

TEST_F(pipelining, fifty_requests_back_to_back_are_answered_in_order) {
    std::string topic = unique_topic("pipe");
    ASSERT_EQ(create_topic(client(), topic).error_code, 0);
    // A mix of APIs (some answered by other shards, some by the connection's own) written
    // before any answer is read.
    std::vector<std::pair<int32_t, int>> sent;  // correlation id, kind
    for (int i = 0; i < 50; ++i) {
        int kind = i % 3;
        int32_t id = 0;
        if (kind == 0) {
            id = client().send(probe(), 3);
        } else if (kind == 1) {
            metadata_request req;
            req.topics->push_back({.name = topic});
            id = client().send(req, 12);
        } else {
            produce_request req;
            req.acks = -1;
            req.timeout_ms = 10000;
            auto& t = req.topic_data.emplace_back();
            t.name = topic;
            t.partition_data.push_back(
                {.index = 0, .records = make_batch({"v" + std::to_string(i)})});
            id = client().send(req, 10);
        }
        sent.emplace_back(id, kind);
    }
    int64_t last_offset = -1;
    for (const auto& [id, kind] : sent) {
        if (kind == 0) {
            EXPECT_EQ(client().receive<api_versions_response>(3, id).error_code, 0);
        } else if (kind == 1) {
            auto r = client().receive<metadata_response>(12, id);
            ASSERT_EQ(r.topics.size(), 1u);
            EXPECT_EQ(r.topics[0].error_code, 0);
        } else {
            auto r = client().receive<produce_response>(10, id);
            ASSERT_EQ(r.responses.size(), 1u);
            const auto& p = r.responses[0].partition_responses.at(0);
            EXPECT_EQ(p.error_code, 0);
            // Appends of one connection land in request order.
            EXPECT_EQ(p.base_offset, last_offset + 1);
            last_offset = p.base_offset;
        }
    }
}

}  // namespace
}  // namespace wharf::kafka::test
