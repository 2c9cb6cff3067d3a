#pragma once

// A small, self-contained SVG line chart: a title, axis labels, "nice" ticks (steps of 1, 2 or 5
// times a power of ten) on linear axes, several named series in distinct colours with a legend
// below the plot, and an optional shaded band (the warm-up). The x axis is either linear or a
// percentile axis in HdrHistogram's style: a percentile p is placed at -log10(1 - p/100), so
// 90, 99, 99.9, 99.99 and 99.999 are evenly spaced (ticks at 0 and those five); the tail of a
// latency distribution gets as much room as its body. Points at or beyond 99.999 (the max at
// 100) sit on the right edge.
//
// The output is one well-formed XML element, <svg xmlns="http://www.w3.org/2000/svg" ...>,
// without an XML declaration, so it can stand alone as a .svg file or be inlined in an XHTML
// page. Every text is escaped. Each series is one <polyline class="series"> whose points are its
// finite points in order (non-finite ones are dropped). Pure functions; safe from any thread.

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace wharf::perf {

enum class x_scale {
    linear,
    percentile,  // x values are percentiles in [0, 100]
};

struct chart_series {
    std::string name;
    std::vector<std::pair<double, double>> points;  // (x, y) in data units
};

struct line_chart {
    std::string title;
    std::string x_label;
    std::string y_label;
    x_scale x_axis = x_scale::linear;
    std::vector<chart_series> series;
    // A shaded band over [first, second] of the x axis, labelled below the title of the band.
    std::optional<std::pair<double, double>> shaded_x;
    std::string shaded_label = "warm-up";
    int width_px = 760;
    int height_px = 300;  // without the legend, which adds a row per line of names
};

std::string render_svg(const line_chart& chart);

// The ticks of a linear axis that covers [lo, hi] with about `target` intervals: multiples of a
// step of 1, 2 or 5 times a power of ten, from the largest multiple <= lo to the smallest >= hi.
// REQUIRES: lo < hi, both finite, target >= 1.
std::vector<double> nice_ticks(double lo, double hi, int target);

// Where a percentile sits on the percentile axis: -log10(1 - p/100), capped at the axis end (5,
// for 99.999). p <= 0 gives 0.
double percentile_axis_position(double percentile);
inline constexpr double percentile_axis_end = 5.0;

// Escapes &, <, >, " and ' for XML text and attribute values; control characters that XML
// forbids become '?'.
std::string xml_escape(std::string_view text);

}  // namespace wharf::perf
