#pragma once

// The charts of `wharf bench` reports, built from run results: what report_html inlines, and
// what a caller can write out as standalone .svg files (render_svg of each). Times on the x axis
// are the timeline's seconds since the producers started; latencies are drawn in milliseconds.
// Pure functions; safe from any thread.

#include <string>
#include <vector>

#include "perf/lib/result.h"
#include "perf/lib/svg_chart.h"

namespace wharf::perf {

// One run: throughput in MB/s (produce, consume), throughput in msgs/s (produce, consume), p99
// latency over time (produce, end-to-end), consumer backlog over time, and the latency percentile
// distributions (produce, end-to-end) on the percentile axis. Time charts shade the warm-up.
std::vector<line_chart> run_charts(const run_result& r);

// Several runs: the same measures with one series per run, named by run_name. Produce and
// consume get a chart each. The warm-up is shaded when every run had the same one.
std::vector<line_chart> compare_charts(const std::vector<run_result>& runs);

// How a run is called in reports: its label, else its workload's name, else "run N" (1-based).
std::string run_name(const run_result& r, size_t index);

// The end of the warm-up in timeline seconds: the last warm-up sample's t_s; 0 without one.
double warmup_end_s(const run_result& r);

}  // namespace wharf::perf
