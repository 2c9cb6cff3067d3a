#pragma once

// reactor: the event loop of one shard (DESIGN.md section 3).
//
// One reactor per shard thread, created and run by `smp` (reactor/smp.h); it owns one io_uring.
// A loop turn, in this order:
//   1. run ready coroutines (bounded batch, so a turn always ends);
//   2. process messages from the other shards' SPSC rings (cross_shard.h);
//   3. resume coroutines waiting for the end of the turn (group commit uses this);
//   4. flush this shard's outgoing cross-shard messages, waking sleeping receivers;
//   5. one io_uring submit — waiting for a completion only when nothing is runnable (sleep),
//      after busy-polling for `poll_us` if configured;
//   6. reap completions, which make their coroutines ready.
// Shutdown: stop() ends the loop after the current turn; in-flight operations are cancelled and
// drained before the ring is closed.

#include <liburing.h>

#include <atomic>
#include <chrono>
#include <coroutine>
#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "reactor/base/ids.h"
#include "reactor/base/result.h"
#include "reactor/metrics/histogram.h"
#include "reactor/shard.h"

namespace wharf {

class cross_shard_mesh;

struct reactor_config {
    shard_id id{0};
    unsigned ring_entries = 1024;
    // Busy-poll this long for work before sleeping in io_uring_enter (--poll-us).
    std::chrono::microseconds poll_us{0};
};

// Counters of one shard's loop, read by tests and by /metrics (on the shard itself).
struct reactor_stats {
    // Loop turns by the time they kept the shard busy (microseconds): everything but the sleep
    // in io_uring_enter and the busy-poll for work.
    using turn_histogram = log2_histogram<21, 0>;  // 1 us .. ~1 s

    uint64_t turns = 0;
    uint64_t tasks_run = 0;
    uint64_t submits = 0;
    uint64_t sqes = 0;
    uint64_t completions = 0;
    uint64_t sleeps = 0;
    uint64_t cross_shard_received = 0;
    uint64_t detached_failures = 0;
    // Turns that ran past the stall threshold (reactor/stall_detector.h), counted by the
    // detector's signal handler on this shard's thread.
    uint64_t stalls = 0;
    // Time spent working and time spent sleeping or polling for work: utilization is
    // busy / (busy + idle).
    uint64_t busy_ns = 0;
    uint64_t idle_ns = 0;
    turn_histogram turn_us;
};

// What an io_uring operation reports back to the coroutine that waits for it.
struct io_completion {
    std::coroutine_handle<> waiter;
    int32_t res = 0;
    uint32_t flags = 0;
};

class reactor {
public:
    // REQUIRES: called on the thread that will run it; mesh may be null for a lone reactor.
    reactor(const reactor_config& cfg, cross_shard_mesh* mesh);
    ~reactor();
    reactor(const reactor&) = delete;
    reactor& operator=(const reactor&) = delete;

    // The reactor of the calling thread. REQUIRES: a reactor thread.
    static reactor& local() noexcept;
    static reactor* local_or_null() noexcept;

    shard_id id() const noexcept { return _cfg.id; }
    const reactor_stats& stats() const noexcept { return _stats; }
    // Coroutines ready to run (the run queue's length).
    size_t tasks_queued() const noexcept { return _ready.size(); }

    // Makes h runnable; it runs later in this turn or in the next.
    void schedule(std::coroutine_handle<> h);

    // co_await reactor::local().yield(): let other ready coroutines run first.
    auto yield() noexcept {
        struct awaiter {
            reactor& r;
            bool await_ready() const noexcept { return false; }
            void await_suspend(std::coroutine_handle<> h) { r.schedule(h); }
            void await_resume() const noexcept {}
        };
        return awaiter{*this};
    }
    // co_await reactor::local().turn_end(): resume once this turn's ready coroutines have run,
    // right before the turn's single submit.
    auto turn_end() noexcept {
        struct awaiter {
            reactor& r;
            bool await_ready() const noexcept { return false; }
            void await_suspend(std::coroutine_handle<> h) { r._turn_end_waiters.push_back(h); }
            void await_resume() const noexcept {}
        };
        return awaiter{*this};
    }

    // A submission queue entry for an operation whose user_data is an io_completion*. Never null:
    // when the queue is full it is submitted early.
    io_uring_sqe* get_sqe();
    // Makes sure the next n get_sqe() calls find room without an early submit, so that linked
    // SQEs (write + fdatasync, an operation + its timeout) reach the kernel together.
    void reserve_sqes(unsigned n);

    // Runs the loop until stop(). Returns after in-flight operations are cancelled and drained.
    void run();
    // Ends the loop after the current turn. Callable from this shard only.
    void stop() noexcept;
    bool stopping() const noexcept { return _stopping; }

    // Called by a detached task whose exception escaped (reactor/spawn.h).
    void count_detached_failure() noexcept { ++_stats.detached_failures; }

    // Wakes this reactor if it sleeps. Callable from any thread (cross-shard senders).
    void wake_from_other_thread() noexcept;
    // For the cross-shard sleep protocol: true once the reactor has announced it will sleep.
    std::atomic<bool>& sleeping_flag() noexcept { return _sleeping; }

    // The number of the turn running now, or not_in_turn before and after the loop. Stored with
    // one relaxed store per turn, for the stall detector's watchdog on another thread.
    static constexpr uint64_t not_in_turn = ~uint64_t{0};
    const std::atomic<uint64_t>& published_turn() const noexcept { return _published_turn; }
    // Called by the stall detector's signal handler, on this shard's thread (hence atomic: it
    // interrupts code that may read the stats).
    void count_stall() noexcept {
        std::atomic_ref<uint64_t>(_stats.stalls).fetch_add(1, std::memory_order_relaxed);
    }

private:
    bool run_ready_tasks();
    bool has_pending_work() const noexcept;
    void submit_and_reap(bool may_sleep);
    void reap_completions();
    void arm_wake_read();
    void cancel_and_drain();
    // Adds the turn that began at turn_start to busy_ns, idle_ns and the turn histogram; returns
    // the end of the turn (the start of the next).
    std::chrono::steady_clock::time_point account_turn(
        std::chrono::steady_clock::time_point turn_start) noexcept;

    reactor_config _cfg;
    cross_shard_mesh* _mesh;
    io_uring _ring{};
    std::deque<std::coroutine_handle<>> _ready;
    std::vector<std::coroutine_handle<>> _turn_end_waiters;
    reactor_stats _stats;
    uint64_t _inflight = 0;  // submitted SQEs whose completions have not been reaped
    std::chrono::nanoseconds _idle_this_turn{0};
    bool _stopping = false;
    int _wake_fd = -1;       // eventfd that other shards write to wake this one
    uint64_t _wake_buf = 0;
    bool _wake_armed = false;
    alignas(64) std::atomic<bool> _sleeping{false};
    // Its own cache line: written every turn, while senders read _sleeping.
    alignas(64) std::atomic<uint64_t> _published_turn{not_in_turn};
};

}  // namespace wharf
