#pragma once

// result<T>: a value or an error code (STYLE.md rule 7). Expected failures — client input, full
// disks, lost peers — travel as values; each module (log, raft, net, reactor) has its own `errc`
// enum registered as a std::error_category, and Kafka error codes are chosen only at the handler
// edge.

#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>

#include "reactor/base/assert.h"

namespace wharf {

template <typename T>
class [[nodiscard]] result {
    static_assert(!std::is_same_v<std::decay_t<T>, std::error_code>);

public:
    using value_type = T;

    template <typename U = T>
        requires std::is_constructible_v<T, U&&>
    result(U&& v) : _v(std::in_place_index<0>, std::forward<U>(v)) {}  // NOLINT: implicit by design
    result(std::error_code ec) : _v(std::in_place_index<1>, ec) {       // NOLINT
        WHARF_ASSERT(ec, "a result's error must not be the zero error code");
    }
    template <typename E>
        requires std::is_error_code_enum_v<E>
    result(E e) : result(std::error_code(make_error_code(e))) {}  // NOLINT

    bool has_value() const noexcept { return _v.index() == 0; }
    explicit operator bool() const noexcept { return has_value(); }

    T& value() & { check(); return std::get<0>(_v); }
    const T& value() const& { check(); return std::get<0>(_v); }
    T&& value() && { check(); return std::get<0>(std::move(_v)); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T&& operator*() && { return std::move(*this).value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }

    std::error_code error() const noexcept {
        return has_value() ? std::error_code{} : std::get<1>(_v);
    }

private:
    void check() const {
        WHARF_ASSERT(has_value(), "value() of a result holding error: {}", std::get<1>(_v).message());
    }
    std::variant<T, std::error_code> _v;
};

template <>
class [[nodiscard]] result<void> {
public:
    result() = default;
    result(std::error_code ec) : _ec(ec) {  // NOLINT
        WHARF_ASSERT(ec, "a result's error must not be the zero error code");
    }
    template <typename E>
        requires std::is_error_code_enum_v<E>
    result(E e) : result(std::error_code(make_error_code(e))) {}  // NOLINT

    bool has_value() const noexcept { return !_ec; }
    explicit operator bool() const noexcept { return has_value(); }
    void value() const {
        WHARF_ASSERT(has_value(), "value() of a result holding error: {}", _ec.message());
    }
    std::error_code error() const noexcept { return _ec; }

private:
    std::error_code _ec;
};

using status = result<void>;

// An error code from a negative errno as io_uring returns it.
inline std::error_code errno_code(int err) noexcept {
    return std::error_code(err < 0 ? -err : err, std::system_category());
}

}  // namespace wharf

// Early return on error, for functions that return a result: WHARF_TRY(x, expr) binds x.
#define WHARF_TRY_CONCAT_INNER(a, b) a##b
#define WHARF_TRY_CONCAT(a, b) WHARF_TRY_CONCAT_INNER(a, b)
#define WHARF_TRY(var, expr)                                          \
    auto WHARF_TRY_CONCAT(_wharf_r_, __LINE__) = (expr);              \
    if (!WHARF_TRY_CONCAT(_wharf_r_, __LINE__)) {                     \
        return WHARF_TRY_CONCAT(_wharf_r_, __LINE__).error();         \
    }                                                                 \
    auto var = std::move(WHARF_TRY_CONCAT(_wharf_r_, __LINE__)).value()
