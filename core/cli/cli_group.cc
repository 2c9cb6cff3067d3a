// `wharf group list|describe|delete|seek`: ListGroups, DescribeGroups with committed offsets and
// lag (OffsetFetch, ListOffsets), DeleteGroups, and seeking an empty group's offsets by
// committing new ones as an admin client does (generation -1, no member).

#include <fmt/format.h>

#include <iostream>
#include <map>

#include "core/cli/commands.h"
#include "core/cli/output.h"
#include "net/kafka/client/group_member.h"

namespace wharf::cli {

namespace {

using namespace kafka;

// Fails the command on ec: a broker's Kafka error as `kafka_what` and its name, anything else
// (the connection, a malformed answer) as `what` and the error's message.
void check_group_call(const std::string& what, const std::string& kafka_what,
                      const std::error_code& ec) {
    if (ec && ec.category() == kafka::client::kafka_category()) {
        kafka_failure(kafka_what, static_cast<int16_t>(ec.value()));
    }
    check(what, ec);
}

task<int32_t> coordinator(context& ctx, const std::string& group) {
    auto node = co_await kafka::client::find_coordinator(*ctx.client, group);
    check_group_call("find coordinator", "coordinator of " + group, node.error());
    co_return *node;
}

// Committed offsets of every topic-partition the group has.
task<std::map<kafka::client::topic_partition, int64_t>> committed(context& ctx,
                                                                  const std::string& group,
                                                                  int32_t node) {
    auto offsets = co_await kafka::client::fetch_all_committed(*ctx.client, node, group);
    check_group_call("offset fetch", "offsets of " + group, offsets.error());
    co_return std::move(*offsets);
}

task<void> list(context& ctx) {
    list_groups_request req;
    auto md = co_await ctx.client->refresh_brokers();
    check("metadata", md.error());
    table t{{"group", "state", "protocol_type", "broker"}, {}};
    for (const auto& [id, addr] : ctx.client->metadata().brokers) {
        auto resp = co_await ctx.client->call<list_groups_request, list_groups_response>(id, req);
        check("list groups", resp.error());
        if (resp->error_code != 0) kafka_failure("list groups", resp->error_code);
        for (const auto& g : resp->groups) {
            t.add({g.group_id, g.group_state, g.protocol_type, std::to_string(id)});
        }
    }
    print(t, ctx.json);
}

task<void> describe(context& ctx, const group_options& o) {
    table members{{"group", "state", "member", "client_id", "host"}, {}};
    table offsets{{"group", "topic", "partition", "committed", "end", "lag"}, {}};
    for (const std::string& group : o.groups) {
        int32_t node = co_await coordinator(ctx, group);
        describe_groups_request req;
        req.groups = {group};
        auto resp =
            co_await ctx.client->call<describe_groups_request, describe_groups_response>(node, req);
        check("describe groups", resp.error());
        for (const auto& g : resp->groups) {
            if (g.error_code != 0) kafka_failure("describe " + group, g.error_code);
            if (g.members.empty()) members.add({group, g.group_state, "", "", ""});
            for (const auto& m : g.members) {
                members.add({group, g.group_state, m.member_id, m.client_id, m.client_host});
            }
        }
        auto offs = co_await committed(ctx, group, node);
        std::map<std::string, std::vector<int32_t>> by_topic;
        for (const auto& [tp, off] : offs) by_topic[tp.topic].push_back(tp.partition);
        for (const auto& [topic, parts] : by_topic) {
            auto ends = co_await resolve_offsets(ctx, topic, parts, "end");
            for (int32_t p : parts) {
                int64_t c = offs[{topic, p}];
                int64_t e = ends[p];
                offsets.add({group, topic, std::to_string(p), std::to_string(c), std::to_string(e),
                             std::to_string(c >= 0 ? std::max<int64_t>(e - c, 0) : e)});
            }
        }
    }
    if (ctx.json) {  // one document: {"members": [...], "offsets": [...]}
        std::cout << "{\"members\": ";
        members.print_json(std::cout);
        std::cout << ", \"offsets\": ";
        offsets.print_json(std::cout);
        std::cout << "}\n";
        co_return;
    }
    print(members, false);
    std::cout << '\n';
    print(offsets, false);
}

task<void> remove(context& ctx, const group_options& o) {
    table t{{"group", "result"}, {}};
    for (const std::string& group : o.groups) {
        int32_t node = co_await coordinator(ctx, group);
        delete_groups_request req;
        req.groups_names = {group};
        auto resp =
            co_await ctx.client->call<delete_groups_request, delete_groups_response>(node, req);
        check("delete groups", resp.error());
        for (const auto& r : resp->results) {
            if (r.error_code != 0) kafka_failure("delete " + r.group_id, r.error_code);
            t.add({r.group_id, "deleted"});
        }
    }
    print(t, ctx.json);
}

task<void> seek(context& ctx, const group_options& o) {
    if (o.groups.size() != 1) throw cli_error("group seek: name one group");
    if (!o.topic) throw cli_error("group seek: --topic is required");
    if (o.to.empty()) throw cli_error("group seek: --to start|end|N|@timestamp-ms is required");
    const std::string& group = o.groups.front();
    kafka::client::topic_info info = co_await describe_topic(ctx, *o.topic);
    std::vector<int32_t> parts;
    for (const auto& p : info.partitions) parts.push_back(p.partition);
    auto target = co_await resolve_offsets(ctx, *o.topic, parts, o.to);
    int32_t node = co_await coordinator(ctx, group);
    auto before = co_await committed(ctx, group, node);
    table t{{"group", "topic", "partition", "from", "to"}, {}};
    offset_commit_request req;
    req.group_id = group;
    req.generation_id_or_member_epoch = -1;  // an admin commit: only accepted by an empty group
    req.topics.emplace_back();
    req.topics.back().name = *o.topic;
    for (auto& [p, offset] : target) {
        auto it = before.find({*o.topic, p});
        t.add({group, *o.topic, std::to_string(p),
               it == before.end() ? "-" : std::to_string(it->second), std::to_string(offset)});
        offset_commit_request::offset_commit_request_partition cp;
        cp.partition_index = p;
        cp.committed_offset = offset;
        req.topics.back().partitions.push_back(std::move(cp));
    }
    if (!o.dry_run) {
        auto resp =
            co_await ctx.client->call<offset_commit_request, offset_commit_response>(node, req);
        check("offset commit", resp.error());
        for (const auto& tr : resp->topics) {
            for (const auto& pr : tr.partitions) {
                if (pr.error_code != 0) {
                    kafka_failure(fmt::format("seek {} {}/{}", group, tr.name, pr.partition_index),
                                  pr.error_code);
                }
            }
        }
    }
    print(t, ctx.json);
    if (o.dry_run && !ctx.json) std::cout << "(dry run: nothing committed)\n";
}

}  // namespace

task<void> group_command(context& ctx, const group_options& o) {
    if (o.action == "list") co_return co_await list(ctx);
    if (o.groups.empty()) throw cli_error("group " + o.action + ": name a group");
    if (o.action == "describe") co_return co_await describe(ctx, o);
    if (o.action == "delete") co_return co_await remove(ctx, o);
    if (o.action == "seek") co_return co_await seek(ctx, o);
    throw cli_error("unknown group command " + o.action);
}

}  // namespace wharf::cli
