#pragma once

// task<T>: the lazily started coroutine type of Wharf (DESIGN.md section 3).
//
// A task does nothing until it is awaited. Awaiting it starts it and suspends the awaiter until it
// completes; completion resumes the awaiter by symmetric transfer. A task that completes while it
// is being started does not resume its awaiter at all: the awaiter simply goes on, so loops over
// tasks that complete synchronously never grow the stack, tail calls or not. An exception thrown inside a task is rethrown to its awaiter;
// one escaping a detached task (reactor/spawn.h) is logged with the shard id.
//
// A task is owned by exactly one object; it lives on the shard that created it and must be awaited
// there.

#include <coroutine>
#include <exception>
#include <utility>
#include <variant>

#include "reactor/base/assert.h"

namespace wharf {

template <typename T = void>
class task;

namespace detail {

struct task_promise_base {
    std::coroutine_handle<> continuation{std::noop_coroutine()};
    // Whether the awaiter is starting this task inside its await_suspend (below). A task that
    // completes before that returns leaves the awaiter to continue by itself (await_suspend
    // returns false) instead of resuming it from its final suspend: the stack stays flat even
    // where the compiler does not turn symmetric transfer into a tail call (GCC at -O0 with
    // ASan, where a loop over tasks that complete at once, such as log recovery scanning a
    // segment of many small entries, overflowed the stack).
    enum class start_state : unsigned char { idle, starting, finished_while_starting };
    start_state state = start_state::idle;

    struct final_awaiter {
        bool await_ready() const noexcept { return false; }
        template <typename P>
        std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) const noexcept {
            auto& p = h.promise();
            if (p.state == start_state::starting) {
                p.state = start_state::finished_while_starting;
                return std::noop_coroutine();
            }
            return p.continuation;
        }
        void await_resume() const noexcept {}
    };

    std::suspend_always initial_suspend() const noexcept { return {}; }
    final_awaiter final_suspend() const noexcept { return {}; }
};

template <typename T>
struct task_promise final : task_promise_base {
    std::variant<std::monostate, T, std::exception_ptr> outcome;

    task<T> get_return_object() noexcept;
    template <typename U>
        requires std::is_convertible_v<U&&, T>
    void return_value(U&& v) {
        outcome.template emplace<1>(std::forward<U>(v));
    }
    void unhandled_exception() noexcept { outcome.template emplace<2>(std::current_exception()); }

    T take() {
        if (outcome.index() == 2) std::rethrow_exception(std::get<2>(outcome));
        WHARF_ASSERT(outcome.index() == 1, "task result taken before the task completed");
        return std::get<1>(std::move(outcome));
    }
};

template <>
struct task_promise<void> final : task_promise_base {
    std::exception_ptr error;
    bool done = false;

    task<void> get_return_object() noexcept;
    void return_void() noexcept { done = true; }
    void unhandled_exception() noexcept { error = std::current_exception(); }

    void take() {
        if (error) std::rethrow_exception(error);
        WHARF_ASSERT(done, "task result taken before the task completed");
    }
};

}  // namespace detail

template <typename T>
class [[nodiscard]] task {
public:
    using promise_type = detail::task_promise<T>;
    using handle_type = std::coroutine_handle<promise_type>;
    using value_type = T;

    task() noexcept = default;
    explicit task(handle_type h) noexcept : _h(h) {}
    task(task&& o) noexcept : _h(std::exchange(o._h, nullptr)) {}
    task& operator=(task&& o) noexcept {
        if (this != &o) {
            destroy();
            _h = std::exchange(o._h, nullptr);
        }
        return *this;
    }
    task(const task&) = delete;
    task& operator=(const task&) = delete;
    ~task() { destroy(); }

    bool valid() const noexcept { return _h != nullptr; }
    bool done() const noexcept { return _h && _h.done(); }

    auto operator co_await() && noexcept {
        struct awaiter {
            handle_type h;
            bool await_ready() const noexcept { return false; }
            bool await_suspend(std::coroutine_handle<> awaiting) noexcept {
                auto& p = h.promise();
                p.continuation = awaiting;
                p.state = detail::task_promise_base::start_state::starting;
                h.resume();
                if (p.state == detail::task_promise_base::start_state::finished_while_starting) {
                    return false;  // done already: the awaiter goes on without a resumption
                }
                // Suspended: its completion resumes the awaiter through `continuation`.
                p.state = detail::task_promise_base::start_state::idle;
                return true;
            }
            T await_resume() { return h.promise().take(); }
        };
        WHARF_ASSERT(_h, "awaiting an empty task");
        return awaiter{_h};
    }

    // For the detached runner and when_all: start without an awaiting coroutine.
    handle_type release() noexcept { return std::exchange(_h, nullptr); }
    handle_type handle() const noexcept { return _h; }

private:
    void destroy() noexcept {
        if (_h) {
            _h.destroy();
            _h = nullptr;
        }
    }
    handle_type _h{};
};

namespace detail {
template <typename T>
task<T> task_promise<T>::get_return_object() noexcept {
    return task<T>(std::coroutine_handle<task_promise<T>>::from_promise(*this));
}
inline task<void> task_promise<void>::get_return_object() noexcept {
    return task<void>(std::coroutine_handle<task_promise<void>>::from_promise(*this));
}
}  // namespace detail

// A task that is already complete with a value; for interfaces that sometimes need no suspension.
template <typename T>
task<T> make_ready_task(T v) {
    co_return v;
}

}  // namespace wharf
