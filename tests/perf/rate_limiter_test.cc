#include "perf/lib/rate_limiter.h"

#include <gtest/gtest.h>

namespace wharf::perf {
namespace {

using namespace std::chrono_literals;
using time_point = rate_limiter::time_point;

// A fake clock: time points built from a fixed origin, advanced by hand.
const time_point t0 = time_point(1000s);

TEST(rate_limiter, due_times_are_start_plus_i_over_rate) {
    rate_limiter r(1000, t0);  // one operation per millisecond
    EXPECT_FALSE(r.unlimited());
    EXPECT_EQ(r.next_due(t0), t0);
    EXPECT_EQ(r.next_due(t0), t0 + 1ms);
    EXPECT_EQ(r.next_due(t0), t0 + 2ms);
    EXPECT_EQ(r.issued(), 3u);
    EXPECT_EQ(r.peek_due(t0), t0 + 3ms);
    EXPECT_EQ(r.issued(), 3u);
    EXPECT_EQ(r.due(1'000'000), t0 + 1000s);
}

TEST(rate_limiter, due_times_do_not_drift_at_fractional_intervals) {
    rate_limiter r(3, t0);  // 333.33 ms apart: adding a rounded interval would drift
    time_point last{};
    for (int i = 0; i < 3'000'001; ++i) {
        last = r.next_due(t0);
    }
    EXPECT_EQ(last, t0 + 1'000'000s);
}

// A late producer (a stalled broker) does not get a new schedule: the due times stay where the
// rate put them, so latencies measured from them include the time it was held up.
TEST(rate_limiter, a_stall_does_not_move_the_schedule) {
    rate_limiter r(100, t0);  // every 10 ms
    EXPECT_EQ(r.next_due(t0), t0);
    time_point late = t0 + 1s;  // the producer was blocked for a second
    EXPECT_EQ(r.lag(late), 990ms);
    EXPECT_EQ(r.ready(late, 1000), 100u);  // operations 1..100 are all due by now
    EXPECT_EQ(r.next_due(late), t0 + 10ms);
    EXPECT_EQ(r.ready(late, 1000), 99u);
    EXPECT_EQ(r.ready(late, 10), 10u);
}

TEST(rate_limiter, ready_counts_operations_due_by_now) {
    rate_limiter r(1000, t0);
    EXPECT_EQ(r.ready(t0 - 1ms, 100), 0u);  // before the start
    EXPECT_EQ(r.ready(t0, 100), 1u);        // operation 0 is due at the start
    EXPECT_EQ(r.ready(t0 + 999us, 100), 1u);
    EXPECT_EQ(r.ready(t0 + 1ms, 100), 2u);  // exactly at the due time counts
    EXPECT_EQ(r.ready(t0 + 5500us, 100), 6u);
    r.next_due(t0);
    r.next_due(t0);
    EXPECT_EQ(r.ready(t0 + 5500us, 100), 4u);
    EXPECT_EQ(r.lag(t0 + 1ms), 0ns);  // operation 2 is due at 2 ms
}

TEST(rate_limiter, ready_rounds_consistently_with_due) {
    rate_limiter r(7, t0);
    for (int ms = 0; ms < 5000; ms += 3) {
        time_point now = t0 + std::chrono::milliseconds(ms);
        uint64_t n = r.ready(now, UINT64_MAX);
        ASSERT_GE(n, 1u);
        ASSERT_LE(r.due(n - 1), now) << ms;
        ASSERT_GT(r.due(n), now) << ms;
    }
}

TEST(rate_limiter, zero_rate_is_unlimited) {
    rate_limiter r(0, t0);
    EXPECT_TRUE(r.unlimited());
    time_point now = t0 + 123ms;
    EXPECT_EQ(r.next_due(now), now);
    EXPECT_EQ(r.peek_due(now), now);
    EXPECT_EQ(r.ready(now, 64), 64u);
    EXPECT_EQ(r.lag(now), 0ns);
    EXPECT_EQ(r.issued(), 1u);
}

}  // namespace
}  // namespace wharf::perf
