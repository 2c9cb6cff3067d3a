// JoinGroup (key 11, v0-9), SyncGroup (key 14, v0-5), Heartbeat (key 12, v0-4) and LeaveGroup
// (key 13, v0-5): decoded on the connection's shard, run by the group's coordinator shard
// (group_route.h), whose answer may come much later (the end of a join phase).

#include "core/kafka/errors.h"
#include "core/kafka/group_route.h"
#include "core/kafka/handlers.h"
#include "reactor/submit_to.h"

namespace wharf::kafka {

namespace {

groups::join_request to_join(const join_group_request& req, int16_t version,
                             const request_context& ctx) {
    groups::join_request j;
    j.member_id = req.member_id;
    j.instance_id = req.group_instance_id;
    j.protocol_type = req.protocol_type;
    for (const auto& p : req.protocols) {
        j.protocols.push_back(groups::member_protocol{p.name, to_bytes(p.metadata)});
    }
    j.session_timeout_ms = req.session_timeout_ms;
    // Version 0 has no rebalance timeout: Kafka uses the session timeout.
    j.rebalance_timeout_ms = version == 0 ? req.session_timeout_ms : req.rebalance_timeout_ms;
    j.version = version;
    j.client_id = ctx.header.client_id.value_or("");
    j.client_host = client_host(ctx.connection.peer);
    j.reason = req.reason.value_or("");
    return j;
}

}  // namespace

task<join_group_response> handle_join_group(request_context& ctx, join_group_request req) {
    join_group_response resp;
    auto route = route_group(req.group_id);
    if (route.error != error_code::none) {
        resp.error_code = code(route.error);
        resp.member_id = req.member_id;
        co_return resp;
    }
    auto fn = [group_id = req.group_id, partition = route.partition,
               j = to_join(req, ctx.version(), ctx)]() mutable -> task<groups::join_result> {
        auto c = coordinator_for(partition);
        if (!c) co_return groups::join_result{.error = c.error, .member_id = j.member_id};
        auto slot = make_oneshot<groups::join_result>();
        c.groups->join(group_id, std::move(j), c.coordinator->now(),
                       [slot](groups::join_result r) { slot->set(std::move(r)); });
        if (auto* g = c.groups->find(group_id)) c.coordinator->after_change(partition, *g);
        if (!slot->value) co_await slot->ready.wait();
        co_return std::move(*slot->value);
    };
    groups::join_result r = co_await submit_to(route.shard, std::move(fn));
    resp.error_code = code(r.error);
    resp.generation_id = r.generation;
    resp.protocol_type = r.protocol_type;
    resp.protocol_name = r.protocol_name;
    resp.leader = r.leader_id;
    resp.skip_assignment = r.skip_assignment;
    resp.member_id = r.member_id;
    for (auto& m : r.members) {
        auto& out = resp.members.emplace_back();
        out.member_id = m.member_id;
        out.group_instance_id = m.instance_id;
        out.metadata = to_iobuf(m.metadata);
    }
    co_return resp;
}

task<sync_group_response> handle_sync_group(request_context&, sync_group_request req) {
    sync_group_response resp;
    auto route = route_group(req.group_id);
    if (route.error != error_code::none) {
        resp.error_code = code(route.error);
        co_return resp;
    }
    groups::sync_request s;
    s.member_id = req.member_id;
    s.instance_id = req.group_instance_id;
    s.generation = req.generation_id;
    s.protocol_type = req.protocol_type;
    s.protocol_name = req.protocol_name;
    for (const auto& a : req.assignments) s.assignments.emplace_back(a.member_id, to_bytes(a.assignment));
    auto fn = [group_id = req.group_id, partition = route.partition,
               s = std::move(s)]() mutable -> task<groups::sync_result> {
        auto c = coordinator_for(partition);
        if (!c) co_return groups::sync_result{.error = c.error};
        auto slot = make_oneshot<groups::sync_result>();
        c.groups->sync(group_id, std::move(s), c.coordinator->now(),
                       [slot](groups::sync_result r) { slot->set(std::move(r)); });
        if (auto* g = c.groups->find(group_id)) c.coordinator->after_change(partition, *g);
        if (!slot->value) co_await slot->ready.wait();
        co_return std::move(*slot->value);
    };
    groups::sync_result r = co_await submit_to(route.shard, std::move(fn));
    resp.error_code = code(r.error);
    resp.protocol_type = r.protocol_type;
    resp.protocol_name = r.protocol_name;
    resp.assignment = to_iobuf(r.assignment);
    co_return resp;
}

task<heartbeat_response> handle_heartbeat(request_context&, heartbeat_request req) {
    heartbeat_response resp;
    auto route = route_group(req.group_id);
    if (route.error != error_code::none) {
        resp.error_code = code(route.error);
        co_return resp;
    }
    auto fn = [group_id = req.group_id, partition = route.partition, member = req.member_id,
               instance = req.group_instance_id, generation = req.generation_id]() {
        auto c = coordinator_for(partition);
        if (!c) return c.error;
        auto e = c.groups->heartbeat(group_id, member, instance, generation, c.coordinator->now());
        if (auto* g = c.groups->find(group_id)) c.coordinator->after_change(partition, *g);
        return e;
    };
    resp.error_code = code(co_await submit_to(route.shard, std::move(fn)));
    co_return resp;
}

task<leave_group_response> handle_leave_group(request_context& ctx, leave_group_request req) {
    leave_group_response resp;
    auto route = route_group(req.group_id);
    if (route.error != error_code::none) {
        resp.error_code = code(route.error);
        co_return resp;
    }
    std::vector<groups::leave_member> leaving;
    if (ctx.version() < 3) {
        leaving.push_back(groups::leave_member{.member_id = req.member_id});
    } else {
        for (const auto& m : req.members) {
            leaving.push_back(groups::leave_member{.member_id = m.member_id,
                                                   .instance_id = m.group_instance_id,
                                                   .reason = m.reason.value_or("")});
        }
    }
    auto fn = [group_id = req.group_id, partition = route.partition,
               leaving]() -> groups::leave_result {
        auto c = coordinator_for(partition);
        if (!c) return groups::leave_result{.error = c.error};
        auto r = c.groups->leave(group_id, leaving, c.coordinator->now());
        if (auto* g = c.groups->find(group_id)) c.coordinator->after_change(partition, *g);
        return r;
    };
    groups::leave_result r = co_await submit_to(route.shard, std::move(fn));
    resp.error_code = code(r.error);
    if (ctx.version() < 3) {
        if (r.error == error_code::none && !r.member_errors.empty()) {
            resp.error_code = code(r.member_errors[0]);
        }
    } else {
        for (size_t i = 0; i < leaving.size(); ++i) {
            auto& out = resp.members.emplace_back();
            out.member_id = leaving[i].member_id;
            out.group_instance_id = leaving[i].instance_id;
            out.error_code = code(i < r.member_errors.size() ? r.member_errors[i]
                                                            : error_code::none);
        }
    }
    co_return resp;
}

}  // namespace wharf::kafka
