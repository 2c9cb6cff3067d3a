#include "perf/lib/report_html.h"

#include <fmt/format.h>

#include <cmath>

#include "perf/lib/report_charts.h"
#include "perf/lib/report_html_parts.h"

namespace wharf::perf {

namespace report_detail {

namespace {

// No '<', '>' or '&' in here: the page must stay well-formed XML without a CDATA section.
constexpr const char* style_sheet = R"(
body { font-family: sans-serif; margin: 24px; color: #222222; max-width: 1600px; }
h1 { font-size: 22px; margin-bottom: 4px; }
h2 { font-size: 17px; margin-top: 28px; border-bottom: 1px solid #cccccc; }
table { border-collapse: collapse; margin: 8px 0; }
th, td { border: 1px solid #d0d0d0; padding: 3px 9px; }
th { background: #f2f2f2; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.differs td { background: #fff7d6; }
.ok { color: #1a7f37; font-weight: bold; }
.failed { color: #c62828; font-weight: bold; }
.unchecked { color: #8a6d00; font-weight: bold; }
.note { color: #666666; font-size: 13px; }
figure { display: inline-block; margin: 8px 12px 8px 0; }
)";

std::string group_thousands(uint64_t n) {
    std::string digits = std::to_string(n);
    std::string out;
    out.reserve(digits.size() + digits.size() / 3);
    for (size_t i = 0; i < digits.size(); ++i) {
        if (i > 0 && (digits.size() - i) % 3 == 0) {
            out += ',';
        }
        out += digits[i];
    }
    return out;
}

}  // namespace

std::string page_open(std::string_view title) {
    return fmt::format(
        "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head>\n"
        "<meta charset=\"utf-8\"/>\n<title>{}</title>\n<style>{}</style>\n</head>\n<body>\n",
        xml_escape(title), style_sheet);
}

std::string page_close() {
    return "</body>\n</html>\n";
}

std::string charts_html(const std::vector<line_chart>& charts) {
    std::string out = "<div class=\"charts\">\n";
    for (const line_chart& c : charts) {
        out += "<figure>\n";
        out += render_svg(c);
        out += "</figure>\n";
    }
    out += "</div>\n";
    return out;
}

std::string ms(uint64_t us) {
    return fmt::format("{:.3f}", static_cast<double>(us) / 1000.0);
}

std::string count(uint64_t n) {
    return group_thousands(n);
}

std::string rate(double per_s) {
    if (!std::isfinite(per_s) || per_s < 0) {
        return fmt::format("{}", per_s);
    }
    return group_thousands(static_cast<uint64_t>(std::llround(per_s)));
}

std::string mb(double mb_per_s) {
    return fmt::format("{:.2f}", mb_per_s);
}

std::string ratio(std::optional<double> r) {
    return r ? fmt::format("{:.2f}", *r) : "-";
}

std::optional<double> ratio_of(double value, double base) {
    if (!std::isfinite(value) || !std::isfinite(base) || base == 0) {
        return std::nullopt;
    }
    return value / base;
}

delivery_verdict delivery(const run_result& r) {
    // Unchecked first: with acks=0 nothing is acknowledged, so `missing` means nothing.
    if (!r.delivery_checked) {
        return {"not checked", "unchecked"};
    }
    if (r.duplicates > 0 || r.missing > 0) {
        return {"FAILED", "failed"};
    }
    return {"OK", "ok"};
}

}  // namespace report_detail

namespace {

using namespace report_detail;

std::string row(std::string_view name, std::string_view value, bool numeric = true) {
    return fmt::format("<tr><th>{}</th><td{}>{}</td></tr>\n", xml_escape(name),
                       numeric ? " class=\"num\"" : "", xml_escape(value));
}

std::string header_html(const run_result& r) {
    std::string out =
        fmt::format("<h1>{}</h1>\n<table class=\"header\">\n", xml_escape(run_name(r, 0)));
    out += row("workload", r.workload_name, false);
    out += row("workload file", r.workload_file, false);
    out += row("brokers", r.brokers, false);
    out += row("git rev", r.git_rev.empty() ? "unknown" : r.git_rev, false);
    out += row("started at", r.started_at, false);
    out += row("tool", r.tool_version, false);
    out += "</table>\n";
    return out;
}

std::string settings_html(const run_result& r) {
    std::string out = "<h2>Settings</h2>\n<table class=\"settings\">\n";
    for (const auto& [key, value] : r.settings) {
        out += row(key, value, false);
    }
    out += "</table>\n";
    return out;
}

std::string summary_html(const run_result& r) {
    std::string out = "<h2>Summary</h2>\n<table class=\"summary\">\n";
    out += row("measured (s)", fmt::format("{:.1f}", r.measured_s));
    out += row("produce msgs/s", rate(r.produce_msgs_per_s));
    out += row("produce MB/s", mb(r.produce_mb_per_s));
    out += row("consume msgs/s", rate(r.consume_msgs_per_s));
    out += row("consume MB/s", mb(r.consume_mb_per_s));
    out += row("produced (acked) messages", count(r.produced_msgs));
    out += row("produced bytes", count(r.produced_bytes));
    out += row("consumed messages", count(r.consumed_msgs));
    out += row("consumed bytes", count(r.consumed_bytes));
    out += row("produce errors", count(r.produce_errors));
    out += row("tool CPU (cores)", fmt::format("{:.2f}", r.tool_cpu_cores));
    out += "</table>\n";

    delivery_verdict v = delivery(r);
    out += "<h2>Delivery check</h2>\n<table class=\"delivery\">\n";
    out += row("acknowledged", count(r.acked_total));
    out += row("consumed", count(r.consumed_total));
    out += row("duplicates", count(r.duplicates));
    out += row("missing", count(r.missing));
    out += fmt::format("<tr><th>result</th><td class=\"{}\">{}</td></tr>\n</table>\n", v.css_class,
                       v.text);
    out +=
        "<p class=\"note\">Over the whole run, warm-up included: every acknowledged record "
        "consumed exactly once by every group. Not checked: no consumers, or the drain timed "
        "out.</p>\n";
    return out;
}

std::string latency_row(std::string_view name, const latency_summary& l) {
    return fmt::format(
        "<tr><th>{}</th><td class=\"num\">{}</td><td class=\"num\">{}</td>"
        "<td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>"
        "<td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{:.3f}</td></tr>\n",
        xml_escape(name), count(l.count), ms(l.p50_us), ms(l.p90_us), ms(l.p99_us), ms(l.p999_us),
        ms(l.p9999_us), ms(l.max_us), l.mean_us / 1000.0);
}

std::string latency_html(const run_result& r) {
    std::string out =
        "<h2>Latency (ms)</h2>\n<table class=\"latency\">\n<tr><th></th><th>count</th>"
        "<th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>p99.99</th><th>max</th>"
        "<th>mean</th></tr>\n";
    out += latency_row("produce", r.produce_latency);
    out += latency_row("end-to-end", r.e2e_latency);
    out += "</table>\n";
    out += r.co_corrected
               ? "<p class=\"note\">Fixed-rate run: latencies count from each record's due time "
                 "(coordinated omission corrected).</p>\n"
               : "<p class=\"note\">Latencies count from each record's send time.</p>\n";
    return out;
}

}  // namespace

std::string render_run_report(const run_result& r) {
    std::string out = page_open(fmt::format("wharf bench: {}", run_name(r, 0)));
    out += header_html(r);
    out += settings_html(r);
    out += summary_html(r);
    out += latency_html(r);
    out += "<h2>Charts</h2>\n";
    out += charts_html(run_charts(r));
    out += page_close();
    return out;
}

}  // namespace wharf::perf
