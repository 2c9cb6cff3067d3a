#include "perf/lib/svg_chart.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

#include "reactor/base/assert.h"

namespace wharf::perf {

namespace {

// Tableau's ten categorical colours: distinct for the usual colour-vision deficiencies. Series
// beyond ten repeat a colour with a dash pattern.
constexpr std::array<const char*, 10> palette = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728",
                                                 "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                                                 "#bcbd22", "#17becf"};

constexpr int margin_left = 72;
constexpr int margin_right = 40;  // room for half of the last x tick label
constexpr int margin_top = 40;
constexpr int margin_bottom = 52;  // tick labels and the x label
constexpr int legend_row_px = 18;
constexpr double char_px = 7.0;  // a rough width of one 12px sans-serif character

// Maps data coordinates to pixels for one chart.
struct frame {
    double x0, x1, y0, y1;            // the data range of the axes
    double left, top, width, height;  // the plot area in pixels

    double px(double x) const { return left + (x - x0) / (x1 - x0) * width; }
    double py(double y) const { return top + height - (y - y0) / (y1 - y0) * height; }
};

double axis_x(const line_chart& c, double x) {
    return c.x_axis == x_scale::percentile ? percentile_axis_position(x) : x;
}

// Tick labels: a k/M/G suffix when the numbers grow long, as many decimals as the step needs.
std::vector<std::string> tick_labels(const std::vector<double>& ticks) {
    double largest = 0;
    for (double t : ticks) {
        largest = std::max(largest, std::abs(t));
    }
    double scale = 1;
    const char* suffix = "";
    if (largest >= 1e9) {
        scale = 1e9;
        suffix = "G";
    } else if (largest >= 1e6) {
        scale = 1e6;
        suffix = "M";
    } else if (largest >= 1e4) {
        scale = 1e3;
        suffix = "k";
    }
    double step = ticks.size() > 1 ? (ticks[1] - ticks[0]) / scale : 1;
    int decimals = std::clamp(static_cast<int>(std::ceil(-std::log10(step) - 1e-9)), 0, 9);
    std::vector<std::string> labels;
    labels.reserve(ticks.size());
    for (double t : ticks) {
        double v = t / scale + 0.0;  // + 0.0 turns -0 into 0
        labels.push_back(v == 0 ? std::string("0") : fmt::format("{:.{}f}{}", v, decimals, suffix));
    }
    return labels;
}

// The data range of every finite point, on the axis's own scale.
struct extent {
    double x_lo = std::numeric_limits<double>::infinity();
    double x_hi = -std::numeric_limits<double>::infinity();
    double y_lo = std::numeric_limits<double>::infinity();
    double y_hi = -std::numeric_limits<double>::infinity();
};

extent data_extent(const line_chart& c) {
    extent e;
    for (const chart_series& s : c.series) {
        for (const auto& [x, y] : s.points) {
            if (!std::isfinite(x) || !std::isfinite(y)) {
                continue;
            }
            double ax = axis_x(c, x);
            e.x_lo = std::min(e.x_lo, ax);
            e.x_hi = std::max(e.x_hi, ax);
            e.y_lo = std::min(e.y_lo, y);
            e.y_hi = std::max(e.y_hi, y);
        }
    }
    return e;
}

void draw_axes(std::string& out, const line_chart& c, const frame& f,
               const std::vector<double>& x_ticks, const std::vector<std::string>& x_labels,
               const std::vector<double>& y_ticks) {
    std::vector<std::string> y_labels = tick_labels(y_ticks);
    out += "<g class=\"grid\" stroke=\"#e0e0e0\" stroke-width=\"1\">\n";
    for (double t : y_ticks) {
        out += fmt::format("<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\"/>\n",
                           f.left, f.py(t), f.left + f.width, f.py(t));
    }
    for (double t : x_ticks) {
        out += fmt::format("<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\"/>\n",
                           f.px(t), f.top, f.px(t), f.top + f.height);
    }
    out += "</g>\n";
    out += fmt::format(
        "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"none\" "
        "stroke=\"#555555\" stroke-width=\"1\"/>\n",
        f.left, f.top, f.width, f.height);
    out += "<g class=\"y-ticks\" text-anchor=\"end\">\n";
    for (size_t i = 0; i < y_ticks.size(); ++i) {
        out += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\">{}</text>\n", f.left - 6,
                           f.py(y_ticks[i]) + 4, xml_escape(y_labels[i]));
    }
    out += "</g>\n<g class=\"x-ticks\" text-anchor=\"middle\">\n";
    for (size_t i = 0; i < x_ticks.size(); ++i) {
        out += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\">{}</text>\n", f.px(x_ticks[i]),
                           f.top + f.height + 16, xml_escape(x_labels[i]));
    }
    out += "</g>\n";
    out += fmt::format(
        "<text class=\"x-label\" x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">"
        "{}</text>\n",
        f.left + f.width / 2, f.top + f.height + 38, xml_escape(c.x_label));
    double mid_y = f.top + f.height / 2;
    out += fmt::format(
        "<text class=\"y-label\" x=\"16\" y=\"{:.1f}\" text-anchor=\"middle\" "
        "transform=\"rotate(-90 16 {:.1f})\">{}</text>\n",
        mid_y, mid_y, xml_escape(c.y_label));
}

