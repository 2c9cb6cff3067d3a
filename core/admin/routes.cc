// The admin API's routes (admin_api.h lists them).

#include "core/admin/routes.h"

#include <algorithm>
#include <charconv>
#include <set>
#include <string_view>
#include <utility>
#include <variant>

#include <fmt/format.h>

#include "core/cluster/metadata_service.h"
#include "core/kafka/cluster_view.h"
#include "core/metrics/scrape.h"
#include "core/shard_groups.h"
#include "core/shard_services.h"
#include "raft/errc.h"
#include "reactor/metrics/metrics.h"
#include "reactor/smp.h"
#include "reactor/submit_to.h"

namespace wharf::admin {

namespace {

using net::http::request;
using net::http::response;
using nlohmann::json;

metric_families admin_server_families(const net::http::server* server) {
    metric_families out;
    if (server == nullptr) return out;
    const net::http::server_stats& s = server->stats();
    metric_family responses("wharf_admin_http_responses_total",
                            "Responses of the admin API, by status class", metric_type::counter);
    responses.add({{"code", "2xx"}}, static_cast<double>(s.responses_2xx));
    responses.add({{"code", "4xx"}}, static_cast<double>(s.responses_4xx));
    responses.add({{"code", "5xx"}}, static_cast<double>(s.responses_5xx));
    out.push_back(std::move(responses));
    metric_family bad("wharf_admin_http_bad_requests_total",
                      "Malformed or oversized admin API requests (400, connection closed)",
                      metric_type::counter);
    bad.add({}, static_cast<double>(s.bad_requests));
    out.push_back(std::move(bad));
    metric_family open("wharf_admin_http_connections", "Open admin API connections",
                       metric_type::gauge);
    open.add({}, static_cast<double>(s.connections_open));
    out.push_back(std::move(open));
    return out;
}

task<response> metrics_route(const admin_context& ctx) {
    std::string text = co_await metrics::scrape_prometheus(admin_server_families(ctx.server));
    co_return response{.status = 200,
                       .content_type = std::string(prometheus_content_type),
                       .body = std::move(text)};
}

task<response> ready_route(const admin_context& ctx) {
    co_return json_response(ctx.ready ? 200 : 503, json{{"ready", ctx.ready}});
}

task<response> health_route(const admin_context& ctx) {
    auto shards = co_await metrics::gather_shard_summaries();
    json problems = json::array();
    if (!ctx.ready)
        problems.push_back("the Kafka listeners are not serving (starting or stopping)");
    json per_shard = json::array();
    for (const auto& s : shards) {
        if (!s.running) problems.push_back(fmt::format("shard {} is not running", s.shard));
        per_shard.push_back(
            {{"shard", s.shard}, {"running", s.running}, {"leader", s.raft_leader}});
    }
    bool healthy = problems.empty();
    auto uptime = std::chrono::duration<double>(std::chrono::steady_clock::now() - ctx.started);
    json body{{"healthy", healthy},
              {"ready", ctx.ready},
              {"problems", std::move(problems)},
              {"shards", std::move(per_shard)},
              {"uptime_seconds", uptime.count()}};
    co_return json_response(healthy ? 200 : 503, body);
}

task<response> brokers_route(const admin_context& ctx) {
    // The advertised address is known once the listeners run; the listen address before.
    const kafka::cluster_view& view = kafka::local_cluster_view();
    std::string kafka_addr =
        view.advertised.host.empty() ? ctx.cfg.kafka_addr.to_string() : view.advertised.to_string();
    json broker{{"node_id", ctx.cfg.cluster.node_id},
                {"kafka_addr", kafka_addr},
                {"admin_addr", ctx.server != nullptr ? json(ctx.server->address()) : json(nullptr)},
                {"shards", smp::count()},
                {"ready", ctx.ready},
                {"alive", true}};
    json all = json::array({std::move(broker)});
    // The peers this broker has heard from (their admin API is theirs to report).
    for (const auto& b : view.brokers) {
        if (b.node_id == ctx.cfg.cluster.node_id) continue;
        all.push_back(json{{"node_id", b.node_id}, {"kafka_addr", b.kafka.to_string()}});
    }
    co_return json_response(200, all);
}

task<response> shards_route(const admin_context& ctx) {
    auto shards = co_await metrics::gather_shard_summaries();
    co_return json_response(200, shards_json(shards, ctx.cfg));
}

task<response> partitions_route() {
    auto partitions = co_await metrics::gather_partitions();
    co_return json_response(200, partitions_json(partitions));
}

// A decimal id >= 0 spelled out exactly, or nullopt.
std::optional<int32_t> parse_id(std::string_view digits) {
    int32_t v = -1;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
    if (ec != std::errc() || end != digits.data() + digits.size() || v < 0) return std::nullopt;
    return v;
}

// The id between `prefix` (which the route matched) and `suffix` in req.path, or the answer to
// give instead: 404 when the path does not end with suffix, 400 when the text is no `what`.
std::variant<int32_t, response> id_in_path(const request& req, std::string_view prefix,
                                           std::string_view suffix, std::string_view what) {
    std::string_view rest = std::string_view(req.path).substr(prefix.size());
    if (!rest.ends_with(suffix)) return json_response(404, json{{"error", "no such path"}});
    std::string_view text = rest.substr(0, rest.size() - suffix.size());
    auto id = parse_id(text);
    if (!id) return json_response(400, json{{"error", fmt::format("'{}' is no {}", text, what)}});
    return *id;
}

// The value of `name` in a query string ("a=1&target=3"), or nullopt.
std::optional<std::string_view> query_value(std::string_view query, std::string_view name) {
    while (!query.empty()) {
        std::string_view pair = query.substr(0, query.find('&'));
        query.remove_prefix(std::min(query.size(), pair.size() + 1));
        if (pair.size() > name.size() && pair.starts_with(name) && pair[name.size()] == '=') {
            return pair.substr(name.size() + 1);
        }
    }
    return std::nullopt;
}

// PUT /v1/brokers/{id}/decommission (the path Redpanda's admin API uses): the controller records
// the decommission, and every raft group then moves the broker's replica away
// (core/cluster/group_membership.h). Only the controller takes it: another broker answers 503
// naming the controller.
task<response> decommission_route(const request& req) {
    auto in_path = id_in_path(req, "/v1/brokers/", "/decommission", "node id");
    if (auto* answer = std::get_if<response>(&in_path)) co_return std::move(*answer);
    const int32_t node = std::get<int32_t>(in_path);
    auto* m = local_metadata_service();
    if (m == nullptr) co_return json_response(503, json{{"error", "the broker is starting"}});
    auto refused = co_await m->decommission_broker(node);
    if (!refused) co_return json_response(200, json{{"node_id", node}, {"decommissioned", true}});
    int status = 500;
    json body{{"error", refused->message}};
    switch (refused->code) {
        case cluster_errc::not_controller:
            status = 503;
            body["controller"] = kafka::local_cluster_view().controller_id;
            break;
        case cluster_errc::broker_not_available: status = 404; break;
        case cluster_errc::invalid_request: status = 400; break;
        default: break;
    }
    co_return json_response(status, body);
}

// GET /v1/brokers/{id}/decommission (Redpanda's path, behind `rpk redpanda admin brokers
// decommission-status`): how far the broker's decommission has got, as this broker knows it
// (core/shard_groups.h, decommissioned_members: its own groups from raft, the others from
// their leaders' notices). `finished` once no raft group on any shard has it as a member;
// `replicas_left` counts the partitions whose group still has it. 400 for a broker that is not
// decommissioned, 404 for one the cluster does not have.
task<response> decommission_status_route(const admin_context& ctx, const request& req) {
    auto in_path = id_in_path(req, "/v1/brokers/", "/decommission", "node id");
    if (auto* answer = std::get_if<response>(&in_path)) co_return std::move(*answer);
    const int32_t node = std::get<int32_t>(in_path);
    auto table = metadata_snapshot();
    if (!table->decommissioned(node)) {
        auto seeds = ctx.cfg.cluster.voters();
        bool known = table->registered_brokers().contains(node) ||
                     std::find(seeds.begin(), seeds.end(), node) != seeds.end();
        if (!known) {
            co_return json_response(404, json{{"error", fmt::format("no broker {}", node)}});
        }
        co_return json_response(
            400, json{{"error", fmt::format("broker {} is not decommissioned", node)}});
    }
    // The (shard, group)s that still have the broker as a member.
    std::set<std::pair<unsigned, uint16_t>> holding;
    for (unsigned k = 0; k < smp::count(); ++k) {
        auto members = co_await submit_to(shard_id(k), [] { return decommissioned_members(); });
        if (!members) co_return json_response(503, json{{"error", "the broker is stopping"}});
        for (const auto& [id, held] : *members) {
            if (std::find(held.begin(), held.end(), node) != held.end()) {
                holding.emplace(k, id.value());
            }
        }
    }
    json groups = json::array();
    for (const auto& [shard, group] : holding) {
        groups.push_back(json{{"shard", shard}, {"group", group}});
    }
    json partitions = json::array();
    for (const topic_metadata* t : table->topics()) {
        for (const auto& a : t->partitions) {
            if (holding.contains({a.shard.value(), a.group.value()})) {
                partitions.push_back(json{{"topic", t->name},
                                          {"partition", a.partition},
                                          {"shard", a.shard.value()},
                                          {"group", a.group.value()}});
            }
        }
    }
    json body{{"node_id", node},
              {"finished", holding.empty()},
              {"replicas_left", partitions.size()},
              {"groups_left", std::move(groups)},
              {"partitions", std::move(partitions)}};
    co_return json_response(200, body);
}

// Hands leadership of raft group `group` on shard `shard` to broker `to` (raft thesis 3.10),
// on that shard; answers 200 once the handover has begun. A broker that does not lead the group
// answers 503 naming its leader when it knows it (a replica from raft, another broker from the
// leaders' notices: core/cluster/group_leaders.h), a target that is no voter 400.
task<response> transfer_leadership(shard_id shard, raft_group_id group, int32_t to,
                                   json done) {
    struct outcome {
        std::error_code error;
        int32_t leader = -1;
    };
    auto transfer = [group, to] {
        outcome out;
        auto* s = local_services();
        if (s == nullptr || s->raft == nullptr) {
            out.error = make_error_code(raft_errc::shutting_down);
            return out;
        }
        group_ref g = s->group(group);
        if (!g) {
            // Not a replica of it: its leader is another broker's to hand over.
            out.error = make_error_code(raft_errc::not_leader);
            if (auto r = s->remote.find(group, std::chrono::steady_clock::now())) {
                out.leader = r->leader.value();
            }
            return out;
        }
        if (auto leader = g.raft->leader()) out.leader = leader->value();
        status st = g.raft->transfer_leadership(node_id(to));
        if (!st) out.error = st.error();
        return out;
    };
    outcome out = co_await submit_to(shard, transfer);
    if (!out.error) {
        done["target"] = to;
        co_return json_response(200, done);
    }
    json body{{"error", out.error.message()}};
    int status = 503;
    if (out.error == raft_errc::not_a_voter) {
        status = 400;
    } else if (out.error == raft_errc::not_leader) {
        body["leader"] = out.leader;
    }
    co_return json_response(status, body);
}

// The node id of ?target=N, or the 400 to answer.
std::variant<int32_t, response> target_in_query(const request& req) {
    auto text = query_value(req.query, "target");
    auto target = text ? parse_id(*text) : std::nullopt;
    if (!target) return json_response(400, json{{"error", "target=NODE names the new leader"}});
    return *target;
}

// POST /v1/raft/{group}/transfer_leadership?target={node} (the path of Redpanda's admin API; a
// group here is a shard index: shard k's group 0 leads every partition placed on shard k that
// every broker replicates). With --leader-balancing on, leadership goes back to the group's
// preferred broker afterwards.
task<response> transfer_leadership_route(const request& req) {
    auto in_path = id_in_path(req, "/v1/raft/", "/transfer_leadership", "group");
    if (auto* answer = std::get_if<response>(&in_path)) co_return std::move(*answer);
    const int32_t group = std::get<int32_t>(in_path);
    if (static_cast<unsigned>(group) >= smp::count()) {
        co_return json_response(404, json{{"error", fmt::format("no group {}", group)}});
    }
    auto target = target_in_query(req);
    if (auto* answer = std::get_if<response>(&target)) co_return std::move(*answer);
    json done{{"group", group}};  // (a local: GCC rejects a braced json inside co_await)
    co_return co_await transfer_leadership(shard_id(static_cast<unsigned>(group)),
                                           raft_group_id(0), std::get<int32_t>(target),
                                           std::move(done));
}

// POST /v1/partitions/kafka/{topic}/{partition}/transfer_leadership?target={node} (Redpanda's
// path, which `rpk cluster partitions transfer-leadership` calls): the raft group that
// replicates the partition hands leadership to that replica, which then leads every partition
// of that group on that shard.
task<response> partition_transfer_route(const request& req) {
    constexpr std::string_view prefix = "/v1/partitions/";
    constexpr std::string_view suffix = "/transfer_leadership";
    std::string_view rest = std::string_view(req.path).substr(prefix.size());
    if (!rest.ends_with(suffix)) co_return json_response(404, json{{"error", "no such path"}});
    rest.remove_suffix(suffix.size());  // kafka/{topic}/{partition}
    size_t topic_at = rest.find('/');
    size_t partition_at = rest.rfind('/');
    if (topic_at == std::string_view::npos || partition_at == topic_at ||
        rest.substr(0, topic_at) != "kafka") {
        co_return json_response(404, json{{"error", "no such path"}});
    }
    std::string topic(rest.substr(topic_at + 1, partition_at - topic_at - 1));
    std::string_view number = rest.substr(partition_at + 1);
    auto partition = parse_id(number);
    if (!partition) {
        co_return json_response(400,
                                json{{"error", fmt::format("'{}' is no partition", number)}});
    }
    auto target = target_in_query(req);
    if (auto* answer = std::get_if<response>(&target)) co_return std::move(*answer);
    auto table = metadata_snapshot();
    const partition_assignment* a = table->assignment(topic, *partition);
    if (a == nullptr) {
        co_return json_response(404, json{{"error", fmt::format("no partition {}/{}", topic,
                                                                *partition)}});
    }
    json done{{"topic", topic},
              {"partition", *partition},
              {"group", a->group.value()},
              {"shard", a->shard.value()}};
    co_return co_await transfer_leadership(a->shard, a->group, std::get<int32_t>(target),
                                           std::move(done));
}

task<response> config_route(const admin_context& ctx) {
    co_return json_response(200, config_json(ctx.cfg));
}

}  // namespace

void add_routes(net::http::server& server, const admin_context& ctx) {
    const admin_context* c = &ctx;
    server.route("/metrics", [c](const request&) { return metrics_route(*c); });
    server.route("/v1/status/ready", [c](const request&) { return ready_route(*c); });
    server.route("/v1/health", [c](const request&) { return health_route(*c); });
    server.route("/v1/brokers", [c](const request&) { return brokers_route(*c); });
    server.route("/v1/shards", [c](const request&) { return shards_route(*c); });
    server.route("/v1/partitions", [](const request&) { return partitions_route(); });
    server.route("/v1/config", [c](const request&) { return config_route(*c); });
    server.route_put_prefix("/v1/brokers/",
                            [](const request& r) { return decommission_route(r); });
    server.route_get_prefix("/v1/brokers/",
                            [c](const request& r) { return decommission_status_route(*c, r); });
    server.route_post_prefix("/v1/raft/",
                             [](const request& r) { return transfer_leadership_route(r); });
    server.route_post_prefix("/v1/partitions/",
                             [](const request& r) { return partition_transfer_route(r); });
}

}  // namespace wharf::admin
