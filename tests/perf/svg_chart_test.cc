#include "perf/lib/svg_chart.h"

#include <gtest/gtest.h>

#include <cmath>
#include <regex>

namespace wharf::perf {
namespace {

size_t count_of(std::string_view text, std::string_view needle) {
    size_t n = 0;
    for (size_t at = text.find(needle); at != std::string_view::npos;
         at = text.find(needle, at + needle.size())) {
        ++n;
    }
    return n;
}

// The `points` attribute of every series polyline, in order.
std::vector<std::string> series_points(const std::string& svg) {
    std::vector<std::string> out;
    std::regex polyline(R"re(<polyline class="series"[^>]* points="([^"]*)")re");
    for (std::sregex_iterator it(svg.begin(), svg.end(), polyline), end; it != end; ++it) {
        out.push_back((*it)[1]);
    }
    return out;
}

std::vector<std::pair<double, double>> parse_points(const std::string& points) {
    std::vector<std::pair<double, double>> out;
    std::regex pair(R"(([-0-9.]+),([-0-9.]+))");
    for (std::sregex_iterator it(points.begin(), points.end(), pair), end; it != end; ++it) {
        out.emplace_back(std::stod((*it)[1]), std::stod((*it)[2]));
    }
    return out;
}

// The elements of the <g> of that class.
std::string group_body(const std::string& svg, const std::string& group) {
    size_t begin = svg.find("<g class=\"" + group + "\"");
    EXPECT_NE(begin, std::string::npos) << group;
    if (begin == std::string::npos) {
        return "";
    }
    return svg.substr(begin, svg.find("</g>", begin) - begin);
}

// The text of every label in the group of that class, in order.
std::vector<std::string> tick_texts(const std::string& svg, const std::string& group) {
    std::string body = group_body(svg, group);
    std::vector<std::string> out;
    std::regex text(R"(<text[^>]*>([^<]*)</text>)");
    for (std::sregex_iterator it(body.begin(), body.end(), text), e; it != e; ++it) {
        out.push_back((*it)[1]);
    }
    return out;
}

// The x coordinate of the x tick labelled `label`.
double x_tick_position(const std::string& svg, const std::string& label) {
    std::string body = group_body(svg, "x-ticks");
    std::regex tick(R"re(<text x="([0-9.]+)"[^>]*>([^<]*)</text>)re");
    for (std::sregex_iterator it(body.begin(), body.end(), tick), e; it != e; ++it) {
        if ((*it)[2] == label) {
            return std::stod((*it)[1]);
        }
    }
    ADD_FAILURE() << "no x tick " << label;
    return -1;
}

TEST(nice_ticks, steps_of_one_two_or_five) {
    EXPECT_EQ(nice_ticks(0, 7.3, 5), (std::vector<double>{0, 2, 4, 6, 8}));
    EXPECT_EQ(nice_ticks(0, 1000, 5), (std::vector<double>{0, 200, 400, 600, 800, 1000}));
    EXPECT_EQ(nice_ticks(-3, 47, 5), (std::vector<double>{-10, 0, 10, 20, 30, 40, 50}));
    EXPECT_EQ(nice_ticks(0, 10, 8), (std::vector<double>{0, 2, 4, 6, 8, 10}));
    EXPECT_EQ(nice_ticks(0, 2.4e6, 5), (std::vector<double>{0, 0.5e6, 1e6, 1.5e6, 2e6, 2.5e6}));
    // A bound that is a multiple of the step in decimal does not grow the axis.
    auto small = nice_ticks(0, 0.3, 3);
    ASSERT_EQ(small.size(), 4u);
    EXPECT_NEAR(small.back(), 0.3, 1e-12);
}

TEST(percentile_axis, nines_are_evenly_spaced) {
    EXPECT_EQ(percentile_axis_position(0), 0);
    EXPECT_NEAR(percentile_axis_position(90), 1, 1e-9);
    EXPECT_NEAR(percentile_axis_position(99), 2, 1e-9);
    EXPECT_NEAR(percentile_axis_position(99.9), 3, 1e-9);
    EXPECT_NEAR(percentile_axis_position(99.999), 5, 1e-6);
    EXPECT_EQ(percentile_axis_position(100), percentile_axis_end);
    EXPECT_EQ(percentile_axis_position(99.99999), percentile_axis_end);
}

TEST(svg_chart, one_polyline_per_series_with_its_points) {
    line_chart c;
    c.title = "Throughput";
    c.x_label = "time (s)";
    c.y_label = "MB/s";
    c.series.push_back({"produce", {{0, 1}, {2.5, 7.3}, {5, 3}, {10, 4}}});
    c.series.push_back({"consume", {{0, 0}, {1, 1}, {2, NAN}, {3, 2}, {4, 2}, {5, 1}, {6, 0}}});
    c.series.push_back({"nothing yet", {}});
    std::string svg = render_svg(c);
    EXPECT_EQ(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0), 0u);
    auto points = series_points(svg);
    ASSERT_EQ(points.size(), 3u);
    EXPECT_EQ(parse_points(points[0]).size(), 4u);
    EXPECT_EQ(parse_points(points[1]).size(), 6u);  // the NaN point is dropped
    EXPECT_EQ(parse_points(points[2]).size(), 0u);
    EXPECT_EQ(count_of(svg, "<polyline"), 3u);
    // Distinct colours.
    EXPECT_NE(svg.find("stroke=\"#1f77b4\""), std::string::npos);
    EXPECT_NE(svg.find("stroke=\"#ff7f0e\""), std::string::npos);
    EXPECT_NE(svg.find("stroke=\"#2ca02c\""), std::string::npos);
    // Axes: y from 0 to 7.3 in steps of 2, x from 0 to 10 in steps of 2.
    EXPECT_EQ(tick_texts(svg, "y-ticks"), (std::vector<std::string>{"0", "2", "4", "6", "8"}));
    EXPECT_EQ(tick_texts(svg, "x-ticks"),
              (std::vector<std::string>{"0", "2", "4", "6", "8", "10"}));
    // The legend names every series; the labels are there.
    EXPECT_EQ(tick_texts(svg, "legend"),
              (std::vector<std::string>{"produce", "consume", "nothing yet"}));
    EXPECT_NE(svg.find(">time (s)</text>"), std::string::npos);
    EXPECT_NE(svg.find(">MB/s</text>"), std::string::npos);
    EXPECT_NE(svg.find(">Throughput</text>"), std::string::npos);
}

TEST(svg_chart, points_are_placed_on_the_axes) {
    line_chart c;
    c.series.push_back({"s", {{0, 0}, {10, 8}, {5, 4}}});
    c.width_px = 600;
    c.height_px = 300;
    std::string svg = render_svg(c);
    auto p = parse_points(series_points(svg).at(0));
    ASSERT_EQ(p.size(), 3u);
    // (0, 0) is the plot's bottom left, (10, 8) its top right, (5, 4) the middle.
    EXPECT_LT(p[0].first, p[1].first);
    EXPECT_GT(p[0].second, p[1].second);  // SVG's y grows downwards
    EXPECT_NEAR(p[2].first, (p[0].first + p[1].first) / 2, 0.1);
    EXPECT_NEAR(p[2].second, (p[0].second + p[1].second) / 2, 0.1);
    EXPECT_NEAR(p[0].first, x_tick_position(svg, "0"), 0.1);
    EXPECT_NEAR(p[1].first, x_tick_position(svg, "10"), 0.1);
}

TEST(svg_chart, percentile_axis_places_the_nines_at_their_ticks) {
    line_chart c;
    c.x_axis = x_scale::percentile;
    c.series.push_back({"latency", {{0, 1}, {90, 2}, {99, 3}, {99.9, 4}, {99.99, 5}, {100, 9}}});
    std::string svg = render_svg(c);
    EXPECT_EQ(tick_texts(svg, "x-ticks"),
              (std::vector<std::string>{"0%", "90%", "99%", "99.9%", "99.99%", "99.999%"}));
    auto p = parse_points(series_points(svg).at(0));
    ASSERT_EQ(p.size(), 6u);
    EXPECT_NEAR(p[0].first, x_tick_position(svg, "0%"), 0.1);
    EXPECT_NEAR(p[1].first, x_tick_position(svg, "90%"), 0.1);
    EXPECT_NEAR(p[2].first, x_tick_position(svg, "99%"), 0.1);
    EXPECT_NEAR(p[3].first, x_tick_position(svg, "99.9%"), 0.1);
    EXPECT_NEAR(p[4].first, x_tick_position(svg, "99.99%"), 0.1);
    EXPECT_NEAR(p[5].first, x_tick_position(svg, "99.999%"), 0.1);  // the max: the right edge
    // Evenly spaced nines.
    EXPECT_NEAR(p[2].first - p[1].first, p[3].first - p[2].first, 0.2);
}

TEST(svg_chart, large_values_get_a_suffix) {
    line_chart c;
    c.series.push_back({"msgs", {{0, 0}, {1, 2.4e6}}});
    EXPECT_EQ(tick_texts(render_svg(c), "y-ticks"),
              (std::vector<std::string>{"0", "0.5M", "1.0M", "1.5M", "2.0M", "2.5M"}));
}

TEST(svg_chart, shaded_band_only_when_asked) {
    line_chart c;
    c.series.push_back({"s", {{0, 1}, {10, 2}}});
    EXPECT_EQ(render_svg(c).find("class=\"shade\""), std::string::npos);
    c.shaded_x = std::pair{0.0, 5.0};
    std::string svg = render_svg(c);
    std::smatch m;
    ASSERT_TRUE(std::regex_search(
        svg, m,
        std::regex(R"re(<rect class="shade" x="([0-9.]+)" y="[0-9.]+" width="([0-9.]+)")re")));
    EXPECT_NEAR(std::stod(m[1]), x_tick_position(svg, "0"), 0.1);
    EXPECT_NEAR(std::stod(m[1]) + std::stod(m[2]),
                (x_tick_position(svg, "0") + x_tick_position(svg, "10")) / 2, 0.2);
    EXPECT_NE(svg.find(">warm-up</text>"), std::string::npos);
}

TEST(svg_chart, text_is_escaped) {
    EXPECT_EQ(xml_escape("a<b & \"c\" 'd'>"), "a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;");
    EXPECT_EQ(xml_escape(std::string("tab\tbell\x07")), "tab\tbell?");
    line_chart c;
    c.title = "Kafka <3.7> & Wharf";
    c.series.push_back({"run \"a\" & <b>", {{0, 1}}});
    std::string svg = render_svg(c);
    EXPECT_EQ(svg.find("<3.7>"), std::string::npos);
    EXPECT_EQ(svg.find("<b>"), std::string::npos);
    EXPECT_NE(svg.find("Kafka &lt;3.7&gt; &amp; Wharf"), std::string::npos);
    EXPECT_NE(svg.find("data-series=\"run &quot;a&quot; &amp; &lt;b&gt;\""), std::string::npos);
}

TEST(svg_chart, empty_chart_still_draws_axes) {
    line_chart c;
    std::string svg = render_svg(c);
    EXPECT_EQ(series_points(svg).size(), 0u);
    EXPECT_EQ(tick_texts(svg, "y-ticks").size(), 6u);  // 0 to 1 in steps of 0.2
    EXPECT_EQ(svg.substr(svg.size() - 7), "</svg>\n");
}

}  // namespace
}  // namespace wharf::perf
