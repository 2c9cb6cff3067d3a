#include "perf/lib/engine/stats.h"

namespace wharf::perf {

counters& counters::operator+=(const counters& o) {
    produced_msgs += o.produced_msgs;
    produced_bytes += o.produced_bytes;
    produce_errors += o.produce_errors;
    consumed_msgs += o.consumed_msgs;
    consumed_bytes += o.consumed_bytes;
    return *this;
}

counters counters::operator-(const counters& o) const {
    return counters{produced_msgs - o.produced_msgs, produced_bytes - o.produced_bytes,
                    produce_errors - o.produce_errors, consumed_msgs - o.consumed_msgs,
                    consumed_bytes - o.consumed_bytes};
}

histogram make_latency_histogram() {
    return histogram(60'000'000, 3);
}

void interval_snapshot::merge(const interval_snapshot& o) {
    totals += o.totals;
    produce.merge(o.produce);
    e2e.merge(o.e2e);
}

shard_stats::shard_stats(size_t partitions, size_t groups)
    : _partitions(partitions), _acked(partitions, 0), _consumed(partitions * groups, 0) {}

interval_snapshot shard_stats::take_interval() {
    interval_snapshot s;
    s.totals = totals;
    std::swap(s.produce, _interval_produce);
    std::swap(s.e2e, _interval_e2e);
    return s;
}

delivery check_delivery(const std::vector<uint64_t>& acked, const std::vector<uint64_t>& consumed,
                        size_t groups) {
    delivery d;
    size_t partitions = acked.size();
    for (uint64_t a : acked) d.acked_total += a;
    for (size_t g = 0; g < groups; ++g) {
        for (size_t p = 0; p < partitions; ++p) {
            uint64_t c = consumed[g * partitions + p];
            d.consumed_total += c;
            if (c > acked[p]) d.duplicates += c - acked[p];
            if (c < acked[p]) d.missing += acked[p] - c;
        }
    }
    return d;
}

}  // namespace wharf::perf
