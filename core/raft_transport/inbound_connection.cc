#include "core/raft_transport/inbound_connection.h"

#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <utility>

#include "raft/message_codec.h"
#include "reactor/io.h"
#include "reactor/logger.h"

namespace wharf::raft_rpc {

namespace {

std::string bad_frame(std::error_code ec) {
    return fmt::format("a bad frame ({})", ec.message());
}

}  // namespace

inbound_connection::inbound_connection(owned_fd fd, inbound_peer peer, uint64_t id,
                                       inbound_context ctx)
    : _fd(std::move(fd)),
      _peer(std::move(peer)),
      _id(id),
      _ctx(ctx),
      _decoder(_peer.version, ctx.cfg.max_frame_bytes),
      _scratch(std::make_unique<std::byte[]>(scratch_bytes)) {}

void inbound_connection::close() noexcept {
    if (_closing) return;
    _closing = true;
    _fd.shutdown();
}

task<void> inbound_connection::run() {
    while (!_closing) {
        bool received = co_await receive();
        if (!received) break;
        if (!dispatch_frames()) break;
    }
    close();
    shard_logger().debug("rpc connection {} from node {} at {} closed", _id, _peer.node,
                         _peer.address);
    int fd = _fd.release();
    co_await io::close(fd);
}

task<bool> inbound_connection::receive() {
    size_t need = _decoder.bytes_needed();
    if (need > scratch_bytes) co_return co_await receive_frame_rest(need);
    int32_t got = co_await io::recv(_fd.get(), _scratch.get(), scratch_bytes);
    if (got <= 0) co_return on_receive_end(got);
    _ctx.stats.bytes_in += static_cast<uint64_t>(got);
    status fed = _decoder.feed(std::span<const std::byte>(_scratch.get(), size_t(got)));
    if (!fed) co_return fail(_ctx.stats.closed_bad_frame, bad_frame(fed.error()));
    co_return true;
}

task<bool> inbound_connection::receive_frame_rest(size_t need) {
    // Memory is reserved a step at a time, as bytes arrive, so that a header announcing a large
    // frame costs nothing until its payload comes; short receives fill the step's chunk before
    // the next is taken. Reading no further than the frame keeps the next frame's header for
    // the scratch path.
    iobuf rest;
    while (rest.size() < need) {
        size_t left = need - rest.size();
        auto room = rest.reserve(std::min(left, reserve_step_bytes));
        std::array<iovec, 2> iov{};
        size_t count = 0;
        for (const iovec& v : room) {
            if (left == 0) break;
            size_t len = std::min(v.iov_len, left);
            iov[count++] = iovec{v.iov_base, len};
            left -= len;
        }
        msghdr msg{};
        msg.msg_iov = iov.data();
        msg.msg_iovlen = count;
        int32_t got = co_await io::recvmsg(_fd.get(), &msg);
        if (got <= 0) {
            rest.commit(0);
            co_return on_receive_end(got);
        }
        rest.commit(static_cast<size_t>(got));
        _ctx.stats.bytes_in += static_cast<uint64_t>(got);
    }
    status fed = _decoder.feed(std::move(rest));
    if (!fed) co_return fail(_ctx.stats.closed_bad_frame, bad_frame(fed.error()));
    co_return true;
}

bool inbound_connection::on_receive_end(int32_t res) {
    if (res == -EINTR) return !_closing;
    if (!_closing) {
        if (res == 0) {
            shard_logger().debug("rpc connection {} from node {}: closed by the peer", _id,
                                 _peer.node);
        } else {
            shard_logger().info("rpc connection {} from node {} at {}: {}", _id, _peer.node,
                                _peer.address, errno_code(res).message());
        }
    }
    close();
    return false;
}

bool inbound_connection::dispatch_frames() {
    // Bounded by what one receive brought: at most scratch_bytes of small frames, or one frame.
    while (!_closing) {
        auto next = _decoder.next();
        if (!next) return fail(_ctx.stats.closed_bad_frame, bad_frame(next.error()));
        if (!next->has_value()) return true;
        if (!dispatch(std::move(**next))) return false;
    }
    return false;
}

bool inbound_connection::dispatch(rpc::frame f) {
    ++_ctx.stats.frames_in;
    if (f.type == rpc::frame_type::broker_info) {
        // Another node's info is a hello the peer relays (net/rpc/frame.h).
        auto info = rpc::decode_broker_info(f.payload);
        if (!info) {
            return fail(_ctx.stats.closed_bad_message, "a broker info that does not decode");
        }
        if (_ctx.info_handler) _ctx.info_handler(std::move(*info));
        return true;
    }
    if (f.type == rpc::frame_type::group_leaders || f.type == rpc::frame_type::group_members) {
        auto leaders = rpc::decode_group_leaders(f.payload);
        if (!leaders) {
            return fail(_ctx.stats.closed_bad_message,
                        "a group leaders notice that does not decode");
        }
        if (_ctx.leaders_handler) _ctx.leaders_handler(_peer.node, std::move(*leaders));
        return true;
    }
    if (f.type != rpc::frame_type::raft_message) {
        drop(_ctx.stats.dropped_unknown_frame_type, "a frame of an unknown type");
        return true;
    }
    auto m = decode_raft_message(f.payload);
    if (!m) {
        return fail(_ctx.stats.closed_bad_message,
                    fmt::format("a raft message that does not decode ({})", m.error().message()));
    }
    if (m->from != _peer.node) {
        return fail(
            _ctx.stats.closed_wrong_sender,
            fmt::format("a message from node {} on node {}'s connection", m->from, _peer.node));
    }
    if (!_ctx.handler) {
        drop(_ctx.stats.dropped_no_handler, "a raft message before the shard has a handler");
        return true;
    }
    ++_ctx.stats.messages_in;
    _ctx.handler(std::move(*m));
    return true;
}

void inbound_connection::drop(uint64_t& counter, const char* what) {
    ++counter;
    uint64_t skipped = 0;
    if (_ctx.drop_log.allow(&skipped)) {
        shard_logger().warn("rpc connection {} from node {}: dropped {}{}", _id, _peer.node, what,
                            log_limiter::skipped_note(skipped));
    }
}

bool inbound_connection::fail(uint64_t& counter, const std::string& why) {
    ++counter;
    shard_logger().error("rpc connection {} from node {} at {} sent {}; closing it", _id,
                         _peer.node, _peer.address, why);
    close();
    return false;
}

}  // namespace wharf::raft_rpc
