#pragma once

// when_all: run several tasks concurrently on the current shard and resume when all are done.
// Results come back in argument order. If any child throws, the first exception is rethrown after
// every child has finished (no child outlives the call).

#include <coroutine>
#include <cstddef>
#include <exception>
#include <optional>
#include <tuple>
#include <vector>

#include "reactor/task.h"

namespace wharf {

namespace detail {

// Counts outstanding children; the last one to finish resumes the parent.
struct when_all_latch {
    size_t remaining;
    std::coroutine_handle<> parent;
    std::exception_ptr first_error;
};

// A minimal eager coroutine that runs one child and signals the latch.
struct when_all_child {
    struct promise_type {
        when_all_latch* latch = nullptr;
        when_all_child get_return_object() noexcept {
            return when_all_child{std::coroutine_handle<promise_type>::from_promise(*this)};
        }
        std::suspend_always initial_suspend() const noexcept { return {}; }
        struct final_awaiter {
            bool await_ready() const noexcept { return false; }
            std::coroutine_handle<> await_suspend(
                std::coroutine_handle<promise_type> h) const noexcept {
                auto* latch = h.promise().latch;
                h.destroy();
                if (--latch->remaining == 0) return latch->parent;
                return std::noop_coroutine();
            }
            void await_resume() const noexcept {}
        };
        final_awaiter final_suspend() const noexcept { return {}; }
        void return_void() noexcept {}
        void unhandled_exception() noexcept {
            if (!latch->first_error) latch->first_error = std::current_exception();
        }
    };
    std::coroutine_handle<promise_type> h;
};

template <typename T>
when_all_child run_child(task<T> t, std::optional<T>* slot) {
    *slot = co_await std::move(t);
}
inline when_all_child run_child(task<void> t, std::optional<std::monostate>* slot) {
    co_await std::move(t);
    *slot = std::monostate{};
}

template <typename T>
using slot_type = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

// Starts every child, then suspends the parent unless they all completed synchronously. The latch
// starts at children + 1: the parent's own count makes the last child's resume safe even when every
// child finishes inside await_suspend.
struct when_all_starter {
    when_all_latch& latch;
    std::vector<std::coroutine_handle<when_all_child::promise_type>>& children;
    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<> parent) {
        latch.parent = parent;
        for (auto c : children) c.resume();
        return --latch.remaining != 0;
    }
    void await_resume() const noexcept {}
};

}  // namespace detail

// when_all over a vector of tasks of one type.
template <typename T>
task<std::vector<detail::slot_type<T>>> when_all(std::vector<task<T>> tasks) {
    using S = detail::slot_type<T>;
    std::vector<std::optional<S>> slots(tasks.size());
    detail::when_all_latch latch{tasks.size() + 1, {}, {}};
    std::vector<std::coroutine_handle<detail::when_all_child::promise_type>> children;
    children.reserve(tasks.size());
    for (size_t i = 0; i < tasks.size(); ++i) {
        auto child = detail::run_child(std::move(tasks[i]), &slots[i]);
        child.h.promise().latch = &latch;
        children.push_back(child.h);
    }
    co_await detail::when_all_starter{latch, children};
    if (latch.first_error) std::rethrow_exception(latch.first_error);
    std::vector<S> out;
    out.reserve(slots.size());
    for (auto& s : slots) out.push_back(std::move(*s));
    co_return out;
}

// when_all over tasks of different types; returns a tuple (void becomes std::monostate).
template <typename... Ts>
task<std::tuple<detail::slot_type<Ts>...>> when_all(task<Ts>... tasks) {
    std::tuple<std::optional<detail::slot_type<Ts>>...> slots;
    detail::when_all_latch latch{sizeof...(Ts) + 1, {}, {}};
    std::vector<std::coroutine_handle<detail::when_all_child::promise_type>> children;
    children.reserve(sizeof...(Ts));
    [&]<size_t... I>(std::index_sequence<I...>) {
        (
            [&] {
                auto child = detail::run_child(std::move(tasks), &std::get<I>(slots));
                child.h.promise().latch = &latch;
                children.push_back(child.h);
            }(),
            ...);
    }(std::index_sequence_for<Ts...>{});
    co_await detail::when_all_starter{latch, children};
    if (latch.first_error) std::rethrow_exception(latch.first_error);
    co_return std::apply([](auto&... s) { return std::tuple<detail::slot_type<Ts>...>{std::move(*s)...}; },
                         slots);
}

}  // namespace wharf
