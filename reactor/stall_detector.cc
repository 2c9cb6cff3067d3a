#include "reactor/stall_detector.h"

#include <execinfo.h>
#include <signal.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <fstream>
#include <optional>

#include "reactor/base/assert.h"
#include "reactor/logger.h"
#include "reactor/reactor.h"

namespace wharf {

namespace {

using namespace std::chrono;

thread_local stall_detector::slot* t_slot = nullptr;

std::mutex g_hook_mutex;
std::function<void(const stall_report&)> g_hook;

// A real-time signal that nothing else in Wharf uses; real-time signals queue, so a signal sent
// while the handler runs is not lost, and they carry no default meaning anyone relies on.
int stall_signal() {
    return SIGRTMIN + 3;
}

// How long the watchdog waits for the stuck thread to take the signal. A thread in
// uninterruptible sleep (D) takes it only when the kernel lets go.
constexpr auto capture_timeout = milliseconds(200);
// How long the watchdog waits for a handler that has started to capture: it takes microseconds
// unless it is stuck (a lock taken by the code it interrupted); past this the watchdog gives up on
// the slot rather than hang with _mutex held.
constexpr auto handler_timeout = seconds(1);

void* interrupted_pc(void* uc) {
    auto* ctx = static_cast<ucontext_t*>(uc);
#if defined(__x86_64__)
    return reinterpret_cast<void*>(ctx->uc_mcontext.gregs[REG_RIP]);
#elif defined(__aarch64__)
    return reinterpret_cast<void*>(ctx->uc_mcontext.pc);
#else
    (void)ctx;
    return nullptr;
#endif
}

nanoseconds thread_cpu(clockid_t clock) {
    timespec ts{};
    if (::clock_gettime(clock, &ts) != 0) return nanoseconds(0);
    return seconds(ts.tv_sec) + nanoseconds(ts.tv_nsec);
}

// The scheduler state of one of our threads: R running or runnable, S sleeping, D waiting for
// I/O; '?' when unreadable.
char thread_state(pid_t tid) {
    std::ifstream in("/proc/self/task/" + std::to_string(tid) + "/stat");
    std::string line;
    if (!std::getline(in, line)) return '?';
    // The command name in parentheses may contain spaces; the state follows its closing one.
    size_t close = line.rfind(')');
    if (close == std::string::npos || close + 2 >= line.size()) return '?';
    return line[close + 2];
}

stall_report::no_backtrace missing_backtrace(stall_detector::capture_result captured,
                                             bool unwinding) {
    using result = stall_detector::capture_result;
    if (captured == result::handler_stuck) return stall_report::no_backtrace::handler_stuck;
    if (captured == result::captured && unwinding) return stall_report::no_backtrace::unwinding;
    return stall_report::no_backtrace::signal_not_taken;
}

}  // namespace

namespace detail {

static_assert(std::atomic<uint64_t>::is_always_lock_free &&
                  std::atomic<uint8_t>::is_always_lock_free,
              "the signal handler may only use lock-free atomics");

// Runs on the stalled shard's thread, interrupting whatever it was doing: async-signal-safe
// operations only (atomics, backtrace into a preallocated buffer once libgcc is loaded). Not in
// the anonymous namespace so that its frames can be named (and are seen to be cut) in tests.
//
// No backtrace while the thread unwinds an exception (as Seastar's stall detector does): the
// interrupted unwinder may hold libgcc's unwinder lock, which backtrace() would take again and
// wait for forever. std::uncaught_exceptions() only reads a thread-local counter (warmed up in
// attach), so it is safe here.
//
// Whatever it finds, it adds the stalls the watchdog has detected since the last handler to
// reactor_stats::stalls: every detection sends a signal, and a thread that did not take it in
// time (uninterruptible I/O) takes it when the kernel lets go, before the stalled code goes on.
void stall_signal_handler(int, siginfo_t*, void* uc) {
    int saved_errno = errno;
    stall_detector::slot* s = t_slot;
    uint8_t expected = stall_detector::slot::requested;
    if (s == nullptr) {
        errno = saved_errno;
        return;
    }
    if (s->capture_state.compare_exchange_strong(expected, stall_detector::slot::capturing,
                                                 std::memory_order_acq_rel)) {
        if (s->turn->load(std::memory_order_relaxed) == s->capture_turn) {
            s->interrupted_pc = interrupted_pc(uc);
            s->unwinding = std::uncaught_exceptions() > 0;
            s->nframes = s->unwinding
                             ? 0
                             : ::backtrace(s->frames, static_cast<int>(stall_detector::max_frames));
            s->capture_state.store(stall_detector::slot::captured, std::memory_order_release);
        } else {
            s->capture_state.store(stall_detector::slot::stale, std::memory_order_release);
        }
    }
    // Last, so that a handler that was slow to return still counts what was detected meanwhile.
    for (uint64_t n = s->uncounted.exchange(0, std::memory_order_acquire); n > 0; --n) {
        s->r->count_stall();
    }
    errno = saved_errno;
}

}  // namespace detail

stall_detector::stall_detector(milliseconds threshold, unsigned shards)
    : _threshold(threshold),
      _period(std::clamp<nanoseconds>(nanoseconds(threshold) / 4, microseconds(500),
                                      milliseconds(250))),
      _signal(stall_signal()),
      _reporter(shards) {
    WHARF_ASSERT(threshold.count() > 0, "a stall detector needs a positive threshold");
    for (unsigned k = 0; k < shards; ++k) _slots.push_back(std::make_unique<slot>());
    // The first backtrace() loads libgcc's unwinder with dlopen, which a signal handler must not
    // do: load it now.
    void* warm[4];
    ::backtrace(warm, 4);
    struct sigaction sa {};
    sa.sa_sigaction = detail::stall_signal_handler;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    WHARF_ASSERT(::sigaction(_signal, &sa, nullptr) == 0, "sigaction: {}", std::strerror(errno));
    _thread = std::thread([this] { watch(); });
}

stall_detector::~stall_detector() {
    {
        std::lock_guard lock(_mutex);
        _stopping = true;
    }
    _wake.notify_all();
    _thread.join();
    // A signal still queued for a thread that has exited goes nowhere; ignoring it from now on
    // covers one queued for a live thread.
    struct sigaction sa {};
    sa.sa_handler = SIG_IGN;
    sigemptyset(&sa.sa_mask);
    ::sigaction(_signal, &sa, nullptr);
}

void stall_detector::set_report_hook(std::function<void(const stall_report&)> hook) {
    std::lock_guard lock(g_hook_mutex);
    g_hook = std::move(hook);
}

void stall_detector::attach(reactor& r) {
    unsigned k = r.id().value();
    WHARF_ASSERT(k < _slots.size(), "shard {} attaches to a stall detector of {}", k,
                 _slots.size());
    // The shard thread may have inherited a mask that blocks the signal.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, _signal);
    ::pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
    // The handler reads the thread's exception globals: touch them here, outside any handler.
    [[maybe_unused]] int unwinding = std::uncaught_exceptions();
    std::lock_guard lock(_mutex);
    slot& s = *_slots[k];
    WHARF_ASSERT(s.r == nullptr, "shard {} attached twice to the stall detector", k);
    s.turn = &r.published_turn();
    s.sleeping = &r.sleeping_flag();
    s.tid = static_cast<pid_t>(::syscall(SYS_gettid));
    WHARF_ASSERT(::pthread_getcpuclockid(::pthread_self(), &s.cpu_clock) == 0,
                 "pthread_getcpuclockid failed");
    s.seen_turn = reactor::not_in_turn;
    s.caught = false;
    s.capture_state.store(slot::idle, std::memory_order_relaxed);
    s.uncounted.store(0, std::memory_order_relaxed);
    s.r = &r;
    t_slot = &s;
}

void stall_detector::detach(reactor& r) {
    std::lock_guard lock(_mutex);
    slot& s = *_slots[r.id().value()];
    WHARF_ASSERT(s.r == &r, "shard {} detaches a reactor it did not attach", r.id());
    t_slot = nullptr;
    s.r = nullptr;
}

void stall_detector::watch() {
    std::unique_lock lock(_mutex);
    while (!_stopping) {
        _wake.wait_for(lock, _period);
        if (_stopping) break;
        auto now = steady_clock::now();
        for (auto& s : _slots) {
            if (s->r != nullptr) sample(*s, now);
        }
    }
}

void stall_detector::sample(slot& s, steady_clock::time_point now) {
    uint64_t turn = s.turn->load(std::memory_order_relaxed);
    bool asleep = s.sleeping->load(std::memory_order_relaxed);
    if (turn == reactor::not_in_turn || asleep || turn != s.seen_turn) {
        // A new turn (or none): start watching it from here.
        s.seen_turn = asleep ? reactor::not_in_turn : turn;
        s.seen_at = now;
        s.seen_cpu = thread_cpu(s.cpu_clock);
        s.caught = false;
        return;
    }
    if (s.caught || now - s.seen_at < _threshold) return;
    nanoseconds ran = now - s.seen_at;
    nanoseconds cpu = thread_cpu(s.cpu_clock) - s.seen_cpu;
    char state = thread_state(s.tid);
    bool blocked = state == 'S' || state == 'D';
    if (cpu < _threshold / 2 && !blocked) return;  // waiting for a CPU: not the shard's doing
    s.caught = true;
    // Counted once per caught turn, whether or not a backtrace follows (the handler adds it to
    // the shard's stats; the signal capture() sends guarantees that one runs).
    s.uncounted.fetch_add(1, std::memory_order_release);
    capture_result captured = capture(s, turn);
    // It moved on before the handler ran: counted, but not reported, as there is no backtrace of
    // the stalled turn to show.
    if (captured == capture_result::stale) return;
    report(s, ran, cpu, blocked, captured);
}

stall_detector::capture_result stall_detector::capture(slot& s, uint64_t turn) {
    // A handler we gave up on may still write the slot: leave it alone until it finishes (it
    // then counts this stall too).
    if (s.capture_state.load(std::memory_order_acquire) == slot::capturing) {
        return capture_result::handler_stuck;
    }
    s.nframes = 0;
    s.unwinding = false;
    s.capture_turn = turn;
    s.capture_state.store(slot::requested, std::memory_order_release);
    if (::syscall(SYS_tgkill, ::getpid(), s.tid, _signal) != 0) {
        s.capture_state.store(slot::idle, std::memory_order_relaxed);
        return capture_result::not_taken;
    }
    auto deadline = steady_clock::now() + capture_timeout;
    std::optional<steady_clock::time_point> capturing_since;
    for (;;) {
        uint8_t st = s.capture_state.load(std::memory_order_acquire);
        if (st == slot::captured) return capture_result::captured;
        if (st == slot::stale) return capture_result::stale;
        auto now = steady_clock::now();
        if (st == slot::capturing && !capturing_since) capturing_since = now;
        if (capturing_since && now - *capturing_since >= handler_timeout) {
            shard_logger().error(
                "stall detector: the signal handler on shard {} has not returned {} ms after it "
                "began to capture a backtrace; the shard may be deadlocked in it. Giving up on "
                "its backtrace",
                s.r->id().value(), duration_cast<milliseconds>(handler_timeout).count());
            return capture_result::handler_stuck;
        }
        if (now >= deadline && st == slot::requested) {
            uint8_t expected = slot::requested;
            // Withdraw the request unless the handler has just started.
            if (s.capture_state.compare_exchange_strong(expected, slot::idle,
                                                        std::memory_order_acq_rel)) {
                return capture_result::not_taken;
            }
        }
        std::this_thread::sleep_for(microseconds(100));
    }
}

void stall_detector::report(slot& s, nanoseconds ran, nanoseconds cpu, bool blocked,
                            capture_result captured) {
    size_t first = 0;
    size_t n = captured == capture_result::captured ? static_cast<size_t>(s.nframes) : 0;
    // Drop the handler's own frames and the kernel's signal trampoline: the backtrace starts
    // at the interrupted instruction.
    for (size_t i = 0; i < n; ++i) {
        if (s.frames[i] == s.interrupted_pc) {
            first = i;
            break;
        }
    }
    auto decision = _reporter.on_stall(s.r->id().value(), stall_site(s.frames + first, n - first),
                                       steady_clock::now());
    if (!decision.report) return;
    stall_report r{.shard = s.r->id().value(),
                   .ran = duration_cast<milliseconds>(ran),
                   .cpu = duration_cast<milliseconds>(cpu),
                   .threshold = _threshold,
                   .blocked = blocked,
                   .suppressed = decision.suppressed,
                   .frames = symbolize(s.frames + first, n - first),
                   .missing = missing_backtrace(captured, s.unwinding)};
    r.text = format_stall(r);
    shard_logger().warn("{}", r.text);
    std::lock_guard lock(g_hook_mutex);
    if (g_hook) g_hook(r);
}

}  // namespace wharf
