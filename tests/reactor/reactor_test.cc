// The reactor loop, timers, when_all, spawn and file operations on one shard.

#include <fcntl.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>

#include "reactor/file.h"
#include "reactor/reactor.h"
#include "reactor/smp.h"
#include "reactor/spawn.h"
#include "reactor/sync.h"
#include "reactor/timer.h"
#include "reactor/when_all.h"
#include "tests/reactor/test_util.h"

namespace wharf {
namespace {

using namespace std::chrono_literals;

TEST(reactor, runs_main_task_and_returns_its_value) {
    auto rc = smp::run(smp_config{.shards = 1}, []() -> task<int> { co_return 42; });
    ASSERT_TRUE(rc);
    EXPECT_EQ(*rc, 42);
}

task<int> add_later(int a, int b) {
    co_await reactor::local().yield();
    co_return a + b;
}

TEST(reactor, nested_tasks_and_when_all) {
    auto rc = smp::run(smp_config{.shards = 1}, []() -> task<int> {
        int x = co_await add_later(1, 2);
        EXPECT_EQ(x, 3);
        std::vector<task<int>> many;
        for (int i = 0; i < 100; ++i) many.push_back(add_later(i, 1));
        auto all = co_await when_all(std::move(many));
        for (int i = 0; i < 100; ++i) EXPECT_EQ(all[i], i + 1);
        auto [a, b] = co_await when_all(add_later(1, 1), add_later(2, 2));
        EXPECT_EQ(a, 2);
        EXPECT_EQ(b, 4);
        co_return 0;
    });
    ASSERT_TRUE(rc);
    EXPECT_EQ(*rc, 0);
}

TEST(reactor, when_all_rethrows_after_all_children_finish) {
    auto rc = smp::run(smp_config{.shards = 1}, []() -> task<int> {
        int finished = 0;
        auto ok = [&]() -> task<void> {
            co_await sleep_for(1ms);
            ++finished;
        };
        auto bad = []() -> task<void> {
            co_await reactor::local().yield();
            throw std::runtime_error("boom");
        };
        std::vector<task<void>> ts;
        ts.push_back(ok());
        ts.push_back(bad());
        ts.push_back(ok());
        bool caught = false;
        try {
            co_await when_all(std::move(ts));
        } catch (const std::runtime_error&) {
            caught = true;
        }
        EXPECT_TRUE(caught);
        EXPECT_EQ(finished, 2);
        co_return 0;
    });
    ASSERT_TRUE(rc);
}

TEST(reactor, timers_fire_in_deadline_order) {
    auto rc = smp::run(smp_config{.shards = 1}, []() -> task<int> {
        std::vector<int> order;
        auto sleeper = [&](int ms) -> task<void> {
            bool fired = co_await sleep_for(std::chrono::milliseconds(ms));
            EXPECT_TRUE(fired);
            order.push_back(ms);
        };
        auto t0 = std::chrono::steady_clock::now();
        co_await when_all(sleeper(30), sleeper(10), sleeper(20));
        EXPECT_EQ(order, (std::vector<int>{10, 20, 30}));
        EXPECT_GE(std::chrono::steady_clock::now() - t0, 30ms);
        co_return 0;
    });
    ASSERT_TRUE(rc);
}

TEST(reactor, detached_task_exception_is_counted_not_lost) {
    auto rc = smp::run(smp_config{.shards = 1}, []() -> task<int> {
        EXPECT_EQ(reactor::local().stats().detached_failures, 0u);
        spawn([]() -> task<void> {
            co_await reactor::local().yield();
            throw std::runtime_error("escaped");
        }(), "test failure");
        for (int i = 0; i < 10 && reactor::local().stats().detached_failures == 0; ++i) {
            co_await reactor::local().yield();
        }
        EXPECT_EQ(reactor::local().stats().detached_failures, 1u);
        co_return 0;
    });
    ASSERT_TRUE(rc);
}

TEST(reactor, idle_shard_sleeps_instead_of_spinning) {
    auto rc = smp::run(smp_config{.shards = 1}, []() -> task<int> {
        auto before = reactor::local().stats();
        co_await sleep_for(50ms);
        auto after = reactor::local().stats();
        // A spinning loop would turn thousands of times in 50 ms.
        EXPECT_LT(after.turns - before.turns, 10u);
        EXPECT_GE(after.sleeps - before.sleeps, 1u);
        co_return 0;
    });
    ASSERT_TRUE(rc);
}

TEST(reactor, shutdown_cancels_inflight_operations) {
    bool resumed = false;
    auto rc = smp::run(smp_config{.shards = 1}, [&]() -> task<int> {
        // A sleep far longer than the test: shutdown must cancel it, resuming the coroutine.
        spawn([](bool& resumed) -> task<void> {
            bool fired = co_await sleep_for(std::chrono::hours(1));
            EXPECT_FALSE(fired);
            resumed = true;
        }(resumed), "long sleep");
        co_return 0;
    });
    ASSERT_TRUE(rc);
    EXPECT_TRUE(resumed);
}

TEST(reactor, event_semaphore_and_gate) {
    auto rc = smp::run(smp_config{.shards = 1}, []() -> task<int> {
        event ev;
        int woken = 0;
        gate g;
        for (int i = 0; i < 3; ++i) {
            spawn([](event& ev, int& woken, gate::holder) -> task<void> {
                co_await ev.wait();
                ++woken;
            }(ev, woken, g.hold()), "waiter");
        }
        EXPECT_EQ(ev.waiters(), 3u);
        ev.notify_all();
        co_await g.close();
        EXPECT_EQ(woken, 3);
        EXPECT_FALSE(g.hold());

        semaphore sem(2);
        co_await sem.acquire(2);
        bool got = false;
        spawn([](semaphore& s, bool& got) -> task<void> {
            co_await s.acquire(1);
            got = true;
        }(sem, got), "acquirer");
        EXPECT_FALSE(got);
        sem.release(1);
        for (int i = 0; i < 5 && !got; ++i) co_await reactor::local().yield();
        EXPECT_TRUE(got);
        co_return 0;
    });
    ASSERT_TRUE(rc);
}

TEST(reactor, file_write_sync_read_roundtrip) {
    temp_dir dir;
    auto rc = smp::run(smp_config{.shards = 1}, [&]() -> task<int> {
        std::string sub = dir.path() + "/a/b/c";
        EXPECT_TRUE(co_await make_directories(sub));
        EXPECT_TRUE(co_await make_directories(sub));  // exists already: fine
        auto f = co_await file::open(sub + "/f", O_CREAT | O_RDWR, 0644);
        EXPECT_TRUE(f);
        std::string a(5000, 'a'), b(3000, 'b');
        iovec iov[2] = {{a.data(), a.size()}, {b.data(), b.size()}};
        auto w = co_await f->write_and_sync(iov, 0);
        EXPECT_TRUE(w);
        EXPECT_EQ(*w, 8000u);
        // More vectors than IOV_MAX are split by write_at.
        std::vector<iovec> many(3000, iovec{b.data(), 1});
        auto w2 = co_await f->write_at(many, 8000);
        EXPECT_TRUE(w2);
        EXPECT_EQ(*w2, 3000u);
        auto size = co_await f->size();
        EXPECT_EQ(*size, 11000u);
        std::string back(11000, '\0');
        auto r = co_await f->read_at(back.data(), back.size(), 0);
        EXPECT_EQ(*r, 11000u);
        EXPECT_EQ(back, a + b + std::string(3000, 'b'));
        // Reading past the end returns what is there.
        auto r2 = co_await f->read_at(back.data(), 100, 10950);
        EXPECT_EQ(*r2, 50u);
        // More vectors than one writev takes still go out with their sync in one submission:
        // three linked writevs and the fdatasync.
        std::vector<char> pattern(3000);
        std::vector<iovec> chain;
        for (size_t i = 0; i < pattern.size(); ++i) {
            pattern[i] = static_cast<char>('A' + i % 26);
            chain.push_back(iovec{&pattern[i], 1});
        }
        auto before = reactor::local().stats();
        auto w3 = co_await f->write_and_sync(chain, 11000);
        auto after = reactor::local().stats();
        EXPECT_EQ(*w3, 3000u);
        EXPECT_EQ(after.sqes - before.sqes, 4u);
        std::string chained(3000, '\0');
        EXPECT_EQ(*(co_await f->read_at(chained.data(), chained.size(), 11000)), 3000u);
        EXPECT_EQ(chained, std::string(pattern.begin(), pattern.end()));
        EXPECT_TRUE(co_await f->truncate(100));
        EXPECT_EQ(*(co_await f->size()), 100u);
        EXPECT_TRUE(co_await f->allocate(0, 4096));
        EXPECT_EQ(*(co_await f->size()), 4096u);
        EXPECT_TRUE(co_await f->close());
        EXPECT_TRUE(co_await rename_file(sub + "/f", sub + "/g"));
        EXPECT_TRUE(co_await sync_directory(sub));
        auto names = list_directory(sub);
        EXPECT_EQ(*names, std::vector<std::string>{"g"});
        EXPECT_TRUE(co_await remove_file(sub + "/g"));
        EXPECT_FALSE(file_exists(sub + "/g"));
        auto missing = co_await file::open(sub + "/nope", O_RDONLY);
        EXPECT_FALSE(missing);
        EXPECT_EQ(missing.error(), std::errc::no_such_file_or_directory);
        co_return 0;
    });
    ASSERT_TRUE(rc);
}

}  // namespace
}  // namespace wharf
