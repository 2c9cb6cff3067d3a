#include "core/kafka/listener.h"

#include <memory>
#include <vector>

#include "core/kafka/cluster_view.h"
#include "core/kafka/dispatcher.h"
#include "core/kafka/forward.h"
#include "core/group/coordinator.h"
#include "core/kafka/fetch_wakeup.h"
#include "core/listen_retry.h"
#include "core/shard_services.h"
#include "net/server.h"
#include "reactor/logger.h"
#include "reactor/smp.h"
#include "reactor/submit_to.h"
#include "reactor/when_all.h"

namespace wharf::kafka {

namespace {

thread_local std::unique_ptr<net::server> t_server;

result<uint16_t> listen_here(const broker_config& cfg, uint16_t port) {
    net::server_config sc;
    sc.host = cfg.kafka_addr.host;
    sc.port = port;
    sc.max_request_bytes = cfg.max_request_bytes;
    sc.max_inflight_bytes = cfg.max_inflight_request_bytes_per_shard;
    sc.idle_timeout = cfg.connections_max_idle;
    const broker_config* c = &cfg;
    auto handler = [c](net::connection_info& conn, iobuf frame) {
        return dispatch(*c, conn, std::move(frame));
    };
    auto s = net::server::listen(sc, handler);
    if (!s) return s.error();
    t_server = std::move(*s);
    return t_server->port();
}

}  // namespace

const net::server* local_kafka_server() noexcept {
    return t_server.get();
}

task<result<uint16_t>> start_listeners(const broker_config& cfg) {
    const broker_config* c = &cfg;
    auto listen_first = [c] {
        return submit_to(shard_id(0), [c] { return listen_here(*c, c->kafka_addr.port); });
    };
    std::string what = "--kafka-addr " + cfg.kafka_addr.to_string();
    auto first = co_await listen_retrying(listen_first, what);
    if (!first) co_return first.error();
    uint16_t port = *first;
    host_port advertised = cfg.advertise_kafka_addr.host.empty()
                               ? host_port{cfg.kafka_addr.host, port}
                               : cfg.advertise_kafka_addr;
    std::vector<task<result<uint16_t>>> others;
    for (unsigned k = 1; k < smp::count(); ++k) {
        others.push_back(submit_to(shard_id(k), [c, port] { return listen_here(*c, port); }));
    }
    for (auto& r : co_await when_all(std::move(others))) {
        if (!r) co_return r.error();
    }
    // Accepting starts only once every shard knows what Metadata must answer.
    auto start_view = [c, advertised]() { return start_cluster_view(*c, advertised); };
    co_await submit_to(shard_id(0), start_view);
    std::vector<task<void>> starts;
    for (unsigned k = 0; k < smp::count(); ++k) {
        starts.push_back(submit_to(shard_id(k), [] { t_server->start(); }));
    }
    co_await when_all(std::move(starts));
    co_return port;
}

task<void> stop_listeners() {
    co_await submit_to(shard_id(0), [] { return stop_cluster_view(); });
    std::vector<task<void>> stops;
    for (unsigned k = 0; k < smp::count(); ++k) {
        stops.push_back(submit_to(shard_id(k), []() -> task<void> {
            if (!t_server) co_return;
            wake_fetches_for_shutdown();
            // Rebalances in progress would hold their JoinGroup/SyncGroup requests (and so the
            // server's stop) until their timeouts: answer them now.
            if (auto* c = groups::local_coordinator()) c->unload_all();
            co_await t_server->stop();
            t_server.reset();
            co_await stop_forwarding();
        }));
    }
    co_await when_all(std::move(stops));
}

}  // namespace wharf::kafka
