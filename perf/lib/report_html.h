#pragma once

// The reports of `wharf bench`: a self-contained HTML page for one run, one that sets several
// runs side by side (the Wharf-vs-Kafka view), and the same comparison as a plain-text table for
// a terminal. The pages need nothing else: CSS inline, charts as inline SVG (report_charts.h), no
// JavaScript. They are also well-formed XML (XHTML-style: every tag closed, every attribute
// quoted, text escaped), so tools and tests can parse them with an XML parser.
//
// Latencies are shown in milliseconds with 3 decimals, MB/s is 10^6 bytes per second. Pure
// functions; safe from any thread.

#include <string>
#include <vector>

#include "perf/lib/result.h"

namespace wharf::perf {

// One run: header (label, workload, brokers, git rev, start time), settings, summary (rates,
// errors, the delivery check with OK / FAILED), latency tables and the charts of run_charts.
std::string render_run_report(const run_result& r);

// Several runs: a table of each run's headline figures with its ratio to the first run
// (throughput, produce p99, end-to-end p99), the runs' settings side by side, and the charts of
// compare_charts. An empty list gives a page that says so.
std::string render_compare_report(const std::vector<run_result>& runs);

// The headline table of render_compare_report as fixed-width text, one line per run after a
// header line: run, produce MB/s, msgs/s, "x first" (MB/s over the first run's), produce p50 /
// p99 / p99.9 ms, "x first" (produce p99 over the first's), end-to-end p50 / p99 / p99.9 ms and
// "x first" (end-to-end p99). A ratio whose base is 0 prints as "-". Ends with a newline.
std::string compare_table(const std::vector<run_result>& runs);

}  // namespace wharf::perf
