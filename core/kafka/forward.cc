#include "core/kafka/forward.h"

#include <memory>

#include "core/kafka/cluster_view.h"
#include "core/cluster/errc.h"
#include "core/kafka/errors.h"
#include "core/kafka/response_errors.h"
#include "net/kafka/client/connection.h"
#include "net/kafka/header.h"
#include "reactor/logger.h"
#include "reactor/sync.h"

namespace wharf::kafka {

namespace {

// The version of CreateTopics an auto-creation sends (every Wharf serves 2-7).
constexpr int16_t auto_create_version = 5;
constexpr std::chrono::milliseconds connect_timeout{3000};

struct forwarding {
    int32_t node = -1;
    std::unique_ptr<client::connection> conn;
    // One opener at a time: concurrent requests share the connection.
    semaphore opening{1};
};
thread_local forwarding t_forward;

struct release_on_exit {
    semaphore& s;
    ~release_on_exit() { s.release(1); }
};

// The connection to the controller of the local view, opened or reopened as needed.
task<result<client::connection*>> controller_connection() {
    co_await t_forward.opening.acquire(1);
    release_on_exit release{t_forward.opening};
    const cluster_view& view = local_cluster_view();
    const broker_endpoint* target = view.broker(view.controller_id);
    if (target == nullptr || view.controller_id == view.node_id) {
        co_return std::make_error_code(std::errc::host_unreachable);
    }
    if (t_forward.conn && (t_forward.node != target->node_id || t_forward.conn->broken())) {
        auto old = std::move(t_forward.conn);
        co_await old->close();
    }
    if (!t_forward.conn) {
        client::broker_address addr{target->kafka.host, target->kafka.port, target->node_id};
        auto opened = co_await client::connection::open(addr, forward_client_id, connect_timeout);
        if (!opened) co_return opened.error();
        t_forward.conn = std::move(*opened);
        t_forward.node = target->node_id;
    }
    co_return t_forward.conn.get();
}

template <typename Response>
bool refused(const iobuf& body, int16_t version) {
    iobuf copy = body.share(0, body.size());
    protocol_reader r(copy);
    Response resp;
    return resp.decode(r, version) && r.ok() && refused_as_not_controller(resp);
}

// Whether the controller's answer to a forwarded write refuses all of it with NOT_CONTROLLER
// (it has just lost its leadership).
bool refused_as_not_controller(api_key key, int16_t version, const iobuf& body) {
    switch (key) {
        case api_key::create_topics:
            return refused<create_topics_response>(body, version);
        case api_key::delete_topics:
            return refused<delete_topics_response>(body, version);
        case api_key::create_partitions:
            return refused<create_partitions_response>(body, version);
        case api_key::alter_configs:
            return refused<alter_configs_response>(body, version);
        case api_key::incremental_alter_configs:
            return refused<incremental_alter_configs_response>(body, version);
        default:
            return false;
    }
}

}  // namespace

bool is_controller_write(api_key key) noexcept {
    switch (key) {
        case api_key::create_topics:
        case api_key::delete_topics:
        case api_key::create_partitions:
        case api_key::alter_configs:
        case api_key::incremental_alter_configs:
            return true;
        default:
            return false;
    }
}

bool must_forward(const request_context& ctx) noexcept {
    const cluster_view& view = local_cluster_view();
    if (!ctx.config.cluster.is_cluster() || view.controller_id == view.node_id) return false;
    return ctx.header.client_id != forward_client_id;
}

task<result<iobuf>> forward_to_controller(const request_context& ctx, iobuf body) {
    auto conn = co_await controller_connection();
    if (!conn) co_return conn.error();
    auto answer = co_await (*conn)->call_raw(ctx.header.key, ctx.header.version, std::move(body));
    if (!answer) co_return answer.error();
    if (refused_as_not_controller(ctx.header.key, ctx.header.version, *answer)) {
        co_return make_error_code(cluster_errc::not_controller);
    }
    protocol_writer w;
    encode_response_header(w, ctx.header.key, ctx.header.version, ctx.header.correlation_id);
    iobuf frame = w.release();
    frame.append(std::move(*answer));
    co_return frame;
}

task<int16_t> forward_create_topic(std::string name) {
    auto conn = co_await controller_connection();
    if (!conn) co_return code(error_code::leader_not_available);
    create_topics_request req;
    auto& t = req.topics.emplace_back();
    t.name = name;
    t.num_partitions = -1;
    t.replication_factor = -1;
    req.timeout_ms = 30000;
    auto resp = co_await (*conn)->call<create_topics_request, create_topics_response>(
        req, auto_create_version);
    // The topic is being created somewhere the client can learn of soon: a retriable answer.
    if (!resp || resp->topics.size() != 1) co_return code(error_code::leader_not_available);
    int16_t e = resp->topics[0].error_code;
    if (e == code(error_code::topic_already_exists)) co_return 0;
    if (e == code(error_code::not_controller)) co_return code(error_code::leader_not_available);
    co_return e;
}

task<void> stop_forwarding() {
    if (!t_forward.conn) co_return;
    auto old = std::move(t_forward.conn);
    co_await old->close();
}

}  // namespace wharf::kafka
