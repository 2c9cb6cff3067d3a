#pragma once

// stall_detector: finds loop turns that keep a shard too long (--stall-threshold; STYLE.md rule
// 14) and logs where the shard was stuck.
//
// Design. Each reactor publishes the number of its current turn with one relaxed store per turn,
// and its sleeping flag, which it keeps anyway for cross-shard wake-ups; that is all the hot path
// pays. One watchdog thread per process samples every shard each threshold/4. A shard whose turn
// has not changed for the threshold while it was awake is stalled if in that time it either ran
// on the CPU for half the threshold (its thread CPU clock) or sits blocked in the kernel (its
// /proc task state); a shard that only waited for a CPU (an overloaded host, --overprovisioned)
// is not blamed. The watchdog then signals the shard's thread. The handler, on the stuck thread,
// checks that the stalled turn is still running, captures a backtrace into a preallocated buffer
// (nothing else: it must be async-signal-safe; none while the thread unwinds an exception, where
// the unwinder's lock may be held). The watchdog waits for the signal to be taken at most 200 ms
// and for a started handler at most 1 s. Every caught turn is counted once in
// reactor_stats::stalls, with or without a backtrace: the watchdog notes it in the slot and the
// handler, which the signal runs even when the thread takes it late (blocked in uninterruptible
// I/O), adds it on the shard's own thread, where the stats are read.
// The watchdog symbolizes the backtrace and logs it once per site, at most once per shard every
// 10 s (stall_reporter); each turn is caught at most once.
//
// Lifecycle. smp::run creates one detector when the threshold is non-zero, before the shards
// start, and destroys it after they have stopped. Each shard thread attaches its reactor after
// constructing it and detaches before destroying it (an `attachment`); the watchdog never
// signals a detached thread.

#include <pthread.h>
#include <sys/types.h>
#include <time.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "reactor/stall_report.h"

namespace wharf {

class reactor;

class stall_detector {
public:
    stall_detector(std::chrono::milliseconds threshold, unsigned shards);
    ~stall_detector();
    stall_detector(const stall_detector&) = delete;
    stall_detector& operator=(const stall_detector&) = delete;

    // REQUIRES: called on r's thread, once per shard.
    void attach(reactor& r);
    void detach(reactor& r);

    // Attaches for the lifetime of the object (nothing when the detector is null).
    class attachment {
    public:
        attachment(stall_detector* d, reactor& r) : _d(d), _r(r) {
            if (_d) _d->attach(_r);
        }
        ~attachment() {
            if (_d) _d->detach(_r);
        }
        attachment(const attachment&) = delete;
        attachment& operator=(const attachment&) = delete;

    private:
        stall_detector* _d;
        reactor& _r;
    };

    // For tests: called on the watchdog thread with every report that is logged. REQUIRES: no
    // detector is running.
    static void set_report_hook(std::function<void(const stall_report&)> hook);

    static constexpr size_t max_frames = 64;

    // Per shard, shared between the watchdog, the shard thread and its signal handler.
    struct slot {
        enum state : uint8_t { idle, requested, capturing, captured, stale };
        reactor* r = nullptr;  // null: not attached
        const std::atomic<uint64_t>* turn = nullptr;
        const std::atomic<bool>* sleeping = nullptr;
        pid_t tid = 0;
        clockid_t cpu_clock{};
        // Watchdog-only bookkeeping of the turn being watched.
        uint64_t seen_turn = 0;
        std::chrono::steady_clock::time_point seen_at{};
        std::chrono::nanoseconds seen_cpu{0};
        bool caught = false;
        // The capture handshake: the watchdog sets capture_turn, then state = requested; the
        // handler moves it to capturing and then captured (frames valid) or stale.
        uint64_t capture_turn = 0;
        std::atomic<uint8_t> capture_state{idle};
        // Stalls detected by the watchdog and not yet added to the shard's stats by a handler.
        std::atomic<uint64_t> uncounted{0};
        void* interrupted_pc = nullptr;
        bool unwinding = false;  // captured while unwinding an exception: no frames
        int nframes = 0;
        void* frames[max_frames] = {};
    };

    enum class capture_result {
        captured,       // the handler ran in the stalled turn (frames valid unless unwinding)
        stale,          // the handler ran after the turn had ended
        not_taken,      // the thread did not take the signal in time
        handler_stuck,  // the handler started but did not return in time
    };

private:
    void watch();
    void sample(slot& s, std::chrono::steady_clock::time_point now);
    capture_result capture(slot& s, uint64_t turn);
    void report(slot& s, std::chrono::nanoseconds ran, std::chrono::nanoseconds cpu, bool blocked,
                capture_result captured);

    std::chrono::milliseconds _threshold;
    std::chrono::nanoseconds _period;
    int _signal;
    // Slots never move: the handler finds its slot through a thread-local pointer.
    std::vector<std::unique_ptr<slot>> _slots;
    stall_reporter _reporter;
    // Guards the slots' attachment against the watchdog; held by the watchdog while it samples.
    // Not a reactor-path lock: shards take it only when they attach and detach.
    std::mutex _mutex;
    std::condition_variable _wake;
    bool _stopping = false;
    std::thread _thread;
};

}  // namespace wharf
