#include "net/http/http_connection.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <exception>
#include <utility>

#include <fmt/format.h>

#include "reactor/io.h"
#include "reactor/logger.h"

namespace wharf::net::http {

using namespace std::chrono_literals;

const http_parser_settings connection::settings = [] {
    http_parser_settings s{};
    s.on_message_begin = &connection::on_message_begin;
    s.on_url = &connection::on_url;
    s.on_headers_complete = &connection::on_headers_complete;
    s.on_body = &connection::on_body;
    s.on_message_complete = &connection::on_message_complete;
    return s;
}();

connection::connection(int fd, std::string peer, connection_context ctx) noexcept
    : _fd(fd), _peer(std::move(peer)), _ctx(ctx) {
    http_parser_init(&_parser, HTTP_REQUEST);
    _parser.data = this;
}

connection::~connection() {
    if (_fd >= 0) ::close(_fd);
}

void connection::close() {
    if (_closing) return;
    _closing = true;
    // Ends a pending recv or send; the socket itself is closed when run() returns.
    if (_fd >= 0) ::shutdown(_fd, SHUT_RDWR);
}

int connection::on_message_begin(http_parser* p) {
    auto* c = static_cast<connection*>(p->data);
    c->_in_request = true;
    return 0;
}

int connection::on_url(http_parser* p, const char* at, size_t len) {
    // Bounded: the URL is part of the head, which is fed at most max_header_bytes in all.
    static_cast<connection*>(p->data)->_url.append(at, len);
    return 0;
}

int connection::on_headers_complete(http_parser* p) {
    auto* c = static_cast<connection*>(p->data);
    c->_headers_done = true;
    if ((p->flags & F_CONTENTLENGTH) != 0 && p->content_length > c->_ctx.cfg.max_body_bytes) {
        c->_refusal = refusal::body_too_large;
        return -1;  // any value but 0, 1 and 2 is an error for http-parser
    }
    return 0;
}

int connection::on_body(http_parser* p, const char*, size_t len) {
    auto* c = static_cast<connection*>(p->data);
    c->_body_bytes += len;
    if (c->_body_bytes > c->_ctx.cfg.max_body_bytes) {
        c->_refusal = refusal::body_too_large;
        return -1;
    }
    return 0;
}

int connection::on_message_complete(http_parser* p) {
    // Stop here: the request is answered before the bytes after it are parsed.
    http_parser_pause(p, 1);
    return 0;
}

void connection::reset_message() {
    _in_request = false;
    _headers_done = false;
    _head_bytes = 0;
    _body_bytes = 0;
    _url.clear();
    _refusal = refusal::none;
}

bool connection::parse() {
    size_t available = _len - _pos;
    // The head may not grow past max_header_bytes: feed no more than what is left of it.
    size_t allowed =
        _headers_done ? available : std::min(available, _ctx.cfg.max_header_bytes - _head_bytes);
    bool head_before = _headers_done;
    size_t parsed = http_parser_execute(&_parser, &settings, _buf.data() + _pos, allowed);
    if (!head_before) _head_bytes += parsed;
    _pos += parsed;
    auto err = HTTP_PARSER_ERRNO(&_parser);
    if (err == HPE_PAUSED) return true;
    if (err != HPE_OK) {
        if (_refusal == refusal::none) _refusal = refusal::malformed;
    } else if (!_headers_done && _head_bytes >= _ctx.cfg.max_header_bytes) {
        _refusal = refusal::header_too_large;
    } else if (parsed < allowed) {
        // The parser stopped without a request or an error (it cannot, short of an upgrade,
        // which completes the request): refuse rather than feed it the same bytes forever.
        _refusal = refusal::malformed;
    }
    return false;
}

std::chrono::nanoseconds connection::receive_timeout() const {
    if (!_in_request && _pos == _len) return _ctx.cfg.idle_timeout;
    auto left = _request_start + _ctx.cfg.request_timeout - steady_now();
    return std::max<std::chrono::nanoseconds>(left, 1ms);
}

task<void> connection::run() {
    while (!_closing) {
        if (_pos == _len) {
            _pos = _len = 0;
            bool idle = !_in_request;
            int32_t n = co_await io::recv_for(_fd, _buf.data(), _buf.size(), receive_timeout());
            if (n <= 0 || _closing) {
                if (n == -ECANCELED && !_closing) {
                    if (idle) {
                        ++_ctx.stats.idle_closes;
                    } else {
                        ++_ctx.stats.timeouts;
                        co_await refuse(408, "the request did not arrive in time");
                    }
                }
                break;
            }
            _len = static_cast<size_t>(n);
            if (idle) _request_start = steady_now();
        }
        if (parse()) {
            bool keep = co_await answer();
            if (!keep) break;
            reset_message();
            http_parser_pause(&_parser, 0);
            if (_pos < _len) _request_start = steady_now();
            continue;
        }
        if (_refusal != refusal::none) {
            ++_ctx.stats.bad_requests;
            // Named before the co_await (GCC 12 destroys temporaries in its operands twice).
            std::string why = refusal_reason();
            co_await refuse(400, why);
            break;
        }
    }
    if (_refused && !_closing) co_await linger();
    if (_fd >= 0) co_await io::close(std::exchange(_fd, -1));
}

task<void> connection::linger() {
    // Closing a socket with unread bytes resets the connection, and a reset can destroy the
    // refusal before the client reads it: end our side, then read and drop what the client still
    // sends until it closes, for a bounded time and number of bytes.
    ::shutdown(_fd, SHUT_WR);
    auto deadline = steady_now() + linger_time;
    size_t drained = 0;
    while (drained < linger_max_bytes && !_closing) {
        auto left = deadline - steady_now();
        if (left <= std::chrono::nanoseconds(0)) break;
        int32_t n = co_await io::recv_for(_fd, _buf.data(), _buf.size(), left);
        if (n <= 0) break;
        drained += static_cast<size_t>(n);
    }
}

std::string connection::refusal_reason() const {
    switch (_refusal) {
        case refusal::header_too_large:
            return fmt::format("request line and header fields exceed {} bytes",
                               _ctx.cfg.max_header_bytes);
        case refusal::body_too_large:
            return fmt::format("request body exceeds {} bytes", _ctx.cfg.max_body_bytes);
        case refusal::malformed:
        case refusal::none:
            break;
    }
    return fmt::format("malformed request: {}",
                       http_errno_description(HTTP_PARSER_ERRNO(&_parser)));
}

task<void> connection::refuse(int status, std::string_view why) {
    _refused = true;
    shard_logger().debug("http: {} to {}: {}", status, _peer, why);
    response r = response::text(status, fmt::format("{}\n", why));
    co_await send_response(r, false, false);
}

task<bool> connection::answer() {
    request req;
    req.keep_alive = http_should_keep_alive(&_parser) != 0 && _parser.upgrade == 0;
    auto m = static_cast<http_method>(_parser.method);
    req.verb = m == HTTP_GET    ? method::get
               : m == HTTP_HEAD ? method::head
               : m == HTTP_PUT  ? method::put
               : m == HTTP_POST ? method::post
                                : method::other;
    ++_ctx.stats.requests;
    http_parser_url u;
    http_parser_url_init(&u);
    response resp;
    if (http_parser_parse_url(_url.data(), _url.size(), 0, &u) != 0 ||
        (u.field_set & (1 << UF_PATH)) == 0) {
        ++_ctx.stats.bad_requests;
        resp = response::text(400, "malformed request target\n");
        req.keep_alive = false;
    } else {
        req.path = _url.substr(u.field_data[UF_PATH].off, u.field_data[UF_PATH].len);
        if ((u.field_set & (1 << UF_QUERY)) != 0) {
            req.query = _url.substr(u.field_data[UF_QUERY].off, u.field_data[UF_QUERY].len);
        }
        if (req.verb == method::other) {
            resp = allowed_methods(req.path).empty()
                       ? response::text(404, fmt::format("no such path: {}\n", req.path))
                       : response::text(405, "only GET, HEAD, PUT and POST are served\n");
        } else {
            resp = co_await route(req);
        }
        if (resp.status == 405) resp.allow = allowed_methods(req.path);
    }
    bool sent = co_await send_response(resp, req.verb == method::head, req.keep_alive);
    co_return sent&& req.keep_alive;
}

namespace {

// The handler of the longest prefix in `table` that starts `path`, or null.
const handler* longest_prefix(const std::map<std::string, handler, std::less<>>& table,
                              std::string_view path) {
    const handler* h = nullptr;
    size_t matched = 0;
    for (const auto& [prefix, action] : table) {
        if (path.starts_with(prefix) && prefix.size() > matched) {
            h = &action;
            matched = prefix.size();
        }
    }
    return h;
}

}  // namespace

std::string connection::allowed_methods(std::string_view path) const {
    std::string out;
    auto add = [&out](std::string_view m) {
        if (!out.empty()) out += ", ";
        out += m;
    };
    if (_ctx.routes.find(path) != _ctx.routes.end() ||
        longest_prefix(_ctx.get_routes, path) != nullptr) {
        add("GET");
        add("HEAD");
    }
    if (longest_prefix(_ctx.put_routes, path) != nullptr) add("PUT");
    if (longest_prefix(_ctx.post_routes, path) != nullptr) add("POST");
    return out;
}

task<response> connection::route(const request& req) {
    const handler* h = nullptr;
    if (req.verb == method::put || req.verb == method::post) {
        h = longest_prefix(req.verb == method::put ? _ctx.put_routes : _ctx.post_routes, req.path);
    } else if (auto it = _ctx.routes.find(req.path); it != _ctx.routes.end()) {
        h = &it->second;
    } else {
        h = longest_prefix(_ctx.get_routes, req.path);
    }
    if (h == nullptr) {
        if (allowed_methods(req.path).empty()) {
            co_return response::text(404, fmt::format("no such path: {}\n", req.path));
        }
        std::string_view verb = req.verb == method::put    ? "PUT"
                                : req.verb == method::post ? "POST"
                                : req.verb == method::head ? "HEAD"
                                                           : "GET";
        co_return response::text(405, fmt::format("{} takes no {}\n", req.path, verb));
    }
    bool failed = false;
    response resp;
    try {
        resp = co_await (*h)(req);
    } catch (const std::exception& e) {
        failed = true;
        shard_logger().error("http: route {} failed: {}", req.path, e.what());
    } catch (...) {
        failed = true;
        shard_logger().error("http: route {} failed", req.path);
    }
    if (failed) {
        ++_ctx.stats.handler_errors;
        co_return response::text(500, "internal error\n");
    }
    co_return resp;
}

task<bool> connection::send_response(const response& resp, bool head_only, bool keep_alive) {
    if (resp.status >= 200 && resp.status < 300) ++_ctx.stats.responses_2xx;
    if (resp.status >= 400 && resp.status < 500) ++_ctx.stats.responses_4xx;
    if (resp.status >= 500) ++_ctx.stats.responses_5xx;
    std::string out = fmt::format(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n"
        "Cache-Control: no-store\r\n",
        resp.status, reason_phrase(resp.status), resp.content_type, resp.body.size());
    if (resp.status == 405) out += fmt::format("Allow: {}\r\n", resp.allow);
    out += keep_alive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n";
    // Head and body leave in one sendmsg: no copy of the body (/metrics is large), and no
    // write-write-read pattern for Nagle and delayed ACKs to stall.
    std::array<iovec, 2> iov{};
    iov[0] = {.iov_base = out.data(), .iov_len = out.size()};
    size_t count = 1;
    if (!head_only && !resp.body.empty()) {
        // sendmsg only reads the body; iovec has no const pointer.
        iov[1] = {.iov_base = const_cast<char*>(resp.body.data()), .iov_len = resp.body.size()};
        count = 2;
    }
    co_return co_await send_all(std::span<iovec>(iov.data(), count));
}

task<bool> connection::send_all(std::span<iovec> iov) {
    size_t i = 0;
    while (i < iov.size() && !_closing) {
        msghdr msg{};
        msg.msg_iov = &iov[i];
        msg.msg_iovlen = iov.size() - i;
        // Named before the co_await (GCC 12 destroys temporaries in its operands twice).
        auto send_op = io::sendmsg_for(_fd, &msg, _ctx.cfg.send_timeout);
        int32_t n = co_await send_op;
        if (n <= 0) co_return false;
        // Skip what went out; a short send continues from the middle of an iovec.
        auto left = static_cast<size_t>(n);
        while (i < iov.size() && left >= iov[i].iov_len) left -= iov[i++].iov_len;
        if (left > 0) {
            iov[i].iov_base = static_cast<char*>(iov[i].iov_base) + left;
            iov[i].iov_len -= left;
        }
    }
    co_return i == iov.size();
}

}  // namespace wharf::net::http
