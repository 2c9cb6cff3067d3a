#include "net/kafka/client/group_member.h"

#include <algorithm>

namespace wharf::kafka::client {

namespace {

constexpr int32_t session_timeout_ms = 10'000;
constexpr int32_t rebalance_timeout_ms = 60'000;
constexpr std::string_view assignor = "range";
constexpr std::string_view consumer_protocol_type = "consumer";

// ConsumerProtocolSubscription v0: version, topics, user data (null).
iobuf encode_subscription(const std::vector<std::string>& topics) {
    kafka::protocol_writer w;
    w.write_int16(0);
    w.write_array_len(topics.size(), false);
    for (const std::string& t : topics) w.write_string(t, false);
    w.write_int32(-1);
    return w.release();
}

kafka::error_code as_kafka(int16_t code) {
    return static_cast<kafka::error_code>(code);
}

// Errors after which the coordinator must be looked up again.
bool coordinator_moved(kafka::error_code e) {
    return e == kafka::error_code::not_coordinator ||
           e == kafka::error_code::coordinator_not_available;
}

// OffsetFetch for `parts`, or (nullptr) for everything the group has committed; see
// fetch_committed and fetch_all_committed for which errors fail it.
task<result<std::map<topic_partition, int64_t>>> offset_fetch(
    kafka_client& c, int32_t node, const std::string& group,
    const std::vector<topic_partition>* parts) {
    kafka::offset_fetch_request req;
    req.group_id = group;
    kafka::offset_fetch_request::offset_fetch_request_group g;  // v8 batches groups
    g.group_id = group;
    std::map<topic_partition, int64_t> out;
    if (parts == nullptr) {
        req.topics.reset();  // null: every topic
        g.topics.reset();
    } else {
        std::map<std::string, std::vector<int32_t>> by_topic;
        for (const topic_partition& tp : *parts) {
            by_topic[tp.topic].push_back(tp.partition);
            out[tp] = -1;
        }
        for (const auto& [topic, ps] : by_topic) {
            kafka::offset_fetch_request::offset_fetch_request_topic t;
            t.name = topic;
            t.partition_indexes = ps;
            req.topics->push_back(t);
            kafka::offset_fetch_request::offset_fetch_request_topics t8;
            t8.name = topic;
            t8.partition_indexes = ps;
            g.topics->push_back(std::move(t8));
        }
    }
    req.groups.push_back(std::move(g));
    auto resp =
        co_await c.call<kafka::offset_fetch_request, kafka::offset_fetch_response>(node, req);
    if (!resp) co_return resp.error();
    // A partition's error counts only when the caller named the partition.
    const bool partition_errors = parts != nullptr;
    int16_t error = resp->error_code;
    for (const auto& t : resp->topics) {
        for (const auto& p : t.partitions) {
            if (p.error_code != 0 && partition_errors) error = p.error_code;
            out[{t.name, p.partition_index}] = p.committed_offset;
        }
    }
    for (const auto& grp : resp->groups) {
        if (grp.error_code != 0) error = grp.error_code;
        for (const auto& t : grp.topics) {
            for (const auto& p : t.partitions) {
                if (p.error_code != 0 && partition_errors) error = p.error_code;
                out[{t.name, p.partition_index}] = p.committed_offset;
            }
        }
    }
    if (error != 0) co_return kafka_error(as_kafka(error));
    co_return out;
}

}  // namespace

std::map<std::string, std::vector<topic_partition>> range_assign(
    std::vector<std::string> members, const std::map<std::string, int32_t>& partitions) {
    std::sort(members.begin(), members.end());
    std::map<std::string, std::vector<topic_partition>> out;
    for (const std::string& m : members) out[m];
    if (members.empty()) return out;
    auto n = static_cast<int32_t>(members.size());
    for (const auto& [topic, count] : partitions) {
        int32_t per = count / n;
        int32_t extra = count % n;
        int32_t next = 0;
        for (int32_t i = 0; i < n; ++i) {
            int32_t take = per + (i < extra ? 1 : 0);
            for (int32_t k = 0; k < take; ++k) {
                out[members[static_cast<size_t>(i)]].push_back({topic, next++});
            }
        }
    }
    return out;
}

iobuf encode_assignment(const std::vector<topic_partition>& parts) {
    std::map<std::string, std::vector<int32_t>> by_topic;
    for (const topic_partition& tp : parts) by_topic[tp.topic].push_back(tp.partition);
    kafka::protocol_writer w;
    w.write_int16(0);
    w.write_array_len(by_topic.size(), false);
    for (const auto& [topic, ps] : by_topic) {
        w.write_string(topic, false);
        w.write_array_len(ps.size(), false);
        for (int32_t p : ps) w.write_int32(p);
    }
    w.write_int32(-1);  // user data: null
    return w.release();
}

std::optional<std::vector<topic_partition>> decode_assignment(iobuf bytes) {
    std::vector<topic_partition> out;
    if (bytes.empty()) return out;
    kafka::protocol_reader r(bytes);
    if (r.read_int16() < 0) return std::nullopt;
    int32_t topics = r.read_array_len(false, false);
    for (int32_t t = 0; t < topics && r.ok(); ++t) {
        std::string topic = r.read_string(false);
        int32_t n = r.read_array_len(false, false);
        for (int32_t i = 0; i < n && r.ok(); ++i) out.push_back({topic, r.read_int32()});
    }
    // User data and later versions' fields follow; this member needs none of them.
    if (!r.ok()) return std::nullopt;
    return out;
}

task<result<int32_t>> find_coordinator(kafka_client& c, const std::string& group) {
    kafka::find_coordinator_request req;
    req.coordinator_key = group;
    req.coordinator_keys = {group};
    auto resp =
        co_await c.call<kafka::find_coordinator_request, kafka::find_coordinator_response>(-1, req);
    if (!resp) co_return resp.error();
    int16_t error = resp->error_code;
    int32_t node = resp->node_id;
    if (!resp->coordinators.empty()) {  // v4 batches keys
        error = resp->coordinators.front().error_code;
        node = resp->coordinators.front().node_id;
    }
    if (error != 0) co_return kafka_error(as_kafka(error));
    auto md = co_await c.refresh_brokers();
    if (!md) co_return md.error();
    co_return node;
}

task<result<std::map<topic_partition, int64_t>>> fetch_committed(
    kafka_client& c, int32_t node, const std::string& group,
    const std::vector<topic_partition>& parts) {
    co_return co_await offset_fetch(c, node, group, &parts);
}

task<result<std::map<topic_partition, int64_t>>> fetch_all_committed(kafka_client& c, int32_t node,
                                                                     const std::string& group) {
    co_return co_await offset_fetch(c, node, group, nullptr);
}

group_member::group_member(std::vector<kafka::client::broker_address> bootstrap,
                           std::string client_id, std::string group_id,
                           std::map<std::string, int32_t> topics)
    : _client(std::move(bootstrap), std::move(client_id)),
      _group_id(std::move(group_id)),
      _topics(std::move(topics)) {}

task<result<std::vector<topic_partition>>> group_member::join() {
    std::vector<std::string> topic_names;
    for (const auto& [t, n] : _topics) topic_names.push_back(t);
    iobuf subscription = encode_subscription(topic_names);
    for (int attempt = 0; attempt < 20; ++attempt) {
        if (_coordinator < 0) {
            auto found = co_await find_coordinator(_client, _group_id);
            if (!found) co_return found.error();
            _coordinator = *found;
        }
        kafka::join_group_request join;
        join.group_id = _group_id;
        join.member_id = _member_id;
        join.session_timeout_ms = session_timeout_ms;
        join.rebalance_timeout_ms = rebalance_timeout_ms;
        join.protocol_type = std::string(consumer_protocol_type);
        kafka::join_group_request::join_group_request_protocol proto;
        proto.name = std::string(assignor);
        proto.metadata = subscription.share();
        join.protocols.push_back(std::move(proto));
        auto joined = co_await _client.call<kafka::join_group_request, kafka::join_group_response>(
            _coordinator, join);
        if (!joined) co_return joined.error();
        auto error = as_kafka(joined->error_code);
        if (error == kafka::error_code::member_id_required) {
            _member_id = joined->member_id;
            continue;
        }
        if (coordinator_moved(error)) {
            _coordinator = -1;
            continue;
        }
        if (error == kafka::error_code::unknown_member_id) {
            _member_id.clear();
            continue;
        }
        if (error == kafka::error_code::rebalance_in_progress) continue;
        if (error != kafka::error_code::none) co_return kafka_error(error);
        _member_id = joined->member_id;
        _generation = joined->generation_id;

        kafka::sync_group_request sync;
        sync.group_id = _group_id;
        sync.generation_id = _generation;
        sync.member_id = _member_id;
        sync.protocol_type = std::string(consumer_protocol_type);
        sync.protocol_name = joined->protocol_name.value_or(std::string(assignor));
        if (joined->leader == _member_id) {
            std::vector<std::string> members;
            for (const auto& m : joined->members) members.push_back(m.member_id);
            for (auto& [member, parts] : range_assign(members, _topics)) {
                kafka::sync_group_request::sync_group_request_assignment a;
                a.member_id = member;
                a.assignment = encode_assignment(parts);
                sync.assignments.push_back(std::move(a));
            }
        }
        auto synced = co_await _client.call<kafka::sync_group_request, kafka::sync_group_response>(
            _coordinator, sync);
        if (!synced) co_return synced.error();
        error = as_kafka(synced->error_code);
        if (coordinator_moved(error)) _coordinator = -1;
        if (error == kafka::error_code::rebalance_in_progress || coordinator_moved(error) ||
            error == kafka::error_code::illegal_generation) {
            continue;
        }
        if (error != kafka::error_code::none) co_return kafka_error(error);
        auto parts = decode_assignment(std::move(synced->assignment));
        if (!parts) co_return client_errc::malformed_response;
        co_return std::move(*parts);
    }
    co_return client_errc::timed_out;
}

task<result<void>> group_member::heartbeat() {
    if (_coordinator < 0) co_return kafka_error(kafka::error_code::not_coordinator);
    kafka::heartbeat_request req;
    req.group_id = _group_id;
    req.generation_id = _generation;
    req.member_id = _member_id;
    auto resp = co_await _client.call<kafka::heartbeat_request, kafka::heartbeat_response>(
        _coordinator, req);
    if (!resp) co_return resp.error();
    auto error = as_kafka(resp->error_code);
    if (coordinator_moved(error)) _coordinator = -1;
    if (error != kafka::error_code::none) co_return kafka_error(error);
    co_return result<void>();
}

task<result<std::map<topic_partition, int64_t>>> group_member::committed(
    const std::vector<topic_partition>& parts) {
    co_return co_await fetch_committed(_client, _coordinator, _group_id, parts);
}

task<result<void>> group_member::commit(const std::map<topic_partition, int64_t>& positions) {
    if (positions.empty()) co_return result<void>();
    kafka::offset_commit_request req;
    req.group_id = _group_id;
    req.generation_id_or_member_epoch = _generation;
    req.member_id = _member_id;
    for (const auto& [tp, offset] : positions) {
        if (req.topics.empty() || req.topics.back().name != tp.topic) {
            req.topics.emplace_back();
            req.topics.back().name = tp.topic;
        }
        kafka::offset_commit_request::offset_commit_request_partition p;
        p.partition_index = tp.partition;
        p.committed_offset = offset;
        req.topics.back().partitions.push_back(std::move(p));
    }
    auto resp = co_await _client.call<kafka::offset_commit_request, kafka::offset_commit_response>(
        _coordinator, req);
    if (!resp) co_return resp.error();
    for (const auto& t : resp->topics) {
        for (const auto& p : t.partitions) {
            if (p.error_code != 0) co_return kafka_error(as_kafka(p.error_code));
        }
    }
    co_return result<void>();
}

task<void> group_member::leave() {
    if (_coordinator < 0 || _member_id.empty()) co_return;
    kafka::leave_group_request req;
    req.group_id = _group_id;
    req.member_id = _member_id;
    kafka::leave_group_request::member_identity me;
    me.member_id = _member_id;
    req.members.push_back(std::move(me));
    auto resp = co_await _client.call<kafka::leave_group_request, kafka::leave_group_response>(
        _coordinator, req);
    (void)resp;  // leaving is best effort: the session timeout expels the member anyway
    _member_id.clear();
}

}  // namespace wharf::kafka::client
