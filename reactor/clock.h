#pragma once

// Time as the reactor sees it. log/ and raft/ read time only through these functions (DESIGN.md
// section 2), so a simulation can replace the clock of a thread.

#include <chrono>
#include <cstdint>

#include "reactor/base/ids.h"

namespace wharf {

using steady_clock = std::chrono::steady_clock;
using steady_time = steady_clock::time_point;

namespace detail {
// A simulated clock for the calling thread, or null for the real clocks.
struct clock_source {
    virtual ~clock_source() = default;
    virtual steady_time steady_now() const noexcept = 0;
    virtual timestamp_ms wall_now() const noexcept = 0;
};
inline thread_local const clock_source* current_clock = nullptr;
}  // namespace detail

inline steady_time steady_now() noexcept {
    return detail::current_clock ? detail::current_clock->steady_now() : steady_clock::now();
}

// Milliseconds since the Unix epoch (Kafka timestamps).
inline timestamp_ms wall_now() noexcept {
    if (detail::current_clock) return detail::current_clock->wall_now();
    auto d = std::chrono::system_clock::now().time_since_epoch();
    return timestamp_ms(std::chrono::duration_cast<std::chrono::milliseconds>(d).count());
}

}  // namespace wharf
