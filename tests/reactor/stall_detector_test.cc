// The reactor stall detector: a task that keeps its shard busy (or blocked in a system call)
// past the threshold is reported with the shard, the duration and a backtrace naming the
// function, and counted in reactor_stats::stalls; a busy but well-behaved run, and shards that
// sleep, report nothing. Deduplication and rate limiting are checked on stall_reporter directly.

#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "reactor/reactor.h"
#include "reactor/smp.h"
#include "reactor/stall_detector.h"
#include "reactor/submit_to.h"
#include "reactor/timer.h"

// Outside any anonymous namespace and never inlined: the backtrace must name these frames, and
// dladdr sees only exported symbols (reactor_tests links with -rdynamic).
namespace wharf::stall_test {

// How long a test waits for the detector's report before giving up on it: far more than it takes,
// even on a loaded CI machine.
constexpr std::chrono::seconds report_timeout(10);

// Busy for d of this thread's CPU time (so at least d of wall time): on a loaded host the stall
// is still long enough on the CPU to be reported. Then, given until, busy until it is set (the
// detector has reported) or report_timeout has passed: a slow watchdog still sees the stall.
__attribute__((noinline)) void busy_wait_for_stall_test(std::chrono::milliseconds d,
                                                        const std::atomic<bool>* until = nullptr) {
    auto cpu_now = [] {
        timespec ts{};
        ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
    };
    auto deadline = cpu_now() + d;
    auto give_up = std::chrono::steady_clock::now() + report_timeout;
    auto done = [&] {
        if (cpu_now() < deadline) return false;
        if (until == nullptr || until->load(std::memory_order_acquire)) return true;
        return std::chrono::steady_clock::now() >= give_up;
    };
    while (!done()) {
        // Mostly here, between clock reads: the site then is this function.
        for (int i = 0; i < 10000; ++i) asm volatile("" ::: "memory");
    }
}

__attribute__((noinline)) void blocking_read_for_stall_test(int fd) {
    char c = 0;
    // Restarted after the detector's signal (SA_RESTART), so it still returns the byte.
    [[maybe_unused]] auto n = ::read(fd, &c, 1);
}

// Stalls in a destructor run while an exception unwinds the stack, where the detector must not
// take a backtrace.
struct stall_while_unwinding {
    const std::atomic<bool>* until;
    ~stall_while_unwinding() { busy_wait_for_stall_test(std::chrono::milliseconds(100), until); }
};

__attribute__((noinline)) void unwind_slowly_for_stall_test(const std::atomic<bool>* until) {
    try {
        stall_while_unwinding guard{until};
        throw std::runtime_error("unwinding");
    } catch (const std::runtime_error&) {
    }
}

// Stalls with every signal blocked, as a thread in uninterruptible I/O would, so that the
// detector's signal is taken only after it has given up waiting for it.
__attribute__((noinline)) void stall_with_signals_blocked_for_stall_test(
    const std::atomic<bool>* until) {
    sigset_t all;
    sigset_t old;
    sigfillset(&all);
    ::pthread_sigmask(SIG_BLOCK, &all, &old);
    busy_wait_for_stall_test(std::chrono::milliseconds(100), until);
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

__attribute__((noinline)) int stall_site_probe(int x) {
    return x * 3 + 1;
}

}  // namespace wharf::stall_test

namespace wharf {
namespace {

using namespace std::chrono_literals;
using stall_test::blocking_read_for_stall_test;
using stall_test::busy_wait_for_stall_test;

// Collects the detector's reports for one test.
class report_sink {
public:
    report_sink() {
        stall_detector::set_report_hook([this](const stall_report& r) {
            std::lock_guard lock(_mutex);
            _reports.push_back(r);
            _reported.store(true, std::memory_order_release);
        });
    }
    ~report_sink() { stall_detector::set_report_hook(nullptr); }
    std::vector<stall_report> reports() {
        std::lock_guard lock(_mutex);
        return _reports;
    }
    // Set once a report has arrived.
    const std::atomic<bool>& reported() const { return _reported; }
    // Polls for a report until report_timeout has passed; false if none came.
    bool wait_for_report() const {
        auto deadline = std::chrono::steady_clock::now() + stall_test::report_timeout;
        while (!_reported.load(std::memory_order_acquire)) {
            if (std::chrono::steady_clock::now() >= deadline) return false;
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        return true;
    }

private:
    std::mutex _mutex;
    std::vector<stall_report> _reports;
    std::atomic<bool> _reported{false};
};

bool names_frame(const stall_report& r, const std::string& fn) {
    for (const auto& f : r.frames) {
        if (f.find(fn) != std::string::npos) return true;
    }
    return false;
}

TEST(stall_detector, reports_a_busy_task_with_its_backtrace) {
    report_sink sink;
    uint64_t stalls = 0;
    auto rc = smp::run(smp_config{.shards = 1, .stall_threshold = 20ms}, [&]() -> task<int> {
        co_await sleep_for(5ms);  // let the watchdog see a first turn
        busy_wait_for_stall_test(100ms, &sink.reported());
        stalls = reactor::local().stats().stalls;
        co_return 0;
    });
    ASSERT_TRUE(rc);
    EXPECT_EQ(stalls, 1u);
    auto reports = sink.reports();
    ASSERT_EQ(reports.size(), 1u);
    const auto& r = reports[0];
    EXPECT_EQ(r.shard, 0u);
    EXPECT_GE(r.ran, 20ms);
    EXPECT_GE(r.cpu, 10ms);
    EXPECT_FALSE(r.blocked);
    EXPECT_TRUE(names_frame(r, "wharf::stall_test::busy_wait_for_stall_test")) << r.text;
    // The handler's own frames are cut: the backtrace starts where the shard was interrupted.
    EXPECT_FALSE(names_frame(r, "stall_signal_handler")) << r.text;
    EXPECT_NE(r.text.find("reactor stall on shard 0"), std::string::npos) << r.text;
    EXPECT_NE(r.text.find("busy_wait_for_stall_test"), std::string::npos) << r.text;
}

TEST(stall_detector, reports_a_shard_blocked_in_a_system_call) {
    report_sink sink;
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    // The write ends the stall once it has been reported (or the wait has given up, so that the
    // test fails rather than hangs).
    std::thread writer([&] {
        sink.wait_for_report();
        [[maybe_unused]] auto n = ::write(fds[1], "x", 1);
    });
    uint64_t stalls = 0;
    auto rc = smp::run(smp_config{.shards = 1, .stall_threshold = 20ms}, [&]() -> task<int> {
        co_await sleep_for(5ms);
        blocking_read_for_stall_test(fds[0]);
        stalls = reactor::local().stats().stalls;
        co_return 0;
    });
    writer.join();
    ::close(fds[0]);
    ::close(fds[1]);
    ASSERT_TRUE(rc);
    EXPECT_EQ(stalls, 1u);
    auto reports = sink.reports();
    ASSERT_EQ(reports.size(), 1u);
    EXPECT_TRUE(reports[0].blocked) << reports[0].text;
    EXPECT_TRUE(names_frame(reports[0], "blocking_read_for_stall_test")) << reports[0].text;
}

TEST(stall_detector, counts_a_stall_whose_signal_is_taken_late) {
    report_sink sink;
    uint64_t stalls = 0;
    auto rc = smp::run(smp_config{.shards = 1, .stall_threshold = 20ms}, [&]() -> task<int> {
        co_await sleep_for(5ms);
        stall_test::stall_with_signals_blocked_for_stall_test(&sink.reported());
        stalls = reactor::local().stats().stalls;
        co_return 0;
    });
    ASSERT_TRUE(rc);
    // Reported without a backtrace, and still counted once.
    EXPECT_EQ(stalls, 1u);
    auto reports = sink.reports();
    ASSERT_EQ(reports.size(), 1u);
    EXPECT_TRUE(reports[0].frames.empty()) << reports[0].text;
    EXPECT_EQ(reports[0].missing, stall_report::no_backtrace::signal_not_taken);
    EXPECT_NE(reports[0].text.find("did not take the signal in time"), std::string::npos)
        << reports[0].text;
}

TEST(stall_detector, takes_no_backtrace_while_the_shard_unwinds_an_exception) {
    report_sink sink;
    uint64_t stalls = 0;
    auto rc = smp::run(smp_config{.shards = 1, .stall_threshold = 20ms}, [&]() -> task<int> {
        co_await sleep_for(5ms);
        stall_test::unwind_slowly_for_stall_test(&sink.reported());
        stalls = reactor::local().stats().stalls;
        co_return 0;
    });
    ASSERT_TRUE(rc);
    EXPECT_EQ(stalls, 1u);
    auto reports = sink.reports();
    ASSERT_EQ(reports.size(), 1u);
    EXPECT_TRUE(reports[0].frames.empty()) << reports[0].text;
    EXPECT_EQ(reports[0].missing, stall_report::no_backtrace::unwinding);
    EXPECT_NE(reports[0].text.find("unwinding an exception"), std::string::npos) << reports[0].text;
}

TEST(stall_detector, a_busy_run_without_long_turns_and_sleeping_shards_report_nothing) {
    report_sink sink;
    std::vector<uint64_t> stalls;
    auto rc = smp::run(smp_config{.shards = 2, .stall_threshold = 20ms}, [&]() -> task<int> {
        // Many short turns on both shards, then both idle well past the threshold.
        auto start = std::chrono::steady_clock::now();
        uint64_t sum = 0;
        const shard_id other(1);
        auto one = [] { return 1; };
        auto stalls_here = [] { return reactor::local().stats().stalls; };
        while (std::chrono::steady_clock::now() - start < 200ms) {
            sum += co_await submit_to(other, one);
            busy_wait_for_stall_test(1ms);
            co_await reactor::local().yield();
        }
        EXPECT_GT(sum, 0u);
        co_await sleep_for(100ms);
        stalls.push_back(reactor::local().stats().stalls);
        uint64_t other_stalls = co_await submit_to(other, stalls_here);
        stalls.push_back(other_stalls);
        co_return 0;
    });
    ASSERT_TRUE(rc);
    EXPECT_EQ(stalls, (std::vector<uint64_t>{0, 0}));
    for (const auto& r : sink.reports()) ADD_FAILURE() << "unexpected report: " << r.text;
}

TEST(stall_detector, disabled_when_the_threshold_is_zero) {
    report_sink sink;
    uint64_t stalls = 1;
    auto rc = smp::run(smp_config{.shards = 1}, [&]() -> task<int> {
        busy_wait_for_stall_test(60ms);
        stalls = reactor::local().stats().stalls;
        co_return 0;
    });
    ASSERT_TRUE(rc);
    EXPECT_EQ(stalls, 0u);
    EXPECT_TRUE(sink.reports().empty());
}

TEST(stall_reporter, reports_each_site_once_and_rate_limits_per_shard) {
    using clock = stall_reporter::clock;
    stall_reporter rep(2, 10s, 3);
    auto t0 = clock::time_point{} + 1h;
    auto d = rep.on_stall(0, 111, t0);
    EXPECT_TRUE(d.report);
    EXPECT_EQ(d.suppressed, 0u);
    // The same site again, on any shard and at any time: never reported twice.
    EXPECT_FALSE(rep.on_stall(0, 111, t0 + 1h).report);
    EXPECT_FALSE(rep.on_stall(1, 111, t0).report);
    // A new site within 10 s of shard 0's last report is held back; other shards are not.
    EXPECT_FALSE(rep.on_stall(0, 222, t0 + 5s).report);
    EXPECT_FALSE(rep.on_stall(0, 333, t0 + 9s).report);
    EXPECT_TRUE(rep.on_stall(1, 444, t0 + 9s).report);
    // After the interval it is reported, with the count of those held back.
    d = rep.on_stall(0, 222, t0 + 11s);
    EXPECT_TRUE(d.report);
    EXPECT_EQ(d.suppressed, 2u);
    // Past max_sites (3: 111, 444, 222), new sites are reported but no longer remembered.
    EXPECT_TRUE(rep.on_stall(0, 555, t0 + 30s).report);
    EXPECT_TRUE(rep.on_stall(0, 555, t0 + 50s).report);
}

TEST(stall_reporter, stalls_without_a_backtrace_are_only_rate_limited) {
    using clock = stall_reporter::clock;
    stall_reporter rep(2, 10s);
    auto t0 = clock::time_point{} + 1h;
    // Site 0 (no backtrace captured) names no place: it is never remembered as reported.
    EXPECT_TRUE(rep.on_stall(0, 0, t0).report);
    // Within shard 0's interval it is held back and counted, like any new site.
    EXPECT_FALSE(rep.on_stall(0, 0, t0 + 5s).report);
    // Other shards and later stalls of shard 0 still report it.
    EXPECT_TRUE(rep.on_stall(1, 0, t0 + 5s).report);
    auto d = rep.on_stall(0, 0, t0 + 11s);
    EXPECT_TRUE(d.report);
    EXPECT_EQ(d.suppressed, 1u);
    EXPECT_TRUE(rep.on_stall(0, 0, t0 + 1h).report);
}

TEST(stall_reporter, a_site_is_the_function_not_the_instruction) {
    auto* fn = reinterpret_cast<char*>(&stall_test::stall_site_probe);
    void* caller = reinterpret_cast<void*>(&busy_wait_for_stall_test);
    void* a[] = {fn + 1, caller};
    void* b[] = {fn + 4, caller};
    void* c[] = {fn + 4, static_cast<char*>(caller) + 8};
    EXPECT_EQ(stall_site(a, 2), stall_site(b, 2));
    EXPECT_NE(stall_site(a, 2), stall_site(c, 2));
    EXPECT_EQ(stall_site(a, 0), 0u);
}

}  // namespace
}  // namespace wharf
