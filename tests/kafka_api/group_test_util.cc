#include "tests/kafka_api/group_test_util.h"

#include <unistd.h>

#include <chrono>
#include <thread>

namespace wharf::kafka::test {

namespace {

std::unique_ptr<broker_process> g_group_broker;
std::string g_group_start_error;

void put_int16(std::string& out, int16_t v) {
    out.push_back(char((uint16_t(v) >> 8) & 0xff));
    out.push_back(char(uint16_t(v) & 0xff));
}

void put_int32(std::string& out, int32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(char((uint32_t(v) >> shift) & 0xff));
}

}  // namespace

broker_process& group_broker() {
    if (!g_group_start_error.empty()) throw client_error(g_group_start_error);
    if (!g_group_broker) {
        auto b = std::make_unique<broker_process>(
            std::vector<std::string>{"--group-initial-rebalance-delay", "0"});
        std::string why = b->start();
        if (!why.empty()) {
            g_group_start_error = "the group broker did not start: " + why;
            throw client_error(g_group_start_error);
        }
        g_group_broker = std::move(b);
    }
    return *g_group_broker;
}

std::string subscription_v0(const std::vector<std::string>& topics) {
    std::string out;
    put_int16(out, 0);
    put_int32(out, int32_t(topics.size()));
    for (const auto& t : topics) {
        put_int16(out, int16_t(t.size()));
        out += t;
    }
    put_int32(out, -1);  // user_data: null
    return out;
}

iobuf iobuf_of(const std::string& s) {
    return iobuf::copy_of(s.data(), s.size());
}

bool wait_coordinator(kafka_client& c, const std::string& group) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
        offset_fetch_request req;
        auto& g = req.groups.emplace_back();
        g.group_id = group;
        g.topics = std::nullopt;
        auto resp = c.call(req, 8);
        if (resp.groups.size() == 1 &&
            resp.groups[0].error_code != err(error_code::coordinator_load_in_progress) &&
            resp.groups[0].error_code != err(error_code::coordinator_not_available)) {
            return true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
}

join_group_request join_request_of(const std::string& group, const join_options& o) {
    join_group_request req;
    req.group_id = group;
    req.session_timeout_ms = o.session_timeout_ms;
    req.rebalance_timeout_ms = o.rebalance_timeout_ms;
    req.member_id = o.member_id;
    req.group_instance_id = o.instance_id;
    req.protocol_type = o.protocol_type;
    auto protocols = o.protocols;
    if (protocols.empty()) protocols.emplace_back("range", subscription_v0({"t"}));
    for (const auto& [name, metadata] : protocols) {
        auto& p = req.protocols.emplace_back();
        p.name = name;
        p.metadata = iobuf_of(metadata);
    }
    return req;
}

join_group_response join(kafka_client& c, const std::string& group, const join_options& o,
                         int16_t version) {
    return c.call(join_request_of(group, o), version);
}

sync_group_request sync_request_of(const std::string& group, int32_t generation,
                                   const std::string& member, const assignments& a,
                                   std::optional<std::string> instance_id) {
    sync_group_request req;
    req.group_id = group;
    req.generation_id = generation;
    req.member_id = member;
    req.group_instance_id = std::move(instance_id);
    for (const auto& [id, bytes] : a) {
        auto& out = req.assignments.emplace_back();
        out.member_id = id;
        out.assignment = iobuf_of(bytes);
    }
    return req;
}

sync_group_response sync(kafka_client& c, const std::string& group, int32_t generation,
                         const std::string& member, const assignments& a, int16_t version) {
    return c.call(sync_request_of(group, generation, member, a), version);
}

int16_t heartbeat(kafka_client& c, const std::string& group, int32_t generation,
                  const std::string& member, std::optional<std::string> instance_id,
                  int16_t version) {
    heartbeat_request req;
    req.group_id = group;
    req.generation_id = generation;
    req.member_id = member;
    req.group_instance_id = std::move(instance_id);
    return c.call(req, version).error_code;
}

formed_member form_group(kafka_client& c, const std::string& group,
                         const std::vector<std::string>& topics, const std::string& assignment) {
    formed_member out;
    join_options o{.protocols = {{"range", subscription_v0(topics)}}};
    auto first = join(c, group, o);
    if (first.error_code != err(error_code::member_id_required)) {
        ADD_FAILURE() << "first JoinGroup of " << group << ": error " << first.error_code;
        return out;
    }
    o.member_id = first.member_id;
    auto joined = join(c, group, o);
    if (joined.error_code != 0) {
        ADD_FAILURE() << "JoinGroup of " << group << ": error " << joined.error_code;
        return out;
    }
    auto synced =
        sync(c, group, joined.generation_id, joined.member_id, {{joined.member_id, assignment}});
    if (synced.error_code != 0) {
        ADD_FAILURE() << "SyncGroup of " << group << ": error " << synced.error_code;
        return out;
    }
    out.member_id = joined.member_id;
    out.generation = joined.generation_id;
    return out;
}

int16_t commit(kafka_client& c, const std::string& group, const std::string& topic,
               int32_t partition, int64_t offset, const commit_options& o, int16_t version) {
    offset_commit_request req;
    req.group_id = group;
    req.generation_id_or_member_epoch = o.generation;
    req.member_id = o.member_id;
    auto& t = req.topics.emplace_back();
    t.name = topic;
    auto& p = t.partitions.emplace_back();
    p.partition_index = partition;
    p.committed_offset = offset;
    p.committed_leader_epoch = o.leader_epoch;
    p.committed_metadata = o.metadata;
    auto resp = c.call(req, version);
    if (resp.topics.size() != 1 || resp.topics[0].partitions.size() != 1) {
        throw client_error("OffsetCommit answered another shape than one topic, one partition");
    }
    return resp.topics[0].partitions[0].error_code;
}

fetched_offset fetch_offset(kafka_client& c, const std::string& group, const std::string& topic,
                            int32_t partition) {
    offset_fetch_request req;
    auto& g = req.groups.emplace_back();
    g.group_id = group;
    auto& t = g.topics->emplace_back();
    t.name = topic;
    t.partition_indexes = {partition};
    auto resp = c.call(req, 8);
    if (resp.groups.size() != 1) throw client_error("OffsetFetch answered another group count");
    const auto& rg = resp.groups[0];
    fetched_offset out;
    out.error = rg.error_code;
    if (rg.error_code != 0) return out;
    if (rg.topics.size() != 1 || rg.topics[0].partitions.size() != 1) {
        throw client_error("OffsetFetch answered another shape than one topic, one partition");
    }
    const auto& p = rg.topics[0].partitions[0];
    out.error = p.error_code;
    out.offset = p.committed_offset;
    out.leader_epoch = p.committed_leader_epoch;
    out.metadata = p.metadata;
    return out;
}

std::string listed_state(kafka_client& c, const std::string& group) {
    list_groups_request req;
    auto resp = c.call(req, 4);
    for (const auto& g : resp.groups) {
        if (g.group_id == group) return g.group_state;
    }
    return "";
}

std::string unique_group(std::string_view prefix) {
    return unique_topic(std::string("group-") + std::string(prefix));
}

void group_test::SetUp() {
    _client = connect();
}

void group_test::TearDown() {
    _client.reset();
    auto& b = group_broker();
    EXPECT_TRUE(b.alive()) << "the broker died; output:\n" << b.output();
}

std::unique_ptr<kafka_client> group_test::connect() {
    return std::make_unique<kafka_client>(group_broker().port());
}

}  // namespace wharf::kafka::test
