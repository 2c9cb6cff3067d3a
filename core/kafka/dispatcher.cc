#include "core/kafka/dispatcher.h"

#include <algorithm>
#include <array>
#include <chrono>

#include "core/kafka/forward.h"
#include "core/kafka/handlers.h"
#include "core/metrics/kafka_metrics.h"
#include "reactor/clock.h"
#include "reactor/logger.h"
#include "reactor/timer.h"

namespace wharf::kafka {

namespace {

thread_local dispatch_stats t_stats;

template <typename Request, auto Fn>
constexpr handler_entry entry(int16_t min_version, int16_t max_version) {
    return {Request::key, min_version, max_version, min_version,
            &decode_and_handle<Request, Fn>};
}

// The versions each API serves (issue 3, DESIGN.md section 7). Ranges never exceed what the
// codec covers; a static_assert below checks it.
constexpr auto registry = [] {
    std::array<handler_entry, 26> r{{
        {produce_request::key, 3, 10, 0, &handle_produce_frame},
        entry<fetch_request, handle_fetch>(4, 16),
        entry<list_offsets_request, handle_list_offsets>(1, 8),
        entry<metadata_request, handle_metadata>(0, 12),
        entry<api_versions_request, handle_api_versions>(0, 4),
        entry<create_topics_request, handle_create_topics>(2, 7),
        entry<delete_topics_request, handle_delete_topics>(1, 6),
        entry<delete_records_request, handle_delete_records>(0, 2),
        entry<init_producer_id_request, handle_init_producer_id>(0, 4),
        entry<offset_for_leader_epoch_request, handle_offset_for_leader_epoch>(2, 4),
        entry<describe_configs_request, handle_describe_configs>(1, 4),
        entry<alter_configs_request, handle_alter_configs>(0, 2),
        entry<create_partitions_request, handle_create_partitions>(0, 3),
        entry<incremental_alter_configs_request, handle_incremental_alter_configs>(0, 1),
        entry<describe_cluster_request, handle_describe_cluster>(0, 1),
        entry<find_coordinator_request, handle_find_coordinator>(0, 4),
        entry<join_group_request, handle_join_group>(0, 9),
        entry<sync_group_request, handle_sync_group>(0, 5),
        entry<heartbeat_request, handle_heartbeat>(0, 4),
        entry<leave_group_request, handle_leave_group>(0, 5),
        entry<offset_commit_request, handle_offset_commit>(2, 8),
        entry<offset_fetch_request, handle_offset_fetch>(1, 8),
        entry<offset_delete_request, handle_offset_delete>(0, 0),
        entry<list_groups_request, handle_list_groups>(0, 4),
        entry<describe_groups_request, handle_describe_groups>(0, 5),
        entry<delete_groups_request, handle_delete_groups>(0, 2),
    }};
    std::sort(r.begin(), r.end(), [](const handler_entry& a, const handler_entry& b) {
        return static_cast<int16_t>(a.key) < static_cast<int16_t>(b.key);
    });
    return r;
}();

// How long a controller write waits for a controller that takes it. While the cluster has
// none (an election, or the metadata group's leadership moving to its preferred broker: about a
// second) the write is retried rather than answered NOT_CONTROLLER at once, as a KRaft broker's
// forwarding does: librdkafka's admin API hands NOT_CONTROLLER to the application.
constexpr std::chrono::milliseconds controller_wait{5000};
constexpr std::chrono::milliseconds controller_retry_interval{100};

// A controller write in a cluster (forward.h): forwarded to the controller, or served here when
// this broker is it, until a controller takes it or controller_wait has passed. An attempt
// refused with NOT_CONTROLLER wrote nothing, so trying again is safe. When time is up the
// request is served here, which answers NOT_CONTROLLER unless this broker has become it.
task<handler_result> serve_controller_write(const handler_entry& h, request_context& ctx,
                                            iobuf body) {
    const auto deadline = steady_now() + controller_wait;
    for (;;) {
        const bool last = steady_now() >= deadline;
        if (must_forward(ctx)) {
            auto answer = co_await forward_to_controller(ctx, body.share(0, body.size()));
            if (answer) co_return std::optional<iobuf>(std::move(*answer));
            shard_logger().debug("forwarding {} to the controller failed: {}",
                                 find_api(static_cast<int16_t>(ctx.header.key))->name,
                                 answer.error().message());
        }
        if (!must_forward(ctx) || last) {
            iobuf attempt = body.share(0, body.size());
            protocol_reader reader(attempt);
            ctx.refused_as_not_controller = false;
            handler_result r = co_await h.handle(ctx, reader);
            if (!r || !ctx.refused_as_not_controller || last) co_return r;
        }
        bool slept = co_await sleep_for(controller_retry_interval);
        if (!slept) co_return std::make_error_code(std::errc::operation_canceled);
    }
}
}  // namespace

std::span<const handler_entry> handler_registry() { return registry; }

const handler_entry* find_handler(api_key key) {
    for (const auto& e : registry) {
        if (e.key == key) return &e;
    }
    return nullptr;
}

const dispatch_stats& local_dispatch_stats() noexcept { return t_stats; }

task<handler_result> dispatch(const broker_config& cfg, net::connection_info& connection,
                              iobuf frame) {
    ++t_stats.requests;
    protocol_reader reader(frame);
    request_header header;
    if (!decode_request_header(reader, header)) {
        ++t_stats.decode_error_closes;
        shard_logger().info("closing connection {} from {}: malformed request header",
                            connection.id, connection.peer);
        co_return std::make_error_code(std::errc::bad_message);
    }
    const handler_entry* h = find_handler(header.key);
    if (h == nullptr) {
        ++t_stats.unknown_api_closes;
        shard_logger().info("closing connection {} from {}: unknown API key {}", connection.id,
                            connection.peer, static_cast<int16_t>(header.key));
        co_return std::make_error_code(std::errc::operation_not_supported);
    }
    if (header.version < h->advertised_min_version || header.version > h->max_version) {
        if (header.key == api_key::api_versions) {
            co_return std::optional<iobuf>(unsupported_api_versions_response(
                header.correlation_id));
        }
        ++t_stats.unsupported_version_closes;
        shard_logger().info("closing connection {} from {}: {} version {} is not supported "
                            "(versions {}-{})", connection.id, connection.peer,
                            find_api(static_cast<int16_t>(header.key))->name, header.version,
                            h->min_version, h->max_version);
        co_return std::make_error_code(std::errc::operation_not_supported);
    }
    request_context ctx{header, connection, cfg};
    auto start = steady_now();
    handler_result r = std::optional<iobuf>();
    if (is_controller_write(header.key) && ctx.config.cluster.is_cluster() &&
        header.client_id != forward_client_id) {
        r = co_await serve_controller_write(*h, ctx,
                                            frame.share(reader.position(), reader.remaining()));
    } else {
        r = co_await h->handle(ctx, reader);
    }
    auto took = std::chrono::duration_cast<std::chrono::microseconds>(steady_now() - start);
    metrics::record_kafka_request(static_cast<int16_t>(header.key), header.version,
                                  static_cast<uint64_t>(took.count()), !r || ctx.response_error);
    if (!r) {
        ++t_stats.decode_error_closes;
        shard_logger().info("closing connection {} from {}: malformed {} v{} request",
                            connection.id, connection.peer,
                            find_api(static_cast<int16_t>(header.key))->name, header.version);
    }
    co_return r;
}

}  // namespace wharf::kafka
