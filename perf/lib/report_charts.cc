#include "perf/lib/report_charts.h"

#include <fmt/format.h>

#include <algorithm>

namespace wharf::perf {

namespace {

using sample_value = double (*)(const interval_sample&);

double us_to_ms(uint64_t us) {
    return static_cast<double>(us) / 1000.0;
}

chart_series timeline_series(std::string name, const run_result& r, sample_value value) {
    chart_series s{std::move(name), {}};
    s.points.reserve(r.timeline.size());
    for (const interval_sample& sample : r.timeline) {
        s.points.emplace_back(sample.t_s, value(sample));
    }
    return s;
}

chart_series distribution_series(std::string name, const latency_summary& l) {
    chart_series s{std::move(name), {}};
    s.points.reserve(l.curve.size());
    for (const auto& [p, us] : l.curve) {
        s.points.emplace_back(p, us_to_ms(us));
    }
    return s;
}

line_chart time_chart(std::string title, std::string y_label) {
    line_chart c;
    c.title = std::move(title);
    c.x_label = "time since the producers started (s)";
    c.y_label = std::move(y_label);
    return c;
}

line_chart distribution_chart(std::string title) {
    line_chart c;
    c.title = std::move(title);
    c.x_label = "percentile";
    c.y_label = "latency (ms)";
    c.x_axis = x_scale::percentile;
    return c;
}

void shade_warmup(line_chart& c, double end_s) {
    if (end_s > 0) {
        c.shaded_x = std::pair{0.0, end_s};
    }
}

// One measure of the timeline, a series per run, for the compare view.
struct timeline_measure {
    const char* title;
    const char* y_label;
    sample_value value;
};

const timeline_measure compare_measures[] = {
    {"Produce throughput (MB/s)", "MB/s",
     [](const interval_sample& s) { return s.produce_mb_per_s; }},
    {"Consume throughput (MB/s)", "MB/s",
     [](const interval_sample& s) { return s.consume_mb_per_s; }},
    {"Produce throughput (msgs/s)", "messages/s",
     [](const interval_sample& s) { return s.produce_msgs_per_s; }},
    {"Consume throughput (msgs/s)", "messages/s",
     [](const interval_sample& s) { return s.consume_msgs_per_s; }},
    {"Produce p99 latency over time", "latency (ms)",
     [](const interval_sample& s) { return us_to_ms(s.produce_p99_us); }},
    {"End-to-end p99 latency over time", "latency (ms)",
     [](const interval_sample& s) { return us_to_ms(s.e2e_p99_us); }},
    {"Consumer backlog", "messages",
     [](const interval_sample& s) { return static_cast<double>(s.backlog_msgs); }},
};

}  // namespace

std::string run_name(const run_result& r, size_t index) {
    if (!r.label.empty()) {
        return r.label;
    }
    if (!r.workload_name.empty()) {
        return r.workload_name;
    }
    return fmt::format("run {}", index + 1);
}

double warmup_end_s(const run_result& r) {
    double end = 0;
    for (const interval_sample& s : r.timeline) {
        if (s.warmup) {
            end = std::max(end, s.t_s);
        }
    }
    return end;
}

std::vector<line_chart> run_charts(const run_result& r) {
    double warmup = warmup_end_s(r);
    std::vector<line_chart> charts;

    line_chart mb = time_chart("Throughput (MB/s)", "MB/s");
    mb.series.push_back(
        timeline_series("produce", r, [](const interval_sample& s) { return s.produce_mb_per_s; }));
    mb.series.push_back(
        timeline_series("consume", r, [](const interval_sample& s) { return s.consume_mb_per_s; }));
    charts.push_back(std::move(mb));

    line_chart msgs = time_chart("Throughput (msgs/s)", "messages/s");
    msgs.series.push_back(timeline_series(
        "produce", r, [](const interval_sample& s) { return s.produce_msgs_per_s; }));
    msgs.series.push_back(timeline_series(
        "consume", r, [](const interval_sample& s) { return s.consume_msgs_per_s; }));
    charts.push_back(std::move(msgs));

    line_chart p99 = time_chart("p99 latency over time", "latency (ms)");
    p99.series.push_back(timeline_series(
        "produce p99", r, [](const interval_sample& s) { return us_to_ms(s.produce_p99_us); }));
    p99.series.push_back(timeline_series(
        "end-to-end p99", r, [](const interval_sample& s) { return us_to_ms(s.e2e_p99_us); }));
    charts.push_back(std::move(p99));

    line_chart backlog = time_chart("Consumer backlog", "messages");
    backlog.series.push_back(timeline_series("backlog", r, [](const interval_sample& s) {
        return static_cast<double>(s.backlog_msgs);
    }));
    charts.push_back(std::move(backlog));

    for (line_chart& c : charts) {
        shade_warmup(c, warmup);
    }

    line_chart dist = distribution_chart("Latency percentile distribution");
    dist.series.push_back(distribution_series("produce", r.produce_latency));
    dist.series.push_back(distribution_series("end-to-end", r.e2e_latency));
    charts.push_back(std::move(dist));
    return charts;
}

std::vector<line_chart> compare_charts(const std::vector<run_result>& runs) {
    // Shade only a warm-up all runs share: one run's band over another's line would mislead.
    double warmup = runs.empty() ? 0 : warmup_end_s(runs.front());
    for (const run_result& r : runs) {
        if (warmup_end_s(r) != warmup) {
            warmup = 0;
        }
    }
    std::vector<line_chart> charts;
    for (const timeline_measure& m : compare_measures) {
        line_chart c = time_chart(m.title, m.y_label);
        for (size_t i = 0; i < runs.size(); ++i) {
            c.series.push_back(timeline_series(run_name(runs[i], i), runs[i], m.value));
        }
        shade_warmup(c, warmup);
        charts.push_back(std::move(c));
    }
    line_chart produce = distribution_chart("Produce latency percentile distribution");
    line_chart e2e = distribution_chart("End-to-end latency percentile distribution");
    for (size_t i = 0; i < runs.size(); ++i) {
        produce.series.push_back(
            distribution_series(run_name(runs[i], i), runs[i].produce_latency));
        e2e.series.push_back(distribution_series(run_name(runs[i], i), runs[i].e2e_latency));
    }
    charts.push_back(std::move(produce));
    charts.push_back(std::move(e2e));
    return charts;
}

}  // namespace wharf::perf
