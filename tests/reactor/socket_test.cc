// Socket operations through io_uring on loopback: accept, connect, send, sendmsg with iovecs
// straight out of an iobuf, recvmsg straight into one, and operations bounded by link timeouts.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>

#include "reactor/io.h"
#include "reactor/iobuf.h"
#include "reactor/smp.h"
#include "reactor/spawn.h"
#include "reactor/when_all.h"

namespace wharf {
namespace {

using namespace std::chrono_literals;

// A listening socket on 127.0.0.1 with a kernel-chosen free port (set-up only, so blocking
// calls are fine here).
struct listener {
    int fd = -1;
    sockaddr_in addr{};
    listener() {
        fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        addr.sin_port = 0;
        ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
        ::listen(fd, 16);
        socklen_t len = sizeof(addr);
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    }
    ~listener() { ::close(fd); }
};

task<int> connect_to(const sockaddr_in& addr) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int rc = co_await io::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
    EXPECT_EQ(rc, 0);
    co_return fd;
}

// Reads exactly n bytes into an iobuf, receiving straight into its reserved space.
task<iobuf> recv_exactly(int fd, size_t n) {
    iobuf buf;
    while (buf.size() < n) {
        auto iov = buf.reserve(n - buf.size());
        msghdr msg{};
        msg.msg_iov = const_cast<iovec*>(iov.data());
        msg.msg_iovlen = iov.size();
        int32_t got = co_await io::recvmsg(fd, &msg);
        if (got <= 0) {
            buf.commit(0);
            break;
        }
        buf.commit(static_cast<size_t>(got) < n - buf.size() ? static_cast<size_t>(got)
                                                             : n - buf.size());
    }
    co_return buf;
}

TEST(sockets, accept_connect_send_and_scatter_gather) {
    listener l;
    auto rc = smp::run(smp_config{.shards = 1}, [&]() -> task<int> {
        auto accept_one = [&]() -> task<int> {
            int fd = co_await io::accept(l.fd, nullptr, nullptr);
            EXPECT_GE(fd, 0);
            co_return fd;
        };
        auto [server, client] = co_await when_all(accept_one(), connect_to(l.addr));
        // A buffer of several fragments goes out with one sendmsg of its iovecs.
        iobuf out;
        std::string expected;
        for (int i = 0; i < 5; ++i) {
            iobuf piece = iobuf::copy_of(std::string(30'000 + i, char('a' + i)).data(), 30'000 + i);
            expected += std::string(30'000 + i, char('a' + i));
            out.append(std::move(piece));
        }
        EXPECT_GT(out.fragment_count(), 1u);
        std::vector<iovec> iov;
        out.to_iovecs(0, out.size(), iov);
        msghdr msg{};
        msg.msg_iov = iov.data();
        msg.msg_iovlen = iov.size();
        auto send_all = [&]() -> task<int32_t> { co_return co_await io::sendmsg(client, &msg); };
        auto [sent, in] = co_await when_all(send_all(), recv_exactly(server, expected.size()));
        EXPECT_EQ(sent, static_cast<int32_t>(expected.size()));
        std::string got(in.size(), '\0');
        in.copy_to(0, got.data(), got.size());
        EXPECT_EQ(got, expected);
        // Plain send and recv the other way.
        std::string reply = "pong";
        EXPECT_EQ(co_await io::send(server, reply.data(), reply.size()), 4);
        char back[4];
        EXPECT_EQ(co_await io::recv(client, back, sizeof(back), MSG_WAITALL), 4);
        EXPECT_EQ(std::string(back, 4), reply);
        // Closing the client is seen as end of stream by the server.
        EXPECT_EQ(co_await io::close(client), 0);
        EXPECT_EQ(co_await io::recv(server, back, sizeof(back)), 0);
        EXPECT_EQ(co_await io::close(server), 0);
        co_return 0;
    });
    ASSERT_TRUE(rc);
}

TEST(sockets, recv_from_a_silent_peer_times_out) {
    listener l;
    auto rc = smp::run(smp_config{.shards = 1}, [&]() -> task<int> {
        auto accept_one = [&]() -> task<int> { co_return co_await io::accept(l.fd, nullptr, nullptr); };
        auto [server, client] = co_await when_all(accept_one(), connect_to(l.addr));
        char b;
        auto t0 = std::chrono::steady_clock::now();
        int32_t res = co_await io::recv_for(server, &b, 1, 30ms);
        EXPECT_EQ(res, -ECANCELED);
        EXPECT_GE(std::chrono::steady_clock::now() - t0, 30ms);
        // Data that arrives in time is received normally.
        EXPECT_EQ(co_await io::send(client, "x", 1), 1);
        EXPECT_EQ(co_await io::recv_for(server, &b, 1, 5s), 1);
        ::close(server);
        ::close(client);
        co_return 0;
    });
    ASSERT_TRUE(rc);
}

TEST(sockets, shutdown_cancels_a_pending_accept) {
    listener l;
    int32_t accept_result = 1;
    auto rc = smp::run(smp_config{.shards = 1}, [&]() -> task<int> {
        spawn([](int fd, int32_t& out) -> task<void> {
            out = co_await io::accept(fd, nullptr, nullptr);
        }(l.fd, accept_result), "pending accept");
        co_return 0;
    });
    ASSERT_TRUE(rc);
    EXPECT_EQ(accept_result, -ECANCELED);
}

}  // namespace
}  // namespace wharf
