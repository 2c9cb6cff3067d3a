// render_compare_report and compare_table (declared in report_html.h): several runs side by
// side, every figure also as a ratio to the first run, which is how a comparison made in one
// invocation is read (Wharf against Kafka, one revision against another).

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

#include "perf/lib/report_charts.h"
#include "perf/lib/report_html.h"
#include "perf/lib/report_html_parts.h"

namespace wharf::perf {

namespace {

using namespace report_detail;

// The figures of one run that the comparison shows, with its ratios to the first run.
struct headline {
    std::string name;
    double mb_per_s = 0;
    double msgs_per_s = 0;
    std::optional<double> throughput_x_first;
    const latency_summary* produce = nullptr;
    std::optional<double> produce_p99_x_first;
    const latency_summary* e2e = nullptr;
    std::optional<double> e2e_p99_x_first;
};

std::vector<headline> headlines(const std::vector<run_result>& runs) {
    std::vector<headline> rows;
    rows.reserve(runs.size());
    for (size_t i = 0; i < runs.size(); ++i) {
        const run_result& r = runs[i];
        const run_result& first = runs.front();
        rows.push_back(headline{
            .name = run_name(r, i),
            .mb_per_s = r.produce_mb_per_s,
            .msgs_per_s = r.produce_msgs_per_s,
            .throughput_x_first = ratio_of(r.produce_mb_per_s, first.produce_mb_per_s),
            .produce = &r.produce_latency,
            .produce_p99_x_first = ratio_of(static_cast<double>(r.produce_latency.p99_us),
                                            static_cast<double>(first.produce_latency.p99_us)),
            .e2e = &r.e2e_latency,
            .e2e_p99_x_first = ratio_of(static_cast<double>(r.e2e_latency.p99_us),
                                        static_cast<double>(first.e2e_latency.p99_us)),
        });
    }
    return rows;
}

std::string td(std::string_view text) {
    return fmt::format("<td class=\"num\">{}</td>", xml_escape(text));
}

std::string headline_table_html(const std::vector<run_result>& runs) {
    std::string out =
        "<table class=\"compare\">\n<tr><th>run</th><th>workload</th><th>produce MB/s</th>"
        "<th>msgs/s</th><th>x first</th><th>produce p50 ms</th><th>p99 ms</th>"
        "<th>p99.9 ms</th><th>p99 x first</th><th>e2e p50 ms</th><th>e2e p99 ms</th>"
        "<th>e2e p99.9 ms</th><th>e2e p99 x first</th><th>errors</th><th>delivery</th></tr>\n";
    std::vector<headline> rows = headlines(runs);
    for (size_t i = 0; i < rows.size(); ++i) {
        const headline& h = rows[i];
        delivery_verdict v = delivery(runs[i]);
        out += fmt::format("<tr><th>{}</th><td>{}</td>", xml_escape(h.name),
                           xml_escape(runs[i].workload_name));
        out += td(mb(h.mb_per_s)) + td(rate(h.msgs_per_s)) + td(ratio(h.throughput_x_first));
        out += td(ms(h.produce->p50_us)) + td(ms(h.produce->p99_us)) + td(ms(h.produce->p999_us)) +
               td(ratio(h.produce_p99_x_first));
        out += td(ms(h.e2e->p50_us)) + td(ms(h.e2e->p99_us)) + td(ms(h.e2e->p999_us)) +
               td(ratio(h.e2e_p99_x_first));
        out += td(count(runs[i].produce_errors));
        out += fmt::format("<td class=\"{}\">{}</td></tr>\n", v.css_class, v.text);
    }
    out +=
        "</table>\n<p class=\"note\">x first: this run's figure over the first run's "
        "(throughput: higher is better; p99: lower is better).</p>\n";
    return out;
}

// What ran, one column per run; rows where the runs differ are marked.
std::string runs_table_html(const std::vector<run_result>& runs) {
    std::string out = "<table class=\"runs\">\n<tr><th></th>";
    for (size_t i = 0; i < runs.size(); ++i) {
        out += fmt::format("<th>{}</th>", xml_escape(run_name(runs[i], i)));
    }
    out += "</tr>\n";
    std::vector<std::pair<std::string, std::vector<std::string>>> rows = {
        {"workload", {}}, {"brokers", {}}, {"git rev", {}}, {"started at", {}}};
    for (const run_result& r : runs) {
        rows[0].second.push_back(r.workload_name);
        rows[1].second.push_back(r.brokers);
        rows[2].second.push_back(r.git_rev);
        rows[3].second.push_back(r.started_at);
    }
    std::set<std::string> keys;
    for (const run_result& r : runs) {
        for (const auto& [key, value] : r.settings) {
            keys.insert(key);
        }
    }
    for (const std::string& key : keys) {
        std::vector<std::string> values;
        for (const run_result& r : runs) {
            auto it = r.settings.find(key);
            values.push_back(it == r.settings.end() ? "" : it->second);
        }
        rows.emplace_back(key, std::move(values));
    }
    for (const auto& [name, values] : rows) {
        bool differs =
            std::adjacent_find(values.begin(), values.end(), std::not_equal_to<>()) != values.end();
        out +=
            fmt::format("<tr{}><th>{}</th>", differs ? " class=\"differs\"" : "", xml_escape(name));
        for (const std::string& v : values) {
            out += fmt::format("<td>{}</td>", xml_escape(v));
        }
        out += "</tr>\n";
    }
    out += "</table>\n";
    return out;
}

}  // namespace

std::string render_compare_report(const std::vector<run_result>& runs) {
    std::string title = "wharf bench compare:";
    for (size_t i = 0; i < runs.size(); ++i) {
        title += i == 0 ? " " : " vs ";
        title += run_name(runs[i], i);
    }
    std::string out = page_open(title);
    out += fmt::format("<h1>{}</h1>\n", xml_escape(title));
    if (runs.empty()) {
        out += "<p>No runs to compare.</p>\n";
        out += page_close();
        return out;
    }
    out += "<h2>Headline figures</h2>\n";
    out += headline_table_html(runs);
    out += "<h2>Runs and settings</h2>\n";
    out += runs_table_html(runs);
    out += "<h2>Charts</h2>\n";
    out += charts_html(compare_charts(runs));
    out += page_close();
    return out;
}

std::string compare_table(const std::vector<run_result>& runs) {
    std::vector<headline> rows = headlines(runs);
    size_t name_width = 3;  // "run"
    for (const headline& h : rows) {
        name_width = std::max(name_width, h.name.size());
    }
    std::string out = fmt::format(
        "{:<{}}  {:>10} {:>11} {:>8}  {:>9} {:>9} {:>10} {:>8}  {:>9} {:>9} {:>10} {:>8}\n", "run",
        name_width, "prod MB/s", "msgs/s", "x first", "p50 ms", "p99 ms", "p99.9 ms", "x first",
        "e2e p50", "e2e p99", "e2e p99.9", "x first");
    for (const headline& h : rows) {
        out += fmt::format(
            "{:<{}}  {:>10} {:>11} {:>8}  {:>9} {:>9} {:>10} {:>8}  {:>9} {:>9} {:>10} {:>8}\n",
            h.name, name_width, mb(h.mb_per_s), rate(h.msgs_per_s), ratio(h.throughput_x_first),
            ms(h.produce->p50_us), ms(h.produce->p99_us), ms(h.produce->p999_us),
            ratio(h.produce_p99_x_first), ms(h.e2e->p50_us), ms(h.e2e->p99_us), ms(h.e2e->p999_us),
            ratio(h.e2e_p99_x_first));
    }
    return out;
}

}  // namespace wharf::perf
