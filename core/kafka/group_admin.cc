// FindCoordinator (key 10, v0-4), ListGroups (key 16, v0-4), DescribeGroups (key 15, v0-5) and
// DeleteGroups (key 42, v0-2).

#include <algorithm>
#include <optional>
#include <string>

#include "core/kafka/cluster_view.h"
#include "core/kafka/errors.h"
#include "core/kafka/group_route.h"
#include "core/kafka/handlers.h"
#include "reactor/smp.h"
#include "reactor/submit_to.h"
#include "reactor/when_all.h"

namespace wharf::kafka {

namespace {

constexpr int8_t key_type_group = 0;
constexpr int8_t key_type_transaction = 1;

struct found_coordinator {
    error_code error = error_code::none;
    const broker_endpoint* broker = nullptr;
};

// The coordinator of one key: the leader of the raft group of the shard that holds the group's
// __consumer_offsets partition (COORDINATOR_NOT_AVAILABLE while it has none, or before the
// topic exists); Wharf has no transaction coordinator. Another key type is INVALID_REQUEST,
// which Kafka answers for every key (FindCoordinatorRequest.getErrorResponse).
found_coordinator find_one(const std::string& key, int8_t key_type) {
    if (key_type == key_type_transaction) return {error_code::coordinator_not_available};
    if (key_type != key_type_group) return {error_code::invalid_request};
    group_route route = route_group(key, true);
    if (route.error != error_code::none) return {route.error};
    const cluster_view& view = local_cluster_view();
    const broker_endpoint* b = view.broker(view.leader_of(route.shard).leader);
    if (b == nullptr) return {error_code::coordinator_not_available};
    return {error_code::none, b};
}

std::optional<std::string> message_of(error_code e) {
    if (e == error_code::invalid_request) return "unknown coordinator key type";
    return std::nullopt;
}

}  // namespace

task<find_coordinator_response> handle_find_coordinator(request_context& ctx,
                                                        find_coordinator_request req) {
    find_coordinator_response resp;
    if (ctx.version() < 4) {
        found_coordinator f = find_one(req.coordinator_key, req.key_type);
        resp.error_code = code(f.error);
        resp.error_message = message_of(f.error);
        // An error names no node (Kafka's Node.noNode(): id -1, host "", port -1).
        resp.node_id = f.broker ? f.broker->node_id : -1;
        resp.host = f.broker ? f.broker->kafka.host : "";
        resp.port = f.broker ? f.broker->kafka.port : -1;
        co_return resp;
    }
    for (const auto& key : req.coordinator_keys) {
        auto& c = resp.coordinators.emplace_back();
        c.key = key;
        found_coordinator f = find_one(key, req.key_type);
        c.error_code = code(f.error);
        c.error_message = message_of(f.error);
        c.node_id = f.broker ? f.broker->node_id : -1;
        c.host = f.broker ? f.broker->kafka.host : "";
        c.port = f.broker ? f.broker->kafka.port : -1;
    }
    co_return resp;
}

task<list_groups_response> handle_list_groups(request_context&, list_groups_request req) {
    list_groups_response resp;
    std::vector<task<std::vector<groups::group_listing>>> lists;
    for (unsigned k = 0; k < smp::count(); ++k) {
        lists.push_back(submit_to(shard_id(k), [] {
            auto* c = groups::local_coordinator();
            return c == nullptr ? std::vector<groups::group_listing>{} : c->list();
        }));
    }
    auto all = co_await when_all(std::move(lists));
    resp.error_code = 0;
    for (auto& shard_list : all) {
        for (auto& g : shard_list) {
            if (!req.states_filter.empty() &&
                std::find(req.states_filter.begin(), req.states_filter.end(), g.state) ==
                    req.states_filter.end()) {
                continue;
            }
            auto& out = resp.groups.emplace_back();
            out.group_id = g.group_id;
            out.protocol_type = g.protocol_type;
            out.group_state = g.state;
        }
    }
    co_return resp;
}

task<describe_groups_response> handle_describe_groups(request_context&,
                                                      describe_groups_request req) {
    describe_groups_response resp;
    for (const auto& id : req.groups) {
        auto& out = resp.groups.emplace_back();
        out.group_id = id;
        auto route = route_group(id, true);
        if (route.error != error_code::none) {
            out.error_code = code(route.error);
            continue;
        }
        auto fn = [id, partition = route.partition]() {
            std::pair<error_code, groups::group_description> r;
            auto c = coordinator_for(partition);
            r.first = c.error;
            // An unknown group describes as Dead with no members, as in Kafka.
            if (c) r.second = c.groups->describe(id);
            return r;
        };
        auto [e, d] = co_await submit_to(route.shard, std::move(fn));
        out.error_code = code(e);
        out.group_state = d.state;
        out.protocol_type = d.protocol_type;
        out.protocol_data = d.protocol;
        for (const auto& m : d.members) {
            auto& om = out.members.emplace_back();
            om.member_id = m.member_id;
            om.group_instance_id = m.instance_id;
            om.client_id = m.client_id;
            om.client_host = m.client_host;
            om.member_metadata = to_iobuf(m.metadata);
            om.member_assignment = to_iobuf(m.assignment);
        }
    }
    co_return resp;
}

task<delete_groups_response> handle_delete_groups(request_context&, delete_groups_request req) {
    delete_groups_response resp;
    for (const auto& id : req.groups_names) {
        auto& out = resp.results.emplace_back();
        out.group_id = id;
        // Kafka lets the empty group id be deleted like any other (GROUP_ID_NOT_FOUND if none).
        auto route = route_group(id, true);
        if (route.error != error_code::none) {
            out.error_code = code(route.error);
            continue;
        }
        auto fn = [id, partition = route.partition]() -> task<error_code> {
            auto c = coordinator_for(partition);
            if (!c) co_return c.error;
            std::vector<groups::offsets_record> tombstones;
            error_code e = c.groups->delete_group(id, c.coordinator->now(), tombstones);
            if (e != error_code::none) co_return e;
            co_return co_await c.coordinator->write(partition, std::move(tombstones));
        };
        out.error_code = code(co_await submit_to(route.shard, std::move(fn)));
    }
    co_return resp;
}

}  // namespace wharf::kafka
