#pragma once

// run_reactor: runs a coroutine test body on shard 0 of a reactor of `shards` shards (smp::run)
// with a watchdog, so
// that a hung test fails after timeout_s instead of waiting for the ctest timeout. Shared by the
// test binaries of every module that needs a reactor.

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <thread>

#include "reactor/smp.h"
#include "reactor/task.h"

namespace wharf::test {

inline int run_reactor(std::function<task<int>()> fn, int timeout_s = 300, unsigned shards = 1) {
    std::mutex m;
    std::condition_variable cv;
    bool done = false;
    std::thread watchdog([&] {
        std::unique_lock lock(m);
        if (!cv.wait_for(lock, std::chrono::seconds(timeout_s), [&] { return done; })) {
            std::fprintf(stderr, "test reactor did not finish within %d s\n", timeout_s);
            std::abort();
        }
    });
    auto r = smp::run(smp_config{.shards = shards}, std::move(fn));
    {
        std::lock_guard lock(m);
        done = true;
    }
    cv.notify_all();
    watchdog.join();
    if (!r) {
        ADD_FAILURE() << "smp::run failed: " << r.error().message();
        return -1;
    }
    return *r;
}

}  // namespace wharf::test
