#pragma once

// Pieces shared by the run report (report_html.cc) and the compare report
// (report_compare.cc): the page frame, number formats and the delivery verdict. Internal to
// perf/lib; callers use report_html.h.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "perf/lib/result.h"
#include "perf/lib/svg_chart.h"

namespace wharf::perf::report_detail {

// <!DOCTYPE html> through <body>, with the inline style sheet; page_close ends the document.
std::string page_open(std::string_view title);
std::string page_close();

// Every chart as inline SVG, each in a <figure>.
std::string charts_html(const std::vector<line_chart>& charts);

std::string ms(uint64_t us);                 // "12.345"
std::string count(uint64_t n);               // "1,234,567"
std::string rate(double per_s);              // msgs/s rounded, thousands separated
std::string mb(double mb_per_s);             // "123.45"
std::string ratio(std::optional<double> r);  // "2.00", or "-" when there is none

// value / base, or none when the base is 0 or either is not finite.
std::optional<double> ratio_of(double value, double base);

// The delivery check in one word, for tables and CSS: "OK", "FAILED" or "not checked".
struct delivery_verdict {
    const char* text;
    const char* css_class;  // "ok", "failed", "unchecked"
};
delivery_verdict delivery(const run_result& r);

}  // namespace wharf::perf::report_detail
