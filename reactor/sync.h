#pragma once

// Synchronization between coroutines of one shard. None of these are thread-safe: they live on
// one shard and are used only there (cross-shard traffic goes through submit_to).

#include <coroutine>
#include <cstddef>
#include <deque>
#include <utility>
#include <vector>

#include "reactor/base/assert.h"
#include "reactor/reactor.h"
#include "reactor/task.h"

namespace wharf {

// Coroutines wait until notify_all(); waiters are resumed through the run queue, in order.
class event {
public:
    auto wait() noexcept {
        struct awaiter {
            event& e;
            bool await_ready() const noexcept { return false; }
            void await_suspend(std::coroutine_handle<> h) { e._waiters.push_back(h); }
            void await_resume() const noexcept {}
        };
        return awaiter{*this};
    }
    void notify_all() {
        auto& r = reactor::local();
        for (auto h : _waiters) r.schedule(h);
        _waiters.clear();
    }
    size_t waiters() const noexcept { return _waiters.size(); }

private:
    std::vector<std::coroutine_handle<>> _waiters;
};

// Counts work in progress so shutdown can wait for it: enter() before, leave() after, and
// close() waits until everything that entered has left. After close, enter() fails.
class gate {
public:
    bool try_enter() noexcept {
        if (_closed) return false;
        ++_count;
        return true;
    }
    void leave() {
        WHARF_ASSERT(_count > 0, "gate left more often than entered");
        if (--_count == 0 && _closed) _drained.notify_all();
    }
    bool closed() const noexcept { return _closed; }
    size_t count() const noexcept { return _count; }
    // Waits until every holder has left.
    task<void> close() {
        _closed = true;
        while (_count > 0) co_await _drained.wait();
    }

    // RAII holder: `auto h = g.hold(); if (!h) return;`
    class holder {
    public:
        explicit holder(gate* g) noexcept : _g(g) {}
        holder(holder&& o) noexcept : _g(std::exchange(o._g, nullptr)) {}
        holder& operator=(holder&&) = delete;
        ~holder() {
            if (_g) _g->leave();
        }
        explicit operator bool() const noexcept { return _g != nullptr; }

    private:
        gate* _g;
    };
    holder hold() noexcept { return holder(try_enter() ? this : nullptr); }

private:
    size_t _count = 0;
    bool _closed = false;
    event _drained;
};

// A counting semaphore with FIFO fairness: bounds memory or concurrency on one shard.
class semaphore {
public:
    explicit semaphore(size_t units) noexcept : _available(units) {}

    size_t available() const noexcept { return _available; }
    size_t waiters() const noexcept { return _waiters.size(); }

    bool try_acquire(size_t n) noexcept {
        if (_waiters.empty() && _available >= n) {
            _available -= n;
            return true;
        }
        return false;
    }
    auto acquire(size_t n) noexcept {
        struct awaiter {
            semaphore& s;
            size_t n;
            bool await_ready() noexcept { return s.try_acquire(n); }
            void await_suspend(std::coroutine_handle<> h) { s._waiters.push_back({n, h}); }
            void await_resume() const noexcept {}
        };
        return awaiter{*this, n};
    }
    void release(size_t n) {
        _available += n;
        while (!_waiters.empty() && _waiters.front().n <= _available) {
            _available -= _waiters.front().n;
            reactor::local().schedule(_waiters.front().h);
            _waiters.pop_front();
        }
    }

private:
    struct waiter {
        size_t n;
        std::coroutine_handle<> h;
    };
    size_t _available;
    std::deque<waiter> _waiters;
};

}  // namespace wharf
