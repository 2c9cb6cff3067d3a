#include "reactor/reactor.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "reactor/base/assert.h"
#include "reactor/clock.h"
#include "reactor/cross_shard.h"
#include "reactor/logger.h"

namespace wharf {

namespace {
thread_local reactor* t_reactor = nullptr;

// Ready coroutines run per turn at most this many at a time, so the loop still polls the rings
// and the kernel when a shard is flooded with work.
constexpr size_t max_tasks_per_turn = 4096;
// Rounds of cancel + drain at shutdown before giving up on operations that keep coming back.
constexpr int max_drain_rounds = 64;

int init_ring(unsigned entries, io_uring* ring) {
    io_uring_params p{};
    // One thread submits to this ring (the shard's), which lets the kernel skip locking.
    p.flags = IORING_SETUP_SINGLE_ISSUER;
    int rc = io_uring_queue_init_params(entries, ring, &p);
    if (rc == -EINVAL) {
        p = io_uring_params{};
        rc = io_uring_queue_init_params(entries, ring, &p);
    }
    return rc;
}
}  // namespace

reactor::reactor(const reactor_config& cfg, cross_shard_mesh* mesh) : _cfg(cfg), _mesh(mesh) {
    WHARF_ASSERT(t_reactor == nullptr, "a second reactor on one thread");
    int rc = init_ring(cfg.ring_entries, &_ring);
    WHARF_ASSERT(rc == 0, "io_uring_queue_init failed: {} (the kernel probe should have caught it)",
                 std::strerror(-rc));
    _wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    WHARF_ASSERT(_wake_fd >= 0, "eventfd failed: {}", std::strerror(errno));
    t_reactor = this;
    detail::current_shard = cfg.id;
    if (_mesh) _mesh->attach(cfg.id, this);
}

reactor::~reactor() {
    if (_mesh) _mesh->detach(_cfg.id);
    io_uring_queue_exit(&_ring);
    ::close(_wake_fd);
    t_reactor = nullptr;
    detail::current_shard = no_shard;
}

reactor& reactor::local() noexcept {
    WHARF_ASSERT(t_reactor != nullptr, "reactor::local() called off a reactor thread");
    return *t_reactor;
}

reactor* reactor::local_or_null() noexcept { return t_reactor; }

void reactor::schedule(std::coroutine_handle<> h) { _ready.push_back(h); }

void reactor::reserve_sqes(unsigned n) {
    WHARF_ASSERT(n <= _cfg.ring_entries, "reserving {} SQEs in a ring of {}", n, _cfg.ring_entries);
    if (io_uring_sq_space_left(&_ring) < n) {
        ++_stats.submits;
        io_uring_submit(&_ring);
    }
}

io_uring_sqe* reactor::get_sqe() {
    io_uring_sqe* sqe = io_uring_get_sqe(&_ring);
    if (sqe == nullptr) {
        // The submission queue is full within one turn: hand what we have to the kernel early.
        ++_stats.submits;
        io_uring_submit(&_ring);
        sqe = io_uring_get_sqe(&_ring);
        WHARF_ASSERT(sqe != nullptr, "no SQE after submitting a full queue");
    }
    ++_inflight;
    ++_stats.sqes;
    return sqe;
}

void reactor::stop() noexcept { _stopping = true; }

void reactor::wake_from_other_thread() noexcept {
    uint64_t one = 1;
    // Non-blocking eventfd: a write fails only when the counter would overflow, in which case a
    // wake-up is already pending.
    [[maybe_unused]] auto n = ::write(_wake_fd, &one, sizeof(one));
}

bool reactor::run_ready_tasks() {
    size_t n = std::min(_ready.size(), max_tasks_per_turn);
    for (size_t i = 0; i < n; ++i) {
        auto h = _ready.front();
        _ready.pop_front();
        h.resume();
    }
    _stats.tasks_run += n;
    return !_ready.empty();
}

bool reactor::has_pending_work() const noexcept {
    return !_ready.empty() || !_turn_end_waiters.empty() ||
           (_mesh != nullptr && _mesh->has_incoming(_cfg.id));
}

void reactor::arm_wake_read() {
    if (_wake_armed) return;
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_read(sqe, _wake_fd, &_wake_buf, sizeof(_wake_buf), 0);
    io_uring_sqe_set_data(sqe, &_wake_buf);
    _wake_armed = true;
}

void reactor::reap_completions() {
    io_uring_cqe* cqe;
    unsigned head;
    unsigned n = 0;
    io_uring_for_each_cqe(&_ring, head, cqe) {
        ++n;
        void* data = io_uring_cqe_get_data(cqe);
        if (data == &_wake_buf) {
            _wake_armed = false;
        } else if (data != nullptr) {
            auto* c = static_cast<io_completion*>(data);
            c->res = cqe->res;
            c->flags = cqe->flags;
            schedule(c->waiter);
        }
    }
    io_uring_cq_advance(&_ring, n);
    WHARF_ASSERT(_inflight >= n, "{} completions for {} operations in flight", n, _inflight);
    _inflight -= n;
    _stats.completions += n;
}

void reactor::submit_and_reap(bool may_sleep) {
    if (may_sleep && _cfg.poll_us.count() > 0) {
        // Busy-poll for a while before paying for a sleep and a wake-up.
        if (io_uring_sq_ready(&_ring) > 0) {
            ++_stats.submits;
            io_uring_submit(&_ring);
        }
        auto poll_start = std::chrono::steady_clock::now();
        auto deadline = steady_now() + _cfg.poll_us;
        // Polling for work is idle time, however busy it keeps the core.
        struct count_idle {
            reactor& r;
            std::chrono::steady_clock::time_point start;
            ~count_idle() { r._idle_this_turn += std::chrono::steady_clock::now() - start; }
        } idle{*this, poll_start};
        while (steady_now() < deadline) {
            if (io_uring_cq_ready(&_ring) > 0) {
                reap_completions();
                return;
            }
            if (_mesh != nullptr && _mesh->has_incoming(_cfg.id)) return;
            __builtin_ia32_pause();
        }
    }
    if (may_sleep) {
        arm_wake_read();
        _sleeping.store(true, std::memory_order_seq_cst);
        if (_mesh != nullptr && _mesh->has_incoming(_cfg.id)) {
            _sleeping.store(false, std::memory_order_relaxed);
            may_sleep = false;
        }
    }
    if (may_sleep) {
        ++_stats.sleeps;
        ++_stats.submits;
        auto sleep_start = std::chrono::steady_clock::now();
        int rc = io_uring_submit_and_wait(&_ring, 1);
        _idle_this_turn += std::chrono::steady_clock::now() - sleep_start;
        WHARF_ASSERT(rc >= 0 || rc == -EINTR || rc == -EAGAIN || rc == -EBUSY,
                     "io_uring_submit_and_wait: {}", std::strerror(-rc));
        _sleeping.store(false, std::memory_order_relaxed);
    } else if (io_uring_sq_ready(&_ring) > 0) {
        ++_stats.submits;
        io_uring_submit(&_ring);
    }
    reap_completions();
}

void reactor::run() {
    shard_logger().debug("reactor loop starts");
    auto turn_start = std::chrono::steady_clock::now();
    while (!_stopping) {
        ++_stats.turns;
        _published_turn.store(_stats.turns, std::memory_order_relaxed);
        run_ready_tasks();
        if (_mesh != nullptr) _stats.cross_shard_received += _mesh->poll_incoming(_cfg.id);
        if (!_turn_end_waiters.empty()) {
            auto waiters = std::exchange(_turn_end_waiters, {});
            for (auto h : waiters) h.resume();
        }
        bool ring_full = _mesh != nullptr && _mesh->flush_outgoing(_cfg.id);
        submit_and_reap(!ring_full && !_stopping && !has_pending_work());
        turn_start = account_turn(turn_start);
    }
    // The shutdown drain waits for cancellations without being asleep; it is not a stall.
    _published_turn.store(not_in_turn, std::memory_order_relaxed);
    cancel_and_drain();
    shard_logger().debug("reactor loop ends after {} turns", _stats.turns);
}

std::chrono::steady_clock::time_point reactor::account_turn(
    std::chrono::steady_clock::time_point turn_start) noexcept {
    // One clock read per turn: the end of this turn is the start of the next.
    auto now = std::chrono::steady_clock::now();
    auto idle = std::exchange(_idle_this_turn, std::chrono::nanoseconds(0));
    auto busy = std::max(now - turn_start - idle, std::chrono::steady_clock::duration(0));
    auto busy_ns =
        static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(busy).count());
    _stats.busy_ns += busy_ns;
    _stats.idle_ns += static_cast<uint64_t>(idle.count());
    _stats.turn_us.record(busy_ns / 1000);
    return now;
}

void reactor::cancel_and_drain() {
    // Operations still in flight (accepts, reads from idle peers, timers) are cancelled; their
    // coroutines resume with -ECANCELED and may run their clean-up. New operations they start are
    // cancelled in the next round.
    for (int round = 0; round < max_drain_rounds; ++round) {
        run_ready_tasks();
        if (_mesh != nullptr) _mesh->flush_outgoing(_cfg.id);
        if (_inflight == 0 && _ready.empty()) return;
        if (_inflight > 0) {
            io_uring_sqe* sqe = get_sqe();
            io_uring_prep_cancel(sqe, nullptr, IORING_ASYNC_CANCEL_ANY);
            io_uring_sqe_set_data(sqe, nullptr);
            ++_stats.submits;
            io_uring_submit_and_wait(&_ring, 1);
            reap_completions();
        }
    }
    shard_logger().warn("shutdown: {} operations and {} tasks still pending after {} rounds",
                        _inflight, _ready.size(), max_drain_rounds);
}

}  // namespace wharf
