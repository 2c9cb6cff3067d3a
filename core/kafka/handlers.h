#pragma once

// The Kafka API handlers and their registry. Each handler decodes its request, does its work
// (splitting per owning shard where partitions are involved) and encodes its response on the
// connection's shard. ApiVersions is derived from the registry, so it advertises exactly what is
// implemented.

#include <cstdint>
#include <optional>
#include <span>
#include <type_traits>

#include "core/kafka/forward.h"
#include "core/kafka/request_context.h"
#include "core/kafka/response_errors.h"

namespace wharf::kafka {

using handler_fn = task<handler_result> (*)(request_context&, protocol_reader&);

struct handler_entry {
    api_key key;
    // The versions served. Produce is advertised from 0 (librdkafka enables compression only
    // then) but answers v0-2 with UNSUPPORTED_VERSION.
    int16_t min_version;
    int16_t max_version;
    int16_t advertised_min_version;
    handler_fn handle;
};

// Every implemented API, sorted by key.
std::span<const handler_entry> handler_registry();
const handler_entry* find_handler(api_key key);

// Decodes the request, runs fn and encodes what it returns. fn returns a Response, or
// std::optional<Response> when a request may go unanswered (Produce with acks=0).
template <typename Request, auto Fn>
task<handler_result> decode_and_handle(request_context& ctx, protocol_reader& r) {
    Request request;
    if (!request.decode(r, ctx.version()) || !r.ok()) {
        co_return std::make_error_code(std::errc::bad_message);
    }
    auto response = co_await Fn(ctx, std::move(request));
    if constexpr (requires { response.has_value(); *response; }) {
        if (!response) co_return std::optional<iobuf>{};
        ctx.response_error = count_error_codes(*response) > 0;
        co_return std::optional<iobuf>(encode_response(ctx, *response));
    } else {
        ctx.response_error = count_error_codes(response) > 0;
        if (ctx.response_error && is_controller_write(Request::key)) {
            ctx.refused_as_not_controller = refused_as_not_controller(response);
        }
        co_return std::optional<iobuf>(encode_response(ctx, response));
    }
}

// The handlers (one file each under core/kafka/).
task<api_versions_response> handle_api_versions(request_context&, api_versions_request);
task<metadata_response> handle_metadata(request_context&, metadata_request);
// Produce registers its own frame handler: with acks=0 there is no response, and a request with
// errors closes the connection instead (as Kafka does, so that the client notices).
task<handler_result> handle_produce_frame(request_context&, protocol_reader&);
task<fetch_response> handle_fetch(request_context&, fetch_request);
task<list_offsets_response> handle_list_offsets(request_context&, list_offsets_request);
task<offset_for_leader_epoch_response> handle_offset_for_leader_epoch(
    request_context&, offset_for_leader_epoch_request);
task<create_topics_response> handle_create_topics(request_context&, create_topics_request);
task<delete_topics_response> handle_delete_topics(request_context&, delete_topics_request);
task<create_partitions_response> handle_create_partitions(request_context&,
                                                          create_partitions_request);
task<describe_configs_response> handle_describe_configs(request_context&,
                                                        describe_configs_request);
task<alter_configs_response> handle_alter_configs(request_context&, alter_configs_request);
task<incremental_alter_configs_response> handle_incremental_alter_configs(
    request_context&, incremental_alter_configs_request);
task<delete_records_response> handle_delete_records(request_context&, delete_records_request);
task<describe_cluster_response> handle_describe_cluster(request_context&,
                                                        describe_cluster_request);
task<init_producer_id_response> handle_init_producer_id(request_context&,
                                                        init_producer_id_request);

// Consumer groups (group_membership.cc, group_offsets.cc, group_admin.cc).
task<find_coordinator_response> handle_find_coordinator(request_context&,
                                                        find_coordinator_request);
task<join_group_response> handle_join_group(request_context&, join_group_request);
task<sync_group_response> handle_sync_group(request_context&, sync_group_request);
task<heartbeat_response> handle_heartbeat(request_context&, heartbeat_request);
task<leave_group_response> handle_leave_group(request_context&, leave_group_request);
task<offset_commit_response> handle_offset_commit(request_context&, offset_commit_request);
task<offset_fetch_response> handle_offset_fetch(request_context&, offset_fetch_request);
task<offset_delete_response> handle_offset_delete(request_context&, offset_delete_request);
task<list_groups_response> handle_list_groups(request_context&, list_groups_request);
task<describe_groups_response> handle_describe_groups(request_context&, describe_groups_request);
task<delete_groups_response> handle_delete_groups(request_context&, delete_groups_request);

// The ApiVersions answer to a version the broker does not know: v0 layout, UNSUPPORTED_VERSION
// and the supported list, so that the client can pick a version it shares.
iobuf unsupported_api_versions_response(int32_t correlation_id);

}  // namespace wharf::kafka
