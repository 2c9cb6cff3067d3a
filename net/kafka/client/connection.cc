#include "net/kafka/client/connection.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>

#include "reactor/io.h"
#include "reactor/spawn.h"

namespace wharf::kafka::client {

namespace {

// Reads ahead at least this much when a frame needs fewer bytes, so that small responses arrive
// many to a recv.
constexpr size_t read_ahead_bytes = 64 * 1024;
constexpr size_t max_iov_per_send = 512;

// The size prefix of the frame at the front of buf, read as the protocol's int32 (negative sizes
// come out huge and are refused as too big). REQUIRES: buf.size() >= 4.
uint32_t frame_size(const iobuf& buf) {
    iobuf prefix = buf.share(0, 4);
    kafka::protocol_reader r(prefix);
    return static_cast<uint32_t>(r.read_int32());
}

}  // namespace

std::string broker_address::to_string() const {
    bool v6 = host.find(':') != std::string::npos;
    return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

result<broker_address> parse_address(std::string_view text) {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos || colon == 0 || colon + 1 == text.size()) {
        return client_errc::bad_address;
    }
    std::string_view host = text.substr(0, colon);
    std::string_view port_text = text.substr(colon + 1);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
    }
    unsigned port = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || port == 0 ||
        port > 65535) {
        return client_errc::bad_address;
    }
    return broker_address{std::string(host), static_cast<uint16_t>(port), -1};
}

result<std::vector<broker_address>> parse_bootstrap(std::string_view list) {
    std::vector<broker_address> out;
    while (!list.empty()) {
        auto comma = list.find(',');
        std::string_view item = list.substr(0, comma);
        list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
        if (item.empty()) continue;
        auto a = parse_address(item);
        if (!a) return a.error();
        out.push_back(std::move(*a));
    }
    if (out.empty()) return client_errc::bad_address;
    return out;
}

connection::connection(int fd, broker_address addr, std::string client_id)
    : _fd(fd), _addr(std::move(addr)), _client_id(std::move(client_id)) {}

connection::~connection() {
    WHARF_ASSERT(_tasks.count() == 0, "connection destroyed with its reader or writer running");
    if (_fd >= 0) ::close(_fd);
}

task<result<std::unique_ptr<connection>>> connection::open(broker_address addr,
                                                           std::string client_id,
                                                           std::chrono::milliseconds timeout) {
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    addrinfo* found = nullptr;
    std::string port = std::to_string(addr.port);
    // Blocking for names (numeric addresses never block): brokers are resolved when a client
    // first connects to them or reconnects after a failure.
    if (::getaddrinfo(addr.host.c_str(), port.c_str(), &hints, &found) != 0 || found == nullptr) {
        co_return client_errc::resolve_failed;
    }
    // Every address of the name in turn, as Kafka's clients do ("localhost" may list ::1 first
    // while the broker listens on 127.0.0.1 only).
    std::vector<std::pair<sockaddr_storage, socklen_t>> targets;
    for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
        sockaddr_storage target{};
        std::memcpy(&target, a->ai_addr, a->ai_addrlen);
        targets.emplace_back(target, a->ai_addrlen);
    }
    ::freeaddrinfo(found);

    int fd = -1;
    for (auto& [target, target_len] : targets) {
        fd = ::socket(target.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) continue;
        auto* sa = reinterpret_cast<sockaddr*>(&target);
        int rc = co_await io::connect_for(fd, sa, target_len, timeout);
        if (rc == 0) break;
        ::close(fd);
        fd = -1;
    }
    if (fd < 0) co_return client_errc::connect_failed;
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    std::unique_ptr<connection> c(new connection(fd, std::move(addr), std::move(client_id)));
    spawn(c->read_loop(), "bench connection reader");
    co_return c;
}

iobuf connection::frame_request(kafka::api_key key, int16_t version, int32_t correlation_id,
                                iobuf body) {
    kafka::protocol_writer header;
    kafka::request_header h;
    h.key = key;
    h.version = version;
    h.correlation_id = correlation_id;
    h.client_id = _client_id;
    kafka::encode_request_header(header, h);
    kafka::protocol_writer frame;
    frame.write_int32(static_cast<int32_t>(header.buffer().size() + body.size()));
    frame.buffer().append(header.release());
    frame.buffer().append(std::move(body));
    return frame.release();
}

void connection::enqueue(iobuf frame) {
    _out.push_back(std::move(frame));
    if (!_writing) {
        _writing = true;
        spawn(write_loop(), "bench connection writer");
    }
}

