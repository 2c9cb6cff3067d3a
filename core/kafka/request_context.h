#pragma once

// What a Kafka API handler gets: the decoded request header, the connection it came on, and the
// broker's configuration. Lives on the connection's shard for the duration of one request.

#include <cstdint>
#include <optional>

#include "core/config/broker_config.h"
#include "net/kafka/header.h"
#include "net/kafka/messages.h"
#include "net/kafka/protocol.h"
#include "net/server.h"
#include "reactor/base/result.h"
#include "reactor/iobuf.h"
#include "reactor/task.h"

namespace wharf::kafka {

struct request_context {
    const request_header& header;
    net::connection_info& connection;
    const broker_config& config;
    // Set by the handler: the response carries an error code (counted in /metrics).
    bool response_error = false;
    // Set by the handler of a controller write: it refused everything with NOT_CONTROLLER (the
    // dispatcher then waits for the new controller and tries again).
    bool refused_as_not_controller = false;

    int16_t version() const noexcept { return header.version; }
};

// A handler's answer: the encoded response frame (header and body), nothing (Produce with
// acks=0), or an error that closes the connection (a request that does not decode).
using handler_result = result<std::optional<iobuf>>;

// Encodes `response` behind the response header of the request in ctx.
template <typename Response>
iobuf encode_response(const request_context& ctx, const Response& response) {
    protocol_writer w;
    encode_response_header(w, ctx.header.key, ctx.header.version, ctx.header.correlation_id);
    response.encode(w, ctx.header.version);
    return w.release();
}

}  // namespace wharf::kafka
