#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "perf/lib/report_charts.h"
#include "perf/lib/report_html.h"
#include "perf/lib/result.h"
#include "tests/reactor/test_util.h"

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

// A run with round figures: produce latencies uniform over (0, scale_us] (p99 is 0.99 *
// scale_us), end-to-end twice those; ten one-second samples of which the first two are warm-up.
// Five significant digits keep every recorded value exact, so the figures are round.
run_result synthetic_run(std::string label, double mb_per_s, uint64_t scale_us) {
    run_result r;
    r.label = std::move(label);
    r.workload_name = "1 topic, 16 partitions, 1 KiB";
    r.brokers = "127.0.0.1:9092";
    r.git_rev = "3aaef0e";
    r.started_at = "2026-12-01T20:15:00Z";
    r.settings = {{"acks", "all"}, {"partitions", "16"}};
    r.measured_s = 8;
    r.produce_mb_per_s = mb_per_s;
    r.produce_msgs_per_s = mb_per_s * 1000;
    r.consume_mb_per_s = mb_per_s;
    r.consume_msgs_per_s = mb_per_s * 1000;
    r.acked_total = r.consumed_total = 10'000;
    r.delivery_checked = true;
    histogram produce(histogram::default_max_value, 5);
    histogram e2e(histogram::default_max_value, 5);
    for (uint64_t v = 1; v <= 1000; ++v) {
        produce.record(v * scale_us / 1000);
        e2e.record(v * scale_us / 500);
    }
    r.produce_latency = summarize(produce);
    r.e2e_latency = summarize(e2e);
    for (int t = 1; t <= 10; ++t) {
        interval_sample s;
        s.t_s = t;
        s.warmup = t <= 2;
        s.produce_mb_per_s = s.consume_mb_per_s = mb_per_s;
        s.produce_msgs_per_s = s.consume_msgs_per_s = mb_per_s * 1000;
        s.produce_p99_us = r.produce_latency.p99_us;
        s.e2e_p99_us = r.e2e_latency.p99_us;
        s.backlog_msgs = 10 * t;
        r.timeline.push_back(s);
    }
    return r;
}

TEST(summarize, known_histogram) {
    histogram h;
    for (uint64_t v = 1; v <= 1000; ++v) {
        h.record(v);  // below 2048 every value is its own bucket at 3 digits
    }
    latency_summary s = summarize(h);
    EXPECT_EQ(s.count, 1000u);
    EXPECT_DOUBLE_EQ(s.mean_us, 500.5);
    EXPECT_EQ(s.p50_us, 500u);
    EXPECT_EQ(s.p90_us, 900u);
    EXPECT_EQ(s.p99_us, 990u);
    EXPECT_EQ(s.p999_us, 999u);
    EXPECT_EQ(s.p9999_us, 1000u);
    EXPECT_EQ(s.max_us, 1000u);
    // 100 * (1 - 10^(-k/10)) for k = 0..50, then the max at 100.
    ASSERT_EQ(s.curve.size(), 52u);
    EXPECT_EQ(s.curve.front(), (std::pair<double, uint64_t>{0.0, 1}));
    EXPECT_NEAR(s.curve[10].first, 90, 1e-9);
    EXPECT_EQ(s.curve[10].second, 900u);
    EXPECT_NEAR(s.curve[20].first, 99, 1e-9);
    EXPECT_EQ(s.curve[20].second, 990u);
    EXPECT_NEAR(s.curve[50].first, 99.999, 1e-9);
    EXPECT_EQ(s.curve.back(), (std::pair<double, uint64_t>{100.0, 1000}));
    for (size_t i = 1; i < s.curve.size(); ++i) {
        EXPECT_GT(s.curve[i].first, s.curve[i - 1].first) << i;
        EXPECT_GE(s.curve[i].second, s.curve[i - 1].second) << i;
    }
}

