#pragma once

// A blocking Kafka client for the protocol-level API tests, built on Wharf's own codec: it
// encodes the request header (encode_request_header) and the generated request, sends the
// size-prefixed frame over a plain TCP socket, reads the size-prefixed answer and decodes the
// response header (in the version response_header_version gives) and the generated response.
//
// Failures of the transport (connect, a closed connection, a timeout, a response that does not
// decode or answers another correlation id) throw client_error: in a test they end the test
// with the message, which is what a test wants from a broker that stopped answering. Every read
// is bounded by the client's timeout.
//
// Lifecycle: one socket per object, closed by the destructor; not thread-safe.

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

#include "net/kafka/header.h"
#include "net/kafka/messages.h"
#include "net/kafka/protocol.h"
#include "reactor/iobuf.h"

namespace wharf::kafka::test {

struct client_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// The response type of a request type.
template <typename Request>
struct response_of;

#define WHARF_TEST_RESPONSE_OF(name)     \
    template <>                          \
    struct response_of<name##_request> { \
        using type = name##_response;    \
    }
WHARF_TEST_RESPONSE_OF(produce);
WHARF_TEST_RESPONSE_OF(fetch);
WHARF_TEST_RESPONSE_OF(list_offsets);
WHARF_TEST_RESPONSE_OF(metadata);
WHARF_TEST_RESPONSE_OF(api_versions);
WHARF_TEST_RESPONSE_OF(create_topics);
WHARF_TEST_RESPONSE_OF(delete_topics);
WHARF_TEST_RESPONSE_OF(delete_records);
WHARF_TEST_RESPONSE_OF(init_producer_id);
WHARF_TEST_RESPONSE_OF(offset_for_leader_epoch);
WHARF_TEST_RESPONSE_OF(describe_configs);
WHARF_TEST_RESPONSE_OF(alter_configs);
WHARF_TEST_RESPONSE_OF(create_partitions);
WHARF_TEST_RESPONSE_OF(incremental_alter_configs);
WHARF_TEST_RESPONSE_OF(describe_cluster);
WHARF_TEST_RESPONSE_OF(find_coordinator);
WHARF_TEST_RESPONSE_OF(join_group);
WHARF_TEST_RESPONSE_OF(sync_group);
WHARF_TEST_RESPONSE_OF(heartbeat);
WHARF_TEST_RESPONSE_OF(leave_group);
WHARF_TEST_RESPONSE_OF(offset_commit);
WHARF_TEST_RESPONSE_OF(offset_fetch);
WHARF_TEST_RESPONSE_OF(offset_delete);
WHARF_TEST_RESPONSE_OF(list_groups);
WHARF_TEST_RESPONSE_OF(describe_groups);
WHARF_TEST_RESPONSE_OF(delete_groups);
#undef WHARF_TEST_RESPONSE_OF

class kafka_client {
public:
    static constexpr std::chrono::milliseconds default_timeout{10000};

    // Connects to 127.0.0.1:port. Throws client_error when it cannot.
    explicit kafka_client(uint16_t port, std::chrono::milliseconds timeout = default_timeout);
    ~kafka_client();
    kafka_client(const kafka_client&) = delete;
    kafka_client& operator=(const kafka_client&) = delete;

    // Sends one request and returns its decoded response.
    template <typename Request>
    typename response_of<Request>::type call(const Request& request, int16_t version) {
        int32_t id = send(request, version);
        return receive<typename response_of<Request>::type>(version, id);
    }

    // The two halves of call(), for pipelining and for requests that get no answer (Produce
    // with acks=0). send returns the correlation id it used.
    template <typename Request>
    int32_t send(const Request& request, int16_t version) {
        protocol_writer w;
        int32_t id = next_correlation_id();
        encode_request_header(w, request_header{.key = Request::key,
                                                .version = version,
                                                .correlation_id = id,
                                                .client_id = "wharf-api-test"});
        request.encode(w, version);
        send_payload(w.buffer());
        return id;
    }

    template <typename Response>
    Response receive(int16_t version, int32_t correlation_id) {
        std::string bytes = must_read_frame();
        iobuf frame = iobuf::copy_of(bytes.data(), bytes.size());
        protocol_reader r(frame);
        read_response_header(r, Response::key, version, correlation_id);
        Response out;
        if (!out.decode(r, version) || !r.ok() || r.remaining() != 0) {
            throw client_error(std::string("response does not decode: ") +
                               (r.ok() ? "trailing bytes" : r.error()));
        }
        return out;
    }

    // Raw frames: send_payload adds the size prefix to header + body bytes; read_frame returns
    // the bytes after the size prefix, or nullopt when the broker closed the connection or
    // nothing came within `timeout`.
    void send_payload(const iobuf& payload);
    void send_bytes(std::string_view bytes);
    std::optional<std::string> read_frame(std::chrono::milliseconds timeout);
    // Reads a frame within the client's timeout; throws client_error when none comes.
    std::string must_read_frame();

    // Reads a response header (decode_response_header) and checks its correlation id.
    static void read_response_header(protocol_reader& r, api_key key, int16_t version,
                                     int32_t correlation_id);

    int32_t next_correlation_id() noexcept { return _next_correlation_id++; }

private:
    // false when the connection closed or the deadline passed first.
    bool read_exact(char* out, size_t n, std::chrono::steady_clock::time_point deadline);

    int _fd = -1;
    std::chrono::milliseconds _timeout;
    int32_t _next_correlation_id = 1;
};

}  // namespace wharf::kafka::test
