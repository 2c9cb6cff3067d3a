#pragma once

// What the engines of one shard count (shard_stats), and the snapshots the runner collects from
// every shard once a second and at the end (DESIGN.md section 3: each shard owns its counters;
// the runner asks for copies with submit_to, nothing is shared).
//
// Latencies go to two pairs of histograms: the interval pair, emptied at every snapshot (the
// progress line and the timeline), and the run pair, which counts only while `measuring` (after
// the warm-up, until the producers stop).

#include <cstdint>
#include <vector>

#include "perf/lib/histogram.h"

namespace wharf::perf {

struct counters {
    uint64_t produced_msgs = 0;  // acknowledged
    uint64_t produced_bytes = 0;
    uint64_t produce_errors = 0;
    uint64_t consumed_msgs = 0;  // of this run, over all groups
    uint64_t consumed_bytes = 0;

    counters& operator+=(const counters& o);
    counters operator-(const counters& o) const;
};

// Histograms of latencies in microseconds, up to one minute (3 significant digits).
histogram make_latency_histogram();

struct interval_snapshot {
    counters totals;  // cumulative since the start
    histogram produce = make_latency_histogram();
    histogram e2e = make_latency_histogram();

    void merge(const interval_snapshot& o);
};

class shard_stats {
public:
    shard_stats(size_t partitions, size_t groups);

    counters totals;
    bool measuring = false;

    void record_produce_latency(uint64_t us) {
        _interval_produce.record(us);
        if (measuring) _run_produce.record(us);
    }
    void record_e2e_latency(uint64_t us) {
        _interval_e2e.record(us);
        if (measuring) _run_e2e.record(us);
    }
    // Per partition (global index: topic * partitions + partition) records acknowledged, and per
    // group and partition records consumed: the delivery check.
    void acked(size_t partition, uint64_t n) { _acked[partition] += n; }
    void consumed(size_t group, size_t partition, uint64_t n) {
        _consumed[group * _partitions + partition] += n;
    }

    // The totals and the interval histograms, which start over.
    interval_snapshot take_interval();
    const histogram& run_produce() const { return _run_produce; }
    const histogram& run_e2e() const { return _run_e2e; }
    const std::vector<uint64_t>& acked_per_partition() const { return _acked; }
    // group-major: [group * partitions + partition]
    const std::vector<uint64_t>& consumed_per_partition() const { return _consumed; }

private:
    size_t _partitions;
    histogram _interval_produce = make_latency_histogram();
    histogram _interval_e2e = make_latency_histogram();
    histogram _run_produce = make_latency_histogram();
    histogram _run_e2e = make_latency_histogram();
    std::vector<uint64_t> _acked;
    std::vector<uint64_t> _consumed;
};

// The delivery check over the whole run: per group and partition, consumed against acknowledged.
struct delivery {
    uint64_t acked_total = 0;
    uint64_t consumed_total = 0;
    uint64_t duplicates = 0;  // consumed beyond what was acknowledged
    uint64_t missing = 0;     // acknowledged and not consumed
};
// acked: per partition; consumed: group-major as shard_stats keeps it.
delivery check_delivery(const std::vector<uint64_t>& acked, const std::vector<uint64_t>& consumed,
                        size_t groups);

}  // namespace wharf::perf
