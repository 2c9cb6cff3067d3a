// Crash recovery with a real process: log_crash_child appends in a loop and reports each durable
// append; the test kills it with SIGKILL at random moments, reopens the log and checks that every
// reported batch reads back byte-identical and that nothing unreported is half-visible (every
// batch present is whole and valid, offsets gap-free per partition).

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <random>
#include <sstream>

#include <xxhash.h>

#include "log/record_batch.h"
#include "log/shard_log.h"
#include "tests/log/shardlog_test_util.h"

namespace wharf {
namespace {

using namespace wharf::test;

struct reported_batch {
    int64_t last;
    uint64_t hash;
};
using reports = std::map<uint32_t, std::map<int64_t, reported_batch>>;

constexpr uint32_t partitions = 16;

// Runs one child until it has reported `wait_lines` appends, kills it, and collects every line
// it wrote (those written before the kill are still in the pipe). Returns false on a failure.
bool run_child_round(const std::string& dir, uint64_t seed, int wait_lines, reports& out,
                     int& lines_seen) {
    int fds[2];
    if (::pipe(fds) != 0) return false;
    pid_t pid = ::fork();
    if (pid == 0) {
        ::dup2(fds[1], 1);
        ::close(fds[0]);
        ::close(fds[1]);
        std::string exe = std::string(WHARF_TEST_BINARY_DIR) + "/log_crash_child";
        std::string s = std::to_string(seed);
        std::string n = std::to_string(partitions);
        ::execl(exe.c_str(), exe.c_str(), dir.c_str(), s.c_str(), n.c_str(), nullptr);
        ::_exit(127);
    }
    ::close(fds[1]);
    bool killed = false;
    if (wait_lines == 0) {
        ::kill(pid, SIGKILL);  // possibly in the middle of recovery
        killed = true;
    }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    std::string pending;
    char buf[4096];
    int lines = 0;
    for (;;) {
        if (std::chrono::steady_clock::now() > deadline) {
            ADD_FAILURE() << "child produced no output for 60 s";
            ::kill(pid, SIGKILL);
            killed = true;
            deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        }
        pollfd pfd{fds[0], POLLIN, 0};
        if (::poll(&pfd, 1, 1000) <= 0) continue;
        ssize_t n = ::read(fds[0], buf, sizeof(buf));
        if (n <= 0) break;  // EOF: the child is gone
        pending.append(buf, static_cast<size_t>(n));
        size_t nl;
        while ((nl = pending.find('\n')) != std::string::npos) {
            std::istringstream line(pending.substr(0, nl));
            pending.erase(0, nl + 1);
            uint32_t p;
            long long base, last;
            std::string hash;
            line >> p >> base >> last >> hash;
            out[p][base] = {last, std::stoull(hash, nullptr, 16)};
            ++lines;
            if (!killed && lines >= wait_lines) {
                ::kill(pid, SIGKILL);
                killed = true;
            }
        }
    }
    ::close(fds[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    lines_seen = lines;
    EXPECT_TRUE(pending.empty()) << "half a line: " << pending;
    if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)) {
        ADD_FAILURE() << "child ended on its own, status " << status;
        return false;
    }
    return true;
}

// Opens the log and checks it against the reports.
void verify(const std::string& dir, const reports& reported, uint64_t& batches_seen) {
    int rc = run_reactor([&]() -> task<int> {
        std::string detail;
        auto cfg = test_config(dir);
        auto opened = co_await shard_log::open(cfg, &detail);
        if (!opened) {
            ADD_FAILURE() << "recovery failed: " << opened.error().message() << ": " << detail;
            co_return 1;
        }
        shard_log& log = **opened;
        batches_seen = 0;
        for (uint32_t p = 0; p < partitions; ++p) {
            log.configure_partition(partition_id(p), {});
            auto it = reported.find(p);
            size_t found = 0;
            int64_t next = 0;
            auto end = log.end_offset(partition_id(p));
            CO_ASSERT_OK(end);
            while (next < end->value()) {
                auto r = co_await log.read(partition_id(p), kafka_offset(next), 64 << 10);
                CO_ASSERT_OK(r);
                auto bytes = to_bytes(*r);
                for (const auto& b : split_batches(bytes)) {
                    auto h = read_batch_header(b);
                    CO_ASSERT_OK(h);
                    CO_ASSERT(batch_crc_matches(b));
                    // Gap-free: each batch starts where the previous ended.
                    CO_ASSERT(h->base_offset.value() == next);
                    next = h->last_offset().value() + 1;
                    ++batches_seen;
                    if (it == reported.end()) continue;
                    auto rep = it->second.find(h->base_offset.value());
                    if (rep == it->second.end()) continue;  // durable but never reported
                    EXPECT_EQ(rep->second.last, h->last_offset().value());
                    EXPECT_EQ(rep->second.hash, XXH3_64bits(b.data(), b.size()))
                        << "partition " << p << " offset " << h->base_offset.value();
                    ++found;
                }
            }
            EXPECT_EQ(next, end->value());
            if (it != reported.end()) {
                EXPECT_EQ(found, it->second.size()) << "reported batches of partition " << p
                                                    << " are missing";
            }
        }
        CO_ASSERT_OK(co_await log.close());
        co_return ::testing::Test::HasFailure() ? 1 : 0;
    });
    EXPECT_EQ(rc, 0);
}

TEST(crash, sigkill_at_random_moments_loses_nothing_acknowledged) {
    uint64_t seed = 0xc0ffee;
    if (const char* s = std::getenv("WHARF_CRASH_SEED")) seed = std::strtoull(s, nullptr, 0);
    std::printf("crash test seed %llu (set WHARF_CRASH_SEED to replay)\n",
                static_cast<unsigned long long>(seed));
    std::mt19937_64 rng(seed);
    temp_dir dir;
    reports reported;
    uint64_t total_lines = 0;
    for (int round = 0; round < 24; ++round) {
        int wait_lines = round % 8 == 3 ? 0 : static_cast<int>(rng() % 150);
        int lines = 0;
        SCOPED_TRACE(::testing::Message() << "round " << round << ", kill after " << wait_lines);
        ASSERT_TRUE(run_child_round(dir.path(), rng(), wait_lines, reported, lines));
        total_lines += static_cast<uint64_t>(lines);
        uint64_t batches = 0;
        verify(dir.path(), reported, batches);
        ASSERT_FALSE(::testing::Test::HasFailure());
        EXPECT_GE(batches, total_lines);
    }
    std::printf("crash test: %llu acknowledged appends checked\n",
                static_cast<unsigned long long>(total_lines));
    EXPECT_GT(total_lines, 500u);
}

}  // namespace
}  // namespace wharf
