#pragma once

// One client connection to a Kafka broker on the calling shard's reactor (for `wharf bench` and
// the `wharf` CLI):
// Wharf's own codec over io_uring sockets, any number of requests in flight (Kafka answers them
// in order on a connection, so responses are matched to requests first-in first-out and checked
// by correlation id).
//
// Requests are encoded by the caller's coroutine and queued; one writer coroutine sends whatever
// is queued with one sendmsg, so concurrent callers never interleave bytes. One reader coroutine
// receives frames, each into one contiguous chunk sized to the frame (a 50 MB fetch response is
// received in place, never copied to be decoded), and completes the oldest waiting call.
//
// Failures are values (client_errc): a connect that fails or times out, a closed connection (every
// waiting call fails with connection_closed), a response that does not decode. After a failure the
// connection is broken() and every later call fails at once; the owner reconnects if it wants to.
//
// Lifecycle: open() returns a connected object; close() must be awaited before it is destroyed
// (it stops the reader and writer and fails the calls still waiting). Owned by one shard.

#include <chrono>
#include <coroutine>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "net/kafka/client/errc.h"
#include "net/kafka/header.h"
#include "net/kafka/messages.h"
#include "reactor/iobuf.h"
#include "reactor/sync.h"
#include "reactor/task.h"

namespace wharf::kafka::client {

struct broker_address {
    std::string host;
    uint16_t port = 0;
    int32_t node_id = -1;  // -1 for a bootstrap address

    std::string to_string() const;
};

// "host:port"; errors: client_errc::bad_address.
result<broker_address> parse_address(std::string_view host_port);
// "host:port,host:port"; at least one.
result<std::vector<broker_address>> parse_bootstrap(std::string_view list);

class connection {
public:
    // The biggest response accepted (a fetch of 50 MiB and its overhead fits easily).
    static constexpr size_t max_response_bytes = 256u << 20;

    // Resolves the host (numeric addresses or names through getaddrinfo) and connects within
    // `timeout`. Sets TCP_NODELAY.
    static task<result<std::unique_ptr<connection>>> open(broker_address addr,
                                                          std::string client_id,
                                                          std::chrono::milliseconds timeout);
    ~connection();
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;

    // Sends `req` in `version` and waits for the response.
    template <typename Req, typename Resp>
    task<result<Resp>> call(const Req& req, int16_t version) {
        iobuf body = encode_body(req, version);
        result<iobuf> answer = co_await roundtrip(Req::key, version, std::move(body));
        if (!answer) co_return answer.error();  // `this` may be gone after a failure
        Resp resp;
        if (!decode_response(*answer, version, resp)) {
            co_return client_errc::malformed_response;
        }
        co_return resp;
    }

    // Sends an encoded request body and returns the response body after its header (a broker
    // forwarding a request it does not serve itself).
    task<result<iobuf>> call_raw(kafka::api_key key, int16_t version, iobuf body) {
        return roundtrip(key, version, std::move(body));
    }

    // Sends a request that gets no response (Produce with acks=0). Completes once queued.
    result<void> send_only(kafka::api_key key, int16_t version, iobuf body);

    bool broken() const noexcept { return static_cast<bool>(_error); }

    // Stops the connection: the socket is shut down, waiting calls fail with connection_closed.
    task<void> close();

    // Encodes a request body (for callers that build a body once and send it several times).
    template <typename Req>
    static iobuf encode_body(const Req& req, int16_t version) {
        kafka::protocol_writer w;
        req.encode(w, version);
        return w.release();
    }

private:
    struct waiter {
        int32_t correlation_id = 0;
        // The request's API and version, which give the response header's version.
        kafka::api_key key{};
        int16_t version = 0;
        std::optional<iobuf> body;  // the response after its header
        std::error_code error;      // why body is empty
        bool done = false;
        std::coroutine_handle<> handle;
    };

    connection(int fd, broker_address addr, std::string client_id);
    // Sends an encoded body and waits for the response body (the reader has consumed the
    // header). After it resumes it touches only its own waiter, never the connection.
    task<result<iobuf>> roundtrip(kafka::api_key key, int16_t version, iobuf body);
    iobuf frame_request(kafka::api_key key, int16_t version, int32_t correlation_id, iobuf body);
    void enqueue(iobuf frame);
    void fail(std::error_code ec);
    // Hands w the response body, or (nullopt) the error `ec`, else the connection's error.
    void complete(waiter& w, std::optional<iobuf> body, std::error_code ec = {});
    task<void> write_loop();
    task<void> read_loop();
    task<bool> receive_into(iobuf& buf, size_t min_bytes);
    template <typename Resp>
    static bool decode_response(iobuf& body, int16_t version, Resp& out) {
        kafka::protocol_reader r(body);
        return out.decode(r, version) && r.ok();
    }

    int _fd;
    broker_address _addr;
    std::string _client_id;
    int32_t _next_correlation = 1;
    std::error_code _error;
    std::deque<waiter*> _waiting;
    std::vector<iobuf> _out;
    bool _writing = false;
    bool _closed = false;
    gate _tasks;  // the reader and the writer
};

}  // namespace wharf::kafka::client
