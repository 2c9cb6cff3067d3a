#include "core/admin/admin_api.h"

#include <memory>

#include "core/admin/routes.h"
#include "net/http/http_server.h"
#include "reactor/base/assert.h"
#include "reactor/logger.h"
#include "reactor/shard.h"

namespace wharf::admin {

namespace {

// The admin API of shard 0: the server and what its routes read. The context refers to `ready`,
// so the state never moves once made.
struct admin_state {
    explicit admin_state(const broker_config& cfg)
        : context{.cfg = cfg,
                  .ready = ready,
                  .server = nullptr,
                  .started = std::chrono::steady_clock::now()} {}
    bool ready = false;
    admin_context context;
    std::unique_ptr<net::http::server> server;
};

thread_local std::unique_ptr<admin_state> t_admin;

void check_shard0() {
    WHARF_ASSERT(this_shard() == shard_id(0), "the admin API runs on shard 0, not {}",
                 this_shard());
}

}  // namespace

task<result<std::optional<uint16_t>>> start_admin_api(const broker_config& cfg) {
    check_shard0();
    WHARF_ASSERT(!t_admin, "admin API started twice");
    if (!cfg.admin_addr) {
        shard_logger().info("admin API disabled (--admin-addr '')");
        co_return std::optional<uint16_t>{};
    }
    net::http::server_config sc;
    sc.host = cfg.admin_addr->host;
    sc.port = cfg.admin_addr->port;
    auto server = net::http::server::listen(sc);
    if (!server) co_return server.error();
    auto state = std::make_unique<admin_state>(cfg);
    state->server = std::move(*server);
    state->context.server = state->server.get();
    add_routes(*state->server, state->context);
    state->server->start();
    uint16_t port = state->server->port();
    shard_logger().info("admin API on {}", state->server->address());
    t_admin = std::move(state);
    co_return std::optional<uint16_t>(port);
}

task<void> stop_admin_api() {
    check_shard0();
    if (!t_admin) co_return;
    t_admin->ready = false;
    co_await t_admin->server->stop();
    t_admin.reset();
}

void set_ready(bool ready) {
    check_shard0();
    if (t_admin) t_admin->ready = ready;
}

}  // namespace wharf::admin
