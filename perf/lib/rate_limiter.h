#pragma once

// A fixed-rate schedule for a load generator: operation i is due at start + i / rate. The
// producer waits until `next_due()` (or issues at once when it is already past) and measures
// each operation's latency from its due time, not from when it was actually sent: a stall of the
// system under test then shows in the latencies of every operation it delayed, which is the
// coordinated-omission correction of a fixed-rate run (Gil Tene, "How NOT to measure latency").
// Due times are computed from the index, not by adding intervals, so they do not drift.
//
// A rate of 0 means unlimited: every operation is due at once (`next_due(now)` returns `now`).
// Time is passed in by the caller (any steady clock, or a fake one in tests); nothing here sleeps.
//
// Thread-safety: none. One rate_limiter per producer (per shard); split a total rate over the
// producers by giving each rate / producers.

#include <chrono>
#include <cmath>
#include <cstdint>

namespace wharf::perf {

class rate_limiter {
public:
    using clock = std::chrono::steady_clock;
    using time_point = clock::time_point;

    // ops_per_s: operations per second, 0 for unlimited. REQUIRES: ops_per_s >= 0.
    rate_limiter(double ops_per_s, time_point start) : _rate(ops_per_s), _start(start) {}

    bool unlimited() const { return _rate <= 0; }
    double rate() const { return _rate; }
    // Operations handed out so far.
    uint64_t issued() const { return _next; }

    // The due time of operation i (0-based). For an unlimited schedule, the start.
    time_point due(uint64_t i) const {
        if (unlimited()) {
            return _start;
        }
        auto ns = std::llround(static_cast<double>(i) * 1e9 / _rate);
        return _start + std::chrono::nanoseconds(ns);
    }

    // Takes the next operation and returns its due time; `now` for an unlimited schedule.
    time_point next_due(time_point now) {
        ++_next;
        return unlimited() ? now : due(_next - 1);
    }

    // The due time of the next operation, without taking it.
    time_point peek_due(time_point now) const { return unlimited() ? now : due(_next); }

    // How many operations are due at `now` and not yet taken (for a producer that batches):
    // those with due time <= now. For an unlimited schedule, `cap`. Never more than `cap`.
    uint64_t ready(time_point now, uint64_t cap) const {
        if (unlimited()) {
            return cap;
        }
        if (now < _start) {
            return 0;
        }
        auto elapsed_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now - _start);
        // Operations 0..n-1 are due by now, n = floor(elapsed * rate) + 1; check the rounding.
        auto n = static_cast<uint64_t>(
                     std::floor(static_cast<double>(elapsed_ns.count()) * _rate / 1e9)) +
                 1;
        while (n > 0 && due(n - 1) > now) {
            --n;
        }
        while (due(n) <= now) {
            ++n;
        }
        uint64_t pending = n > _next ? n - _next : 0;
        return pending < cap ? pending : cap;
    }

    // How far behind the schedule the next operation is at `now` (zero when it is not due yet).
    std::chrono::nanoseconds lag(time_point now) const {
        auto d = peek_due(now);
        return now > d ? std::chrono::duration_cast<std::chrono::nanoseconds>(now - d)
                       : std::chrono::nanoseconds(0);
    }

private:
    double _rate;
    time_point _start;
    uint64_t _next = 0;
};

}  // namespace wharf::perf
