#include "perf/lib/result.h"

#include <cmath>

namespace wharf::perf {

namespace {

// The distribution stops at 99.999: beyond it a run of a few million records has single samples
// left, and the max closes the curve. k = 50 is 100 * (1 - 10^-5).
constexpr int curve_last_k = 50;

}  // namespace

latency_summary summarize(const histogram& h) {
    latency_summary s;
    if (h.count() == 0) {
        return s;
    }
    s.count = h.count();
    s.mean_us = h.mean();
    s.p50_us = h.percentile(50);
    s.p90_us = h.percentile(90);
    s.p99_us = h.percentile(99);
    s.p999_us = h.percentile(99.9);
    s.p9999_us = h.percentile(99.99);
    s.max_us = h.max();
    s.curve.reserve(curve_last_k + 2);
    for (int k = 0; k <= curve_last_k; ++k) {
        double p = 100.0 * (1.0 - std::pow(10.0, -k / 10.0));
        s.curve.emplace_back(p, h.percentile(p));
    }
    s.curve.emplace_back(100.0, h.max());
    return s;
}

}  // namespace wharf::perf
