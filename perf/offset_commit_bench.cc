// offset_commit_bench: OffsetCommit throughput from many concurrent consumer groups (issue 4's
// figure: commits/s from 100 groups against one broker). Each group has its own connection and
// commits offsets of one partition as a "simple" consumer (generation -1, no member id, which
// Kafka accepts for a group without members), keeping --depth commits in flight. Wharf's own
// codec builds the requests (OffsetCommit v7); it speaks plain Kafka, so it measures any broker.
//
//   offset_commit_bench --brokers 127.0.0.1:9092 --groups 100 --duration 10 --depth 4

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "net/kafka/header.h"
#include "net/kafka/messages.h"
#include "net/kafka/protocol.h"

namespace {

using namespace wharf;
using namespace wharf::kafka;
using clock_type = std::chrono::steady_clock;

constexpr int16_t commit_version = 7;  // the newest non-flexible version: a v0 response header

struct connection {
    int fd = -1;
    std::string group;
    int inflight = 0;
    int64_t next_offset = 0;
    std::string in;
};

std::string frame(const request_header& h, auto const& body, int16_t version) {
    protocol_writer w;
    encode_request_header(w, h);
    body.encode(w, version);
    iobuf out = w.release();
    std::string bytes(4 + out.size(), '\0');
    uint32_t n = htonl(static_cast<uint32_t>(out.size()));
    std::memcpy(bytes.data(), &n, 4);
    out.copy_to(0, bytes.data() + 4, out.size());
    return bytes;
}

bool send_all(int fd, const std::string& b) {
    size_t off = 0;
    while (off < b.size()) {
        ssize_t n = ::send(fd, b.data() + off, b.size() - off, MSG_NOSIGNAL);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        if (n <= 0) return false;
        off += size_t(n);
    }
    return true;
}

int connect_to(const std::string& host, uint16_t port) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    ::inet_pton(AF_INET, host.c_str(), &a.sin_addr);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        ::close(fd);
        return -1;
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

// Blocks until one whole response arrives on fd (set-up only).
std::string read_one(int fd) {
    std::string buf;
    char tmp[65536];
    while (true) {
        if (buf.size() >= 4) {
            uint32_t n;
            std::memcpy(&n, buf.data(), 4);
            n = ntohl(n);
            if (buf.size() >= 4 + n) return buf.substr(4, n);
        }
        ssize_t r = ::recv(fd, tmp, sizeof tmp, 0);
        if (r <= 0) return {};
        buf.append(tmp, size_t(r));
    }
}

std::string commit_frame(connection& c, const std::string& topic, int32_t correlation) {
    offset_commit_request req;
    req.group_id = c.group;
    req.generation_id_or_member_epoch = -1;
    req.member_id = "";
    auto& t = req.topics.emplace_back();
    t.name = topic;
    auto& p = t.partitions.emplace_back();
    p.partition_index = 0;
    p.committed_offset = c.next_offset++;
    p.committed_metadata = "";
    request_header h{api_key::offset_commit, commit_version, correlation, "offset-commit-bench"};
    return frame(h, req, commit_version);
}

}  // namespace

int main(int argc, char** argv) {
    std::string brokers = "127.0.0.1:9092", topic = "offset-commit-bench";
    int groups = 100, depth = 4;
    double duration_s = 10;
    CLI::App app{"OffsetCommit throughput from many consumer groups"};
    app.add_option("--brokers", brokers, "HOST:PORT of one broker");
    app.add_option("--groups", groups, "Concurrent groups (one connection each)");
    app.add_option("--depth", depth, "Commits in flight per group");
    app.add_option("--duration", duration_s, "Seconds to measure");
    app.add_option("--topic", topic, "Topic whose partition 0 offsets are committed");
    CLI11_PARSE(app, argc, argv);
    auto colon = brokers.rfind(':');
    std::string host = brokers.substr(0, colon);
    auto port = static_cast<uint16_t>(std::stoi(brokers.substr(colon + 1)));

    // The topic must exist for commits to be accepted: Metadata auto-creates it.
    int setup = connect_to(host, port);
    if (setup < 0) {
        fmt::print(stderr, "cannot connect to {}\n", brokers);
        return 1;
    }
    metadata_request md;
    md.topics.emplace().emplace_back().name = topic;
    md.allow_auto_topic_creation = true;
    send_all(setup, frame(request_header{api_key::metadata, 4, 1, "offset-commit-bench"}, md, 4));
    read_one(setup);
    ::close(setup);

    std::vector<connection> conns(static_cast<size_t>(groups));
    for (int i = 0; i < groups; ++i) {
        conns[size_t(i)].fd = connect_to(host, port);
        conns[size_t(i)].group = fmt::format("offset-commit-bench-{}", i);
        if (conns[size_t(i)].fd < 0) {
            fmt::print(stderr, "cannot connect to {}\n", brokers);
            return 1;
        }
    }
    uint64_t ok = 0, failed = 0;
    int32_t correlation = 1;
    auto start = clock_type::now();
    auto end = start + std::chrono::duration_cast<clock_type::duration>(
                           std::chrono::duration<double>(duration_s));
    std::vector<pollfd> fds(conns.size());
    char buf[65536];
    while (clock_type::now() < end) {
        for (size_t i = 0; i < conns.size(); ++i) {
            auto& c = conns[i];
            std::string out;
            while (c.inflight < depth) {
                out += commit_frame(c, topic, correlation++);
                ++c.inflight;
            }
            if (!out.empty() && !send_all(c.fd, out)) {
                fmt::print(stderr, "connection of {} closed\n", c.group);
                return 1;
            }
            fds[i] = pollfd{c.fd, POLLIN, 0};
        }
        if (::poll(fds.data(), fds.size(), 100) <= 0) continue;
        for (size_t i = 0; i < conns.size(); ++i) {
            if (!(fds[i].revents & POLLIN)) continue;
            auto& c = conns[i];
            ssize_t r = ::recv(c.fd, buf, sizeof buf, 0);
            if (r <= 0) {
                fmt::print(stderr, "connection of {} closed\n", c.group);
                return 1;
            }
            c.in.append(buf, size_t(r));
            while (c.in.size() >= 4) {
                uint32_t n;
                std::memcpy(&n, c.in.data(), 4);
                n = ntohl(n);
                if (c.in.size() < 4 + n) break;
                iobuf body;
                body.append(c.in.data() + 4, n);
                c.in.erase(0, 4 + n);
                --c.inflight;
                protocol_reader reader(body);
                reader.read_int32();  // correlation id (response header v0)
                offset_commit_response resp;
                bool good = resp.decode(reader, commit_version) && !resp.topics.empty() &&
                            !resp.topics[0].partitions.empty() &&
                            resp.topics[0].partitions[0].error_code == 0;
                (good ? ok : failed)++;
            }
        }
    }
    double secs = std::chrono::duration<double>(clock_type::now() - start).count();
    fmt::print("{} groups, {} in flight each: {:.0f} commits/s ({} ok, {} failed in {:.1f} s)\n",
               groups, depth, double(ok) / secs, ok, failed, secs);
    for (auto& c : conns) ::close(c.fd);
    return failed == 0 ? 0 : 1;
}
