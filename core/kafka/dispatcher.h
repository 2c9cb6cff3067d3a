#pragma once

// The Kafka front end's entry point: one request frame in, one response frame (or none) out.
// Called by the shard's net::server for every frame, in arrival order per connection; runs on the
// connection's shard.

#include "core/config/broker_config.h"
#include "core/kafka/request_context.h"
#include "net/server.h"

namespace wharf::kafka {

struct dispatch_stats {
    uint64_t requests = 0;
    uint64_t unknown_api_closes = 0;
    uint64_t unsupported_version_closes = 0;
    uint64_t decode_error_closes = 0;
};

// Decodes the header, finds the handler and runs it. A request that cannot be answered within
// the protocol (an undecodable header or body, an unknown API, an unsupported version of an API
// other than ApiVersions) closes the connection, with a log line saying why.
task<handler_result> dispatch(const broker_config& cfg, net::connection_info& connection,
                              iobuf frame);

const dispatch_stats& local_dispatch_stats() noexcept;

}  // namespace wharf::kafka