TEST(summarize, empty_histogram_is_all_zero) {
    latency_summary s = summarize(histogram{});
    EXPECT_EQ(s.count, 0u);
    EXPECT_EQ(s.mean_us, 0);
    EXPECT_EQ(s.p50_us, 0u);
    EXPECT_EQ(s.max_us, 0u);
    EXPECT_TRUE(s.curve.empty());
}

TEST(report_charts, run_charts_draw_the_timeline_and_the_distributions) {
    run_result r = synthetic_run("wharf", 200, 2000);
    std::vector<line_chart> charts = run_charts(r);
    ASSERT_EQ(charts.size(), 5u);
    EXPECT_EQ(charts[0].series.size(), 2u);  // produce and consume MB/s
    EXPECT_EQ(charts[0].series[0].points.size(), 10u);
    EXPECT_EQ(charts[0].series[0].points[3], (std::pair<double, double>{4, 200}));
    ASSERT_TRUE(charts[0].shaded_x.has_value());
    EXPECT_EQ(charts[0].shaded_x->second, 2);               // the last warm-up sample
    EXPECT_EQ(charts[2].series[0].points[0].second, 1.98);  // produce p99 in ms
    EXPECT_EQ(charts[3].series[0].points[9].second, 100);   // backlog
    EXPECT_EQ(charts[4].x_axis, x_scale::percentile);
    EXPECT_FALSE(charts[4].shaded_x.has_value());
    EXPECT_EQ(charts[4].series[1].points.size(), r.e2e_latency.curve.size());
    EXPECT_EQ(charts[4].series[1].points.back().second, 4.0);  // e2e max in ms
}

TEST(report_charts, compare_charts_have_a_series_per_run) {
    std::vector<run_result> runs = {synthetic_run("kafka", 100, 4000),
                                    synthetic_run("wharf", 200, 2000), run_result{}};
    runs[2].workload_name = "";
    std::vector<line_chart> charts = compare_charts(runs);
    ASSERT_EQ(charts.size(), 9u);
    for (const line_chart& c : charts) {
        ASSERT_EQ(c.series.size(), 3u) << c.title;
        EXPECT_EQ(c.series[0].name, "kafka");
        EXPECT_EQ(c.series[1].name, "wharf");
        EXPECT_EQ(c.series[2].name, "run 3");
        EXPECT_FALSE(c.shaded_x.has_value()) << "the third run has no warm-up";
    }
    runs.pop_back();
    EXPECT_TRUE(compare_charts(runs)[0].shaded_x.has_value());
}

TEST(report_html, run_report_shows_the_run) {
    run_result r = synthetic_run("wharf <smp=2> & co", 123.456, 2000);
    r.produce_errors = 17;
    std::string html = render_run_report(r);
    EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
    EXPECT_NE(html.find("<h1>wharf &lt;smp=2&gt; &amp; co</h1>"), std::string::npos);
    EXPECT_EQ(html.find("<smp=2>"), std::string::npos);
    EXPECT_NE(html.find("1 topic, 16 partitions, 1 KiB"), std::string::npos);
    EXPECT_NE(html.find("127.0.0.1:9092"), std::string::npos);
    EXPECT_NE(html.find("3aaef0e"), std::string::npos);
    EXPECT_NE(html.find("2026-12-01T20:15:00Z"), std::string::npos);
    EXPECT_NE(html.find("<tr><th>acks</th><td>all</td></tr>"), std::string::npos);
    EXPECT_NE(html.find("<td class=\"num\">123.46</td>"), std::string::npos);   // MB/s
    EXPECT_NE(html.find("<td class=\"num\">123,456</td>"), std::string::npos);  // msgs/s
    EXPECT_NE(html.find("<tr><th>produce errors</th><td class=\"num\">17</td>"), std::string::npos);
    EXPECT_NE(html.find("<td class=\"ok\">OK</td>"), std::string::npos);
    // Produce p50 / p99 / max in ms with three decimals; e2e is twice as slow.
    EXPECT_NE(html.find("<td class=\"num\">1.000</td><td class=\"num\">1.800</td>"
                        "<td class=\"num\">1.980</td><td class=\"num\">1.998</td>"
                        "<td class=\"num\">2.000</td><td class=\"num\">2.000</td>"),
              std::string::npos);
    EXPECT_NE(html.find("<td class=\"num\">3.960</td>"), std::string::npos);  // e2e p99
    EXPECT_EQ(count_of(html, "<svg xmlns=\"http://www.w3.org/2000/svg\""), 5u);
    EXPECT_EQ(html.find("<script"), std::string::npos);
    EXPECT_EQ(html.find("http://www.w3.org/1999/xhtml"), html.find("xmlns=") + 7);
}

