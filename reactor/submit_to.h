#pragma once

// co_await submit_to(shard, fn): run fn on another shard and get its result back on this one
// (DESIGN.md section 3). fn may return a value, void, or a task (which is awaited on the target).
// fn is moved to the target and destroyed there; its result (or exception) is moved back.
// On the calling shard itself fn runs inline.
//
// GCC 12 bug: a lambda with init-captures written as a temporary inside a co_await expression
// (`co_await submit_to(s, [b = std::move(buf)] {...})`) has its captures destroyed twice. Name the
// lambda first (`auto fn = [b = std::move(buf)] {...}; co_await submit_to(s, std::move(fn));`).
// Plain captures and struct temporaries are not affected. tests/reactor/cross_shard_test.cc
// exercises the named form.

#include <coroutine>
#include <exception>
#include <optional>
#include <type_traits>
#include <utility>
#include <variant>

#include "reactor/base/assert.h"
#include "reactor/cross_shard.h"
#include "reactor/reactor.h"
#include "reactor/shard.h"
#include "reactor/spawn.h"
#include "reactor/task.h"

namespace wharf {

namespace detail {

template <typename T>
struct unwrap_task {
    using type = T;
};
template <typename T>
struct unwrap_task<task<T>> {
    using type = T;
};

template <typename F>
using submit_result_t = typename unwrap_task<std::invoke_result_t<F&>>::type;

template <typename F>
class submit_item final : public cross_shard_item {
    using R = submit_result_t<F>;
    using slot = std::conditional_t<std::is_void_v<R>, std::monostate, R>;

public:
    submit_item(shard_id from, shard_id to, F fn) : _from(from), _to(to), _fn(std::move(fn)) {}

    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h) {
        _waiter = h;
        current_mesh()->send(_from, _to, this);
    }
    R await_resume() {
        if (_error) std::rethrow_exception(_error);
        if constexpr (!std::is_void_v<R>) return std::move(*_value);
    }

    // Runs twice: on the target (the request) and back on the source (the reply).
    void run() noexcept override {
        if (!_replying) {
            _replying = true;
            execute();
        } else {
            reactor::local().schedule(_waiter);
        }
    }

private:
    void execute() noexcept {
        [](submit_item* self) -> detached_coroutine {
            try {
                if constexpr (std::is_same_v<std::invoke_result_t<F&>, task<R>>) {
                    if constexpr (std::is_void_v<R>) {
                        co_await (*self->_fn)();
                    } else {
                        self->_value.emplace(co_await (*self->_fn)());
                    }
                } else if constexpr (std::is_void_v<R>) {
                    (*self->_fn)();
                } else {
                    self->_value.emplace((*self->_fn)());
                }
            } catch (...) {
                self->_error = std::current_exception();
            }
            // The function object belongs to the target shard: destroy it here.
            self->_fn.reset();
            current_mesh()->send(self->_to, self->_from, self);
        }(this);
    }

    shard_id _from;
    shard_id _to;
    std::optional<F> _fn;
    std::optional<slot> _value;
    std::exception_ptr _error;
    std::coroutine_handle<> _waiter;
    bool _replying = false;
};

}  // namespace detail

template <typename F>
task<detail::submit_result_t<F>> submit_to(shard_id to, F fn) {
    using R = detail::submit_result_t<F>;
    if (to == this_shard()) {
        if constexpr (std::is_same_v<std::invoke_result_t<F&>, task<R>>) {
            co_return co_await fn();
        } else {
            co_return fn();
        }
    }
    WHARF_ASSERT(current_mesh() != nullptr && to.value() < current_mesh()->shard_count(),
                 "submit_to shard {} outside the running shards", to);
    // Named, not a temporary: the item must live in this frame until the reply arrives.
    detail::submit_item<F> item(this_shard(), to, std::move(fn));
    co_return co_await item;
}

}  // namespace wharf