void draw_shade(std::string& out, const line_chart& c, const frame& f) {
    if (!c.shaded_x) {
        return;
    }
    double a = std::clamp(axis_x(c, c.shaded_x->first), f.x0, f.x1);
    double b = std::clamp(axis_x(c, c.shaded_x->second), f.x0, f.x1);
    if (!(b > a)) {
        return;
    }
    out += fmt::format(
        "<rect class=\"shade\" x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" "
        "fill=\"#808080\" fill-opacity=\"0.15\"/>\n",
        f.px(a), f.top, f.px(b) - f.px(a), f.height);
    out += fmt::format(
        "<text class=\"shade-label\" x=\"{:.1f}\" y=\"{:.1f}\" fill=\"#666666\">"
        "{}</text>\n",
        f.px(a) + 4, f.top + 14, xml_escape(c.shaded_label));
}

void draw_series(std::string& out, const line_chart& c, const frame& f) {
    for (size_t i = 0; i < c.series.size(); ++i) {
        const chart_series& s = c.series[i];
        std::string points;
        for (const auto& [x, y] : s.points) {
            if (!std::isfinite(x) || !std::isfinite(y)) {
                continue;
            }
            double ax = std::clamp(axis_x(c, x), f.x0, f.x1);
            points += fmt::format("{}{:.1f},{:.1f}", points.empty() ? "" : " ", f.px(ax), f.py(y));
        }
        std::string dash = i < palette.size() ? "" : " stroke-dasharray=\"6 3\"";
        out += fmt::format(
            "<polyline class=\"series\" data-series=\"{}\" fill=\"none\" stroke=\"{}\" "
            "stroke-width=\"1.8\" stroke-linejoin=\"round\"{} points=\"{}\"/>\n",
            xml_escape(s.name), palette[i % palette.size()], dash, points);
    }
}

// Legend entries left to right below the plot, wrapping at its width. Returns the rows used.
int draw_legend(std::string& out, const line_chart& c, const frame& f, double top) {
    double x = f.left;
    int rows = c.series.empty() ? 0 : 1;
    out += "<g class=\"legend\">\n";
    for (size_t i = 0; i < c.series.size(); ++i) {
        double item_px = 30 + char_px * static_cast<double>(c.series[i].name.size()) + 16;
        if (x > f.left && x + item_px > f.left + f.width) {
            x = f.left;
            ++rows;
        }
        double y = top + (rows - 1) * legend_row_px + 12;
        std::string dash = i < palette.size() ? "" : " stroke-dasharray=\"6 3\"";
        out += fmt::format(
            "<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" "
            "stroke=\"{}\" stroke-width=\"3\"{}/>\n",
            x, y - 4, x + 24, y - 4, palette[i % palette.size()], dash);
        out += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\">{}</text>\n", x + 30, y,
                           xml_escape(c.series[i].name));
        x += item_px;
    }
    out += "</g>\n";
    return rows;
}

// How many legend rows draw_legend will use, to size the picture before drawing.
int legend_rows(const line_chart& c, double plot_width) {
    std::string ignored;
    frame f{0, 1, 0, 1, 0, 0, plot_width, 0};
    return draw_legend(ignored, c, f, 0);
}

}  // namespace

