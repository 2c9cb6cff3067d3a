#pragma once

// A strong typedef: a value of type T that only converts to or from T explicitly, so that a Kafka
// offset never passes for a raft index (DESIGN.md section 2, STYLE.md rule 6).

#include <compare>
#include <cstddef>
#include <functional>
#include <limits>

#include <fmt/format.h>

namespace wharf {

template <typename T, typename Tag>
class strong_type {
public:
    using value_type = T;

    constexpr strong_type() noexcept = default;
    constexpr explicit strong_type(T v) noexcept : _value(v) {}

    constexpr T value() const noexcept { return _value; }
    constexpr explicit operator T() const noexcept { return _value; }

    constexpr auto operator<=>(const strong_type&) const noexcept = default;
    constexpr bool operator==(const strong_type&) const noexcept = default;

    // Arithmetic with the underlying type stays within the strong type: offset + 1 is an offset.
    constexpr strong_type operator+(T d) const noexcept { return strong_type(_value + d); }
    constexpr strong_type operator-(T d) const noexcept { return strong_type(_value - d); }
    constexpr T operator-(strong_type o) const noexcept { return _value - o._value; }
    constexpr strong_type& operator+=(T d) noexcept { _value += d; return *this; }
    constexpr strong_type& operator-=(T d) noexcept { _value -= d; return *this; }
    constexpr strong_type& operator++() noexcept { ++_value; return *this; }
    constexpr strong_type operator++(int) noexcept { auto r = *this; ++_value; return r; }

    static constexpr strong_type min() noexcept { return strong_type(std::numeric_limits<T>::min()); }
    static constexpr strong_type max() noexcept { return strong_type(std::numeric_limits<T>::max()); }

private:
    T _value{};
};

}  // namespace wharf

template <typename T, typename Tag>
struct std::hash<wharf::strong_type<T, Tag>> {
    size_t operator()(const wharf::strong_type<T, Tag>& v) const noexcept {
        return std::hash<T>{}(v.value());
    }
};

template <typename T, typename Tag>
struct fmt::formatter<wharf::strong_type<T, Tag>> : fmt::formatter<T> {
    template <typename Ctx>
    auto format(const wharf::strong_type<T, Tag>& v, Ctx& ctx) const {
        return fmt::formatter<T>::format(v.value(), ctx);
    }
};
