#pragma once

// Metric families: what a shard reports when /metrics is scraped, and how the reports of every
// shard become one Prometheus text page (DESIGN.md sections 1 and 10).
//
// Metrics cost nothing until a scrape: each subsystem keeps plain per-shard counters and
// histograms (reactor_stats, log_stats, ...). A scrape asks every shard, with submit_to, for a
// snapshot as metric_family values (built on that shard from its own counters); shard 0 merges
// the snapshots (merge_families) and writes the text format (write_prometheus). Families with the
// same name merge into one; series with the same labels add up, so that a metric without a
// "shard" label (Kafka requests per API, bytes per topic) is the sum over shards.
//
// Plain values, no shard affinity: a snapshot moves between shards by value.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "reactor/metrics/histogram.h"

namespace wharf {

enum class metric_type : uint8_t { counter, gauge, histogram };

struct metric_label {
    std::string name;
    std::string value;
    bool operator==(const metric_label&) const = default;
};
using metric_labels = std::vector<metric_label>;

// A histogram as exposed: buckets are per bucket, not cumulative; counts has one more entry than
// bounds, the values above the last bound.
struct histogram_value {
    std::vector<double> bounds;
    std::vector<uint64_t> counts;
    double sum = 0;
};

struct metric_series {
    metric_labels labels;
    double value = 0;           // counters and gauges
    histogram_value histogram;  // histograms
};

struct metric_family {
    // REQUIRES: name matches [a-zA-Z_:][a-zA-Z0-9_:]*; counters end in _total (Prometheus naming).
    metric_family(std::string name, std::string help, metric_type type);

    std::string name;
    std::string help;
    metric_type type;
    std::vector<metric_series> series;

    // A counter or gauge sample.
    void add(metric_labels labels, double value);
    // A histogram sample; `scale` converts the recorded unit to the exposed one (1e-6 for
    // microseconds to seconds).
    template <unsigned Bounds, unsigned Shift>
    void add(metric_labels labels, const log2_histogram<Bounds, Shift>& h, double scale) {
        histogram_value v;
        v.bounds.reserve(Bounds);
        v.counts.reserve(Bounds + 1);
        for (unsigned i = 0; i < Bounds; ++i) {
            v.bounds.push_back(static_cast<double>(h.upper_bound(i)) * scale);
            v.counts.push_back(h.bucket(i));
        }
        v.counts.push_back(h.bucket(Bounds));
        v.sum = static_cast<double>(h.sum()) * scale;
        add_histogram(std::move(labels), std::move(v));
    }
    void add_histogram(metric_labels labels, histogram_value v);
};

// One shard's (or one subsystem's) families.
using metric_families = std::vector<metric_family>;

// Merges the snapshots: one family per name, in order of first appearance; series with equal
// labels are summed (values, bucket counts, sums). REQUIRES: equal names have equal types and
// summed histograms have equal bounds.
metric_families merge_families(std::vector<metric_families> parts);

// Appends the Prometheus text exposition format 0.0.4 of the families: HELP and TYPE lines, then
// the samples; histograms as cumulative _bucket{le=...}, _sum and _count.
void write_prometheus(const metric_families& families, std::string& out);

// The Content-Type of that format.
inline constexpr std::string_view prometheus_content_type =
    "text/plain; version=0.0.4; charset=utf-8";

// Escapes for the text format: label values (backslash, double quote, newline) and HELP text
// (backslash, newline).
std::string escape_label_value(std::string_view s);
std::string escape_help(std::string_view s);

}  // namespace wharf