TEST(report_html, delivery_failures_are_plain) {
    run_result r = synthetic_run("wharf", 100, 1000);
    r.missing = 3;
    EXPECT_NE(render_run_report(r).find("<td class=\"failed\">FAILED</td>"), std::string::npos);
    r.missing = 0;
    r.duplicates = 1;
    EXPECT_NE(render_run_report(r).find("<td class=\"failed\">FAILED</td>"), std::string::npos);
    r.duplicates = 0;
    r.delivery_checked = false;
    std::string html = render_run_report(r);
    EXPECT_NE(html.find("<td class=\"unchecked\">not checked</td>"), std::string::npos);
    EXPECT_EQ(html.find(">OK<"), std::string::npos);
    // acks=0: nothing was acknowledged, so counts that look like losses are not a failure.
    r.missing = 7;
    r.duplicates = 2;
    html = render_run_report(r);
    EXPECT_NE(html.find("<td class=\"unchecked\">not checked</td>"), std::string::npos);
    EXPECT_EQ(html.find("FAILED"), std::string::npos);
}

TEST(report_html, compare_report_has_every_run_and_the_ratios) {
    std::vector<run_result> runs = {synthetic_run("kafka 3.7", 100, 4000),
                                    synthetic_run("wharf smp=2", 200, 2000)};
    runs[1].settings["acks"] = "1";
    std::string html = render_compare_report(runs);
    EXPECT_NE(html.find("<tr><th>kafka 3.7</th>"), std::string::npos);
    EXPECT_NE(html.find("<tr><th>wharf smp=2</th>"), std::string::npos);
    // wharf: 200 MB/s, 2.00 x first; produce p99 1.980 ms, 0.50 x kafka's 3.960.
    EXPECT_NE(html.find("<td class=\"num\">200.00</td><td class=\"num\">200,000</td>"
                        "<td class=\"num\">2.00</td>"),
              std::string::npos);
    EXPECT_NE(html.find("<td class=\"num\">1.980</td><td class=\"num\">1.998</td>"
                        "<td class=\"num\">0.50</td>"),
              std::string::npos);
    EXPECT_NE(html.find("<tr class=\"differs\"><th>acks</th><td>all</td><td>1</td></tr>"),
              std::string::npos);
    EXPECT_NE(html.find("<tr><th>partitions</th><td>16</td><td>16</td></tr>"), std::string::npos);
    EXPECT_EQ(count_of(html, "<svg xmlns=\"http://www.w3.org/2000/svg\""), 9u);
    EXPECT_EQ(count_of(html, "data-series=\"kafka 3.7\""), 9u);
    EXPECT_NE(render_compare_report({}).find("No runs to compare."), std::string::npos);
}

std::vector<std::vector<std::string>> table_cells(const std::string& table) {
    std::vector<std::vector<std::string>> rows;
    std::istringstream lines(table);
    for (std::string line; std::getline(lines, line);) {
        std::istringstream words(line);
        rows.emplace_back();
        for (std::string w; words >> w;) {
            rows.back().push_back(w);
        }
    }
    return rows;
}