task<result<iobuf>> connection::roundtrip(kafka::api_key key, int16_t version, iobuf body) {
    if (_error) co_return _error;
    waiter w;
    w.correlation_id = _next_correlation++;
    w.key = key;
    w.version = version;
    enqueue(frame_request(key, version, w.correlation_id, std::move(body)));
    _waiting.push_back(&w);
    struct awaiter {
        waiter& w;
        bool await_ready() const noexcept { return w.done; }
        void await_suspend(std::coroutine_handle<> h) noexcept { w.handle = h; }
        void await_resume() const noexcept {}
    };
    co_await awaiter{w};
    // Only the waiter is read now: the connection may be gone (a failed connection's owner can
    // replace it before every waiting call has resumed).
    if (!w.body) co_return w.error;
    co_return std::move(*w.body);
}

result<void> connection::send_only(kafka::api_key key, int16_t version, iobuf body) {
    if (_error) return _error;
    enqueue(frame_request(key, version, _next_correlation++, std::move(body)));
    return {};
}

void connection::complete(waiter& w, std::optional<iobuf> body, std::error_code ec) {
    w.body = std::move(body);
    if (!w.body) w.error = ec ? ec : _error;
    w.done = true;
    if (w.handle) reactor::local().schedule(w.handle);
}

void connection::fail(std::error_code ec) {
    if (!_error) _error = ec;
    for (waiter* w : _waiting) complete(*w, std::nullopt);
    _waiting.clear();
    _out.clear();
    // Wakes the reader (and a writer blocked on a full socket).
    ::shutdown(_fd, SHUT_RDWR);
}

task<void> connection::write_loop() {
    auto hold = _tasks.hold();
    if (!hold) co_return;
    while (!_out.empty() && !_error) {
        iobuf batch;
        for (iobuf& b : _out) batch.append(std::move(b));
        _out.clear();
        size_t pos = 0;
        while (pos < batch.size() && !_error) {
            std::vector<iovec> iov;
            size_t covered = batch.to_iovecs(pos, batch.size() - pos, iov, max_iov_per_send);
            msghdr msg{};
            msg.msg_iov = iov.data();
            msg.msg_iovlen = iov.size();
            int32_t sent = co_await io::sendmsg(_fd, &msg);
            if (sent <= 0) {
                fail(client_errc::connection_closed);
                break;
            }
            pos += std::min(covered, static_cast<size_t>(sent));
        }
    }
    _writing = false;
}

task<bool> connection::receive_into(iobuf& buf, size_t min_bytes) {
    auto reserved = buf.reserve(std::max(min_bytes, read_ahead_bytes));
    std::array<iovec, 2> iov{};
    size_t count = 0;
    for (const iovec& v : reserved) {
        if (count == iov.size()) break;
        iov[count++] = v;
    }
    msghdr msg{};
    msg.msg_iov = iov.data();
    msg.msg_iovlen = count;
    int32_t got = co_await io::recvmsg(_fd, &msg);
    if (got > 0) {
        buf.commit(static_cast<size_t>(got));
        co_return true;
    }
    buf.commit(0);
    co_return false;
}

task<void> connection::read_loop() {
    auto hold = _tasks.hold();
    iobuf in;
    while (hold && !_error) {
        if (in.size() < 4) {
            if (!co_await receive_into(in, 4 - in.size())) break;
            continue;
        }
        uint32_t size = frame_size(in);
        if (size < 4 || size > max_response_bytes) {
            fail(client_errc::malformed_response);
            break;
        }
        in.trim_front(4);
        if (in.size() < size) {
            // Receive the rest of the frame into one chunk of its size.
            iobuf fresh;
            auto room = fresh.reserve(size);
            WHARF_ASSERT(room.size() == 1, "a fresh reservation is one chunk");
            size_t have = in.size();
            in.copy_to(0, room[0].iov_base, have);
            fresh.commit(have);
            in = std::move(fresh);
            bool ok = true;
            while (ok && in.size() < size) ok = co_await receive_into(in, size - in.size());
            if (!ok) break;
        }
        iobuf frame = in.share(0, size);
        in.trim_front(size);
        if (_waiting.empty()) {
            fail(client_errc::malformed_response);
            break;
        }
        // The header is read here, once: its version follows from the oldest call's request,
        // and its correlation id must be that call's (Kafka answers in order).
        waiter* w = _waiting.front();
        kafka::response_header header;
        size_t header_bytes = 0;
        bool header_ok = false;
        {
            kafka::protocol_reader r(frame);
            header_ok = kafka::decode_response_header(r, w->key, w->version, header);
            header_bytes = r.position();
        }
        if (header.correlation_id != w->correlation_id) {
            fail(client_errc::malformed_response);
            break;
        }
        _waiting.pop_front();
        if (!header_ok) {
            // The frame ends where its size says, so only this call fails.
            complete(*w, std::nullopt, client_errc::malformed_response);
            continue;
        }
        frame.trim_front(header_bytes);
        complete(*w, std::move(frame));
    }
    fail(client_errc::connection_closed);
}

task<void> connection::close() {
    if (_closed) co_return;
    _closed = true;
    fail(client_errc::connection_closed);
    co_await _tasks.close();
}

}  // namespace wharf::kafka::client
