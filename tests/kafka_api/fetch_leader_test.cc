// Fetch v14-v16 against the real broker: ApiVersions advertises 16, the v15 request (ReplicaId
// moved into the tagged ReplicaState) and v14 (ReplicaId in front) are served alike, and at v16 a
// partition refused FENCED_LEADER_EPOCH names its leader in CurrentLeader and the response lists
// that leader's endpoint once in NodeEndpoints (KIP-951). NOT_LEADER_OR_FOLLOWER needs a broker
// that does not lead: tests/kafka/fetch_leader_test.py asks a follower of a three-broker cluster.

#include <gtest/gtest.h>

#include "tests/kafka_api/api_test_util.h"

namespace wharf::kafka::test {
namespace {

using fetch_leader = shared_broker_test;

struct leader_info {
    int32_t leader = -1;
    int32_t epoch = -1;
};

// Partition p's leader and leader epoch as Metadata v12 reports them.
leader_info leader_of(kafka_client& c, const std::string& topic, int32_t p) {
    metadata_request req;
    req.topics->push_back({.name = topic});
    req.allow_auto_topic_creation = false;
    auto resp = c.call(req, 12);
    const auto& part = resp.topics.at(0).partitions.at(size_t(p));
    return {part.leader_id, part.leader_epoch};
}

fetch_request by_id(fetch_request req, uuid id) {
    for (auto& t : req.topics) {
        t.topic.clear();
        t.topic_id = id;
    }
    return req;
}

TEST_F(fetch_leader, api_versions_advertises_fetch_v16) {
    api_versions_request req;
    req.client_software_name = "wharf-api-test";
    req.client_software_version = "1.0";
    auto resp = client().call(req, 3);
    bool found = false;
    for (const auto& k : resp.api_keys) {
        if (k.api_key != static_cast<int16_t>(api_key::fetch)) continue;
        found = true;
        EXPECT_EQ(k.min_version, 4);
        EXPECT_EQ(k.max_version, 16);
    }
    EXPECT_TRUE(found);
}

TEST_F(fetch_leader, v14_v15_and_v16_fetch_records_like_v13) {
    std::string topic = unique_topic("fetch-v16");
    ASSERT_EQ(create_topic(client(), topic).error_code, 0);
    ASSERT_EQ(produce(client(), topic, 0, make_batch({"a", "b"})).error_code, 0);
    uuid id = topic_id_of(client(), topic);
    const size_t expected =
        records_bytes(only_partition(client().call(by_id(fetch_of(topic, 0, 0), id), 13)));
    ASSERT_GT(expected, 0u);
    for (int16_t v : {14, 15, 16}) {
        SCOPED_TRACE("Fetch v" + std::to_string(v));
        fetch_request req = by_id(fetch_of(topic, 0, 0), id);
        req.replica_id = -1;  // written up to v14 only
        if (v >= 15) {
            // A consumer's ReplicaState, sent explicitly (librdkafka leaves it out).
            req.replica.replica_id = -1;
            req.replica.replica_epoch = 0;
        }
        auto resp = client().call(req, v);
        EXPECT_EQ(resp.error_code, 0);
        const auto& p = only_partition(resp);
        EXPECT_EQ(p.error_code, 0);
        EXPECT_EQ(p.high_watermark, 2);
        EXPECT_EQ(records_bytes(p), expected);
        EXPECT_EQ(p.current_leader.leader_id, -1) << "no leader named without an error";
        EXPECT_TRUE(resp.node_endpoints.empty());
    }
}

TEST_F(fetch_leader, fenced_leader_epoch_names_the_leader_and_its_endpoint_at_v16) {
    std::string topic = unique_topic("fetch-fenced");
    // Two partitions (on different shards with --smp 2: two raft groups, the same leader).
    ASSERT_EQ(create_topic(client(), topic, 2).error_code, 0);
    uuid id = topic_id_of(client(), topic);
    leader_info l0 = leader_of(client(), topic, 0);
    leader_info l1 = leader_of(client(), topic, 1);
    // Wharf's leader epoch is its raft term, at least 1 once elected: 0 is stale.
    ASSERT_GE(l0.epoch, 1);
    ASSERT_GE(l1.epoch, 1);
    ASSERT_EQ(l0.leader, l1.leader);
    fetch_request req = by_id(fetch_of(topic, 0, 0), id);
    req.topics[0].partitions.push_back(req.topics[0].partitions[0]);
    req.topics[0].partitions[1].partition = 1;
    for (auto& p : req.topics[0].partitions) p.current_leader_epoch = 0;

    auto resp = client().call(req, 16);
    ASSERT_EQ(resp.responses.size(), 1u);
    ASSERT_EQ(resp.responses[0].partitions.size(), 2u);
    for (int32_t i : {0, 1}) {
        SCOPED_TRACE("partition " + std::to_string(i));
        const auto& p = resp.responses[0].partitions[size_t(i)];
        EXPECT_EQ(p.error_code, err(error_code::fenced_leader_epoch));
        EXPECT_EQ(p.current_leader.leader_id, l0.leader);
        EXPECT_EQ(p.current_leader.leader_epoch, (i == 0 ? l0 : l1).epoch);
    }
    // One endpoint for the one leader named twice.
    ASSERT_EQ(resp.node_endpoints.size(), 1u);
    EXPECT_EQ(resp.node_endpoints[0].node_id, l0.leader);
    EXPECT_EQ(resp.node_endpoints[0].host, "127.0.0.1");
    EXPECT_EQ(resp.node_endpoints[0].port, port());
    EXPECT_EQ(resp.node_endpoints[0].rack, std::nullopt);

    // v15: CurrentLeader (tagged since v12) still comes, NodeEndpoints does not exist yet.
    auto v15 = client().call(req, 15);
    EXPECT_EQ(v15.responses.at(0).partitions.at(0).error_code,
              err(error_code::fenced_leader_epoch));
    EXPECT_EQ(v15.responses.at(0).partitions.at(0).current_leader.leader_id, l0.leader);
    EXPECT_TRUE(v15.node_endpoints.empty());

    // The right epoch: served, nothing named.
    req.topics[0].partitions[0].current_leader_epoch = l0.epoch;
    req.topics[0].partitions.pop_back();
    auto ok = client().call(req, 16);
    EXPECT_EQ(only_partition(ok).error_code, 0);
    EXPECT_TRUE(ok.node_endpoints.empty());
}

}  // namespace
}  // namespace wharf::kafka::test