std::vector<double> nice_ticks(double lo, double hi, int target) {
    WHARF_ASSERT(std::isfinite(lo) && std::isfinite(hi) && lo < hi && target >= 1,
                 "nice_ticks({}, {}, {})", lo, hi, target);
    double raw = (hi - lo) / target;
    double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
    double norm = raw / magnitude;
    double step = (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 5 ? 5 : 10) * magnitude;
    // Relative slack so that a bound that is a multiple in decimal but not in binary (0.3) does
    // not grow the axis by a step.
    double first = std::floor(lo / step + 1e-9);
    double last = std::ceil(hi / step - 1e-9);
    std::vector<double> ticks;
    for (double k = first; k <= last; k += 1) {
        ticks.push_back(k * step);  // k * step, not a running sum: no drift
    }
    return ticks;
}

double percentile_axis_position(double percentile) {
    if (!(percentile > 0)) {
        return 0;
    }
    double rest = 1 - percentile / 100;
    if (rest <= 0) {
        return percentile_axis_end;
    }
    return std::min(-std::log10(rest), percentile_axis_end);
}

std::string xml_escape(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (char ch : text) {
        switch (ch) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&quot;";
                break;
            case '\'':
                out += "&apos;";
                break;
            default: {
                // Control characters other than tab and newlines are not allowed in XML 1.0,
                // not even escaped; a label typed with one still gives a readable page.
                bool control =
                    static_cast<unsigned char>(ch) < 0x20 && ch != '\t' && ch != '\n' && ch != '\r';
                out += control ? '?' : ch;
            }
        }
    }
    return out;
}

std::string render_svg(const line_chart& c) {
    extent e = data_extent(c);
    std::vector<double> x_ticks;
    std::vector<std::string> x_labels;
    if (c.x_axis == x_scale::percentile) {
        x_ticks = {0, 1, 2, 3, 4, 5};
        x_labels = {"0%", "90%", "99%", "99.9%", "99.99%", "99.999%"};
    } else {
        bool has_data = e.x_lo <= e.x_hi;
        double lo = has_data ? e.x_lo : 0;
        double hi = has_data && e.x_hi > lo ? e.x_hi : lo + 1;
        x_ticks = nice_ticks(lo, hi, 8);
        x_labels = tick_labels(x_ticks);
    }
    // Rates, latencies and backlogs read against zero: the y axis always includes it.
    double y_lo = e.y_lo <= e.y_hi ? std::min(0.0, e.y_lo) : 0;
    double y_hi = e.y_lo <= e.y_hi ? std::max(0.0, e.y_hi) : 1;
    if (!(y_hi > y_lo)) {
        y_hi = y_lo + 1;
    }
    std::vector<double> y_ticks = nice_ticks(y_lo, y_hi, 5);

    double plot_width = c.width_px - margin_left - margin_right;
    double plot_height = std::max(40, c.height_px - margin_top - margin_bottom);
    frame f{x_ticks.front(), x_ticks.back(), y_ticks.front(), y_ticks.back(),
            margin_left,     margin_top,     plot_width,      plot_height};
    int rows = legend_rows(c, plot_width);
    int total_height = c.height_px + rows * legend_row_px + (rows > 0 ? 6 : 0);

    std::string out = fmt::format(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" width=\"{0}\" height=\"{1}\" "
        "viewBox=\"0 0 {0} {1}\" font-family=\"sans-serif\" font-size=\"12\">\n",
        c.width_px, total_height);
    out += fmt::format("<title>{}</title>\n", xml_escape(c.title));
    out += fmt::format("<rect width=\"{}\" height=\"{}\" fill=\"#ffffff\"/>\n", c.width_px,
                       total_height);
    out += fmt::format(
        "<text class=\"title\" x=\"{:.1f}\" y=\"22\" text-anchor=\"middle\" "
        "font-size=\"15\" font-weight=\"bold\">{}</text>\n",
        c.width_px / 2.0, xml_escape(c.title));
    draw_shade(out, c, f);
    draw_axes(out, c, f, x_ticks, x_labels, y_ticks);
    draw_series(out, c, f);
    draw_legend(out, c, f, c.height_px);
    out += "</svg>\n";
    return out;
}

}  // namespace wharf::perf
