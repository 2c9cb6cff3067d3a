#pragma once

// spawn(): run a task detached on the calling shard. It starts at once and runs until its first
// suspension. An exception escaping it is logged with the shard id and the task's name and counted
// in reactor_stats::detached_failures — never silently lost.

#include <coroutine>
#include <exception>

#include "reactor/task.h"

namespace wharf {

namespace detail {

// A coroutine that starts eagerly and frees itself when it ends.
struct detached_coroutine {
    struct promise_type {
        detached_coroutine get_return_object() const noexcept { return {}; }
        std::suspend_never initial_suspend() const noexcept { return {}; }
        std::suspend_never final_suspend() const noexcept { return {}; }
        void return_void() const noexcept {}
        // Bodies catch everything themselves; reaching here is a bug.
        [[noreturn]] void unhandled_exception() const noexcept { std::terminate(); }
    };
};

void report_detached_failure(const char* what, std::exception_ptr e) noexcept;

}  // namespace detail

// REQUIRES: `what` outlives the task (a string literal).
inline void spawn(task<void> t, const char* what = "task") {
    [](task<void> t, const char* what) -> detail::detached_coroutine {
        try {
            co_await std::move(t);
        } catch (...) {
            detail::report_detached_failure(what, std::current_exception());
        }
    }(std::move(t), what);
}

}  // namespace wharf