TEST(compare_table, ratios_to_the_first_run) {
    std::vector<run_result> runs = {synthetic_run("kafka", 100, 2000),
                                    synthetic_run("wharf", 200, 3000)};
    runs[1].e2e_latency.p99_us = 0;  // a ratio of 0 to 3960 us
    std::string table = compare_table(runs);
    auto rows = table_cells(table);
    ASSERT_EQ(rows.size(), 3u) << table;
    // run, MB/s, msgs/s, x first, p50, p99, p99.9, x first, e2e p50, p99, p99.9, x first.
    EXPECT_EQ(rows[1],
              (std::vector<std::string>{"kafka", "100.00", "100,000", "1.00", "1.000", "1.980",
                                        "1.998", "1.00", "2.000", "3.960", "3.996", "1.00"}));
    EXPECT_EQ(rows[2],
              (std::vector<std::string>{"wharf", "200.00", "200,000", "2.00", "1.500", "2.970",
                                        "2.997", "1.50", "3.000", "0.000", "5.994", "0.00"}));
    // Fixed width: every line as long as the header.
    std::istringstream lines(table);
    std::string header, line;
    std::getline(lines, header);
    while (std::getline(lines, line)) {
        EXPECT_EQ(line.size(), header.size()) << line;
    }
    EXPECT_NE(header.find("x first"), std::string::npos);
}

TEST(compare_table, a_zero_base_prints_a_dash) {
    std::vector<run_result> runs = {synthetic_run("idle", 0, 2000),
                                    synthetic_run("busy", 50, 2000)};
    runs[0].produce_latency.p99_us = 0;
    auto rows = table_cells(compare_table(runs));
    ASSERT_EQ(rows.size(), 3u);
    EXPECT_EQ(rows[2][3], "-");
    EXPECT_EQ(rows[2][7], "-");
    EXPECT_EQ(rows[2][11], "1.00");
}

// Checks files with Python's XML parser (python3 is always there): exit status 0 when the file
// parses and holds `svgs` SVG elements.
class xml_checker {
public:
    xml_checker() {
        std::ofstream(_dir / "check.py") << R"(import sys
import xml.etree.ElementTree as E
root = E.parse(sys.argv[1]).getroot()
svg = '{http://www.w3.org/2000/svg}svg'
n = len(root.findall('.//' + svg)) + (1 if root.tag == svg else 0)
sys.exit(0 if n == int(sys.argv[2]) else 3)
)";
    }
    int check(const std::string& name, const std::string& text, int svgs) {
        std::filesystem::path file = _dir / name;
        std::ofstream(file) << text;
        std::string command = fmt::format("python3 {} {} {} 2>{}", (_dir / "check.py").string(),
                                          file.string(), svgs, (_dir / "stderr").string());
        int status = std::system(command.c_str());
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }

private:
    temp_dir _tmp;
    std::filesystem::path _dir = _tmp.path();
};

TEST(report_xml, pages_and_charts_are_well_formed_xml) {
    xml_checker xml;
    // The canary: the checker sees a broken page and a wrong count.
    EXPECT_NE(xml.check("broken.html", "<html><p>a & b</p></html>", 0), 0);
    EXPECT_NE(xml.check("unclosed.html", "<html><br></html>", 0), 0);
    EXPECT_EQ(xml.check("count.svg", render_svg(line_chart{}), 2), 3);

    run_result r = synthetic_run("wharf <\"smp\"> & 'co' \x01", 200, 2000);
    r.settings["weird <key>"] = "a & b > c";
    r.brokers = "host:9092&x=<1>";
    r.delivery_checked = false;
    r.produce_mb_per_s = std::nan("");
    EXPECT_EQ(xml.check("run.html", render_run_report(r), 5), 0);
    std::vector<run_result> runs = {r, synthetic_run("kafka", 100, 4000), run_result{}};
    EXPECT_EQ(xml.check("compare.html", render_compare_report(runs), 9), 0);
    EXPECT_EQ(xml.check("empty.html", render_compare_report({}), 0), 0);
    for (const line_chart& c : run_charts(r)) {
        EXPECT_EQ(xml.check("chart.svg", render_svg(c), 1), 0) << c.title;
    }
}

}  // namespace
}  // namespace wharf::perf
