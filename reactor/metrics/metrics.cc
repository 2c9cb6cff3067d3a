#include "reactor/metrics/metrics.h"

#include <cmath>
#include <unordered_map>

#include <fmt/format.h>

#include "reactor/base/assert.h"
#include "reactor/base/utf8.h"

namespace wharf {

namespace {

bool valid_name(std::string_view s, bool colon_allowed) noexcept {
    if (s.empty()) return false;
    for (size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                  (colon_allowed && c == ':') || (i > 0 && c >= '0' && c <= '9');
        if (!ok) return false;
    }
    return true;
}

// Prometheus parses sample values and bounds with Go's ParseFloat, which reads fmt's shortest
// round-trip form ("1e-06", "0.25", "12345"); infinities and NaN have their own spellings.
void append_number(std::string& out, double v) {
    if (std::isnan(v)) {
        out += "NaN";
    } else if (std::isinf(v)) {
        out += v > 0 ? "+Inf" : "-Inf";
    } else {
        fmt::format_to(std::back_inserter(out), "{}", v);
    }
}

// `{a="x",b="y"}` with an optional extra label (le) last; nothing when there are no labels.
void append_labels(std::string& out, const metric_labels& labels, std::string_view extra_name = {},
                   std::string_view extra_value = {}) {
    if (labels.empty() && extra_name.empty()) return;
    out += '{';
    bool first = true;
    for (const auto& l : labels) {
        if (!first) out += ',';
        first = false;
        out += l.name;
        out += "=\"";
        out += escape_label_value(l.value);
        out += '"';
    }
    if (!extra_name.empty()) {
        if (!first) out += ',';
        out += extra_name;
        out += "=\"";
        out += extra_value;
        out += '"';
    }
    out += '}';
}

void write_histogram(std::string& out, const std::string& name, const metric_series& s) {
    const histogram_value& h = s.histogram;
    uint64_t cumulative = 0;
    std::string le;
    for (size_t i = 0; i < h.bounds.size(); ++i) {
        cumulative += h.counts[i];
        le.clear();
        append_number(le, h.bounds[i]);
        out += name;
        out += "_bucket";
        append_labels(out, s.labels, "le", le);
        fmt::format_to(std::back_inserter(out), " {}\n", cumulative);
    }
    cumulative += h.counts.back();
    out += name;
    out += "_bucket";
    append_labels(out, s.labels, "le", "+Inf");
    fmt::format_to(std::back_inserter(out), " {}\n", cumulative);
    out += name;
    out += "_sum";
    append_labels(out, s.labels);
    out += ' ';
    append_number(out, h.sum);
    out += '\n';
    out += name;
    out += "_count";
    append_labels(out, s.labels);
    fmt::format_to(std::back_inserter(out), " {}\n", cumulative);
}

const char* type_name(metric_type t) noexcept {
    switch (t) {
        case metric_type::counter:
            return "counter";
        case metric_type::gauge:
            return "gauge";
        case metric_type::histogram:
            return "histogram";
    }
    return "untyped";
}

// A key that identifies a label set within a family.
std::string labels_key(const metric_labels& labels) {
    std::string k;
    for (const auto& l : labels) {
        k += l.name;
        k += '\0';
        k += l.value;
        k += '\0';
    }
    return k;
}

void add_into(metric_series& into, const metric_series& from, metric_type type,
              const std::string& name) {
    if (type != metric_type::histogram) {
        into.value += from.value;
        return;
    }
    WHARF_ASSERT(into.histogram.bounds == from.histogram.bounds,
                 "histogram {} merged with different bounds", name);
    for (size_t i = 0; i < into.histogram.counts.size(); ++i) {
        into.histogram.counts[i] += from.histogram.counts[i];
    }
    into.histogram.sum += from.histogram.sum;
}

}  // namespace

metric_family::metric_family(std::string name_, std::string help_, metric_type type_)
    : name(std::move(name_)), help(std::move(help_)), type(type_) {
    WHARF_ASSERT(valid_name(name, true), "invalid metric name '{}'", name);
    WHARF_ASSERT((type == metric_type::counter) == name.ends_with("_total"),
                 "metric {}: counters, and only counters, end in _total", name);
}

void metric_family::add(metric_labels labels, double value) {
    WHARF_ASSERT(type != metric_type::histogram, "metric {}: a histogram needs buckets", name);
    for ([[maybe_unused]] const auto& l : labels) {
        WHARF_ASSERT(valid_name(l.name, false) && l.name != "le" && !l.name.starts_with("__"),
                     "metric {}: invalid label name '{}'", name, l.name);
    }
    series.push_back(metric_series{.labels = std::move(labels), .value = value, .histogram = {}});
}

void metric_family::add_histogram(metric_labels labels, histogram_value v) {
    WHARF_ASSERT(type == metric_type::histogram, "metric {} is no histogram", name);
    WHARF_ASSERT(v.counts.size() == v.bounds.size() + 1, "metric {}: {} counts for {} bounds", name,
                 v.counts.size(), v.bounds.size());
    for ([[maybe_unused]] const auto& l : labels) {
        WHARF_ASSERT(valid_name(l.name, false) && l.name != "le" && !l.name.starts_with("__"),
                     "metric {}: invalid label name '{}'", name, l.name);
    }
    series.push_back(
        metric_series{.labels = std::move(labels), .value = 0, .histogram = std::move(v)});
}

metric_families merge_families(std::vector<metric_families> parts) {
    metric_families out;
    std::unordered_map<std::string, size_t> family_at;
    // Per merged family: label key -> position of the series.
    std::vector<std::unordered_map<std::string, size_t>> series_at;
    for (auto& part : parts) {
        for (auto& f : part) {
            auto [it, fresh] = family_at.try_emplace(f.name, out.size());
            if (fresh) {
                out.emplace_back(f.name, std::move(f.help), f.type);
                series_at.emplace_back();
            }
            metric_family& into = out[it->second];
            WHARF_ASSERT(into.type == f.type, "metric {} reported with two types", f.name);
            auto& index = series_at[it->second];
            for (auto& s : f.series) {
                auto [sit, new_series] =
                    index.try_emplace(labels_key(s.labels), into.series.size());
                if (new_series) {
                    into.series.push_back(std::move(s));
                } else {
                    add_into(into.series[sit->second], s, into.type, into.name);
                }
            }
        }
    }
    return out;
}

void write_prometheus(const metric_families& families, std::string& out) {
    for (const auto& f : families) {
        fmt::format_to(std::back_inserter(out), "# HELP {} {}\n# TYPE {} {}\n", f.name,
                       escape_help(f.help), f.name, type_name(f.type));
        for (const auto& s : f.series) {
            if (f.type == metric_type::histogram) {
                write_histogram(out, f.name, s);
                continue;
            }
            out += f.name;
            append_labels(out, s.labels);
            out += ' ';
            append_number(out, s.value);
            out += '\n';
        }
    }
}

std::string escape_label_value(std::string_view s) {
    // Label values come from clients (group ids); the format requires UTF-8, so bytes that are
    // not become U+FFFD.
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size();) {
        char c = s[i];
        size_t n = utf8::decode(s, i).length;
        if (n == 0) {
            out += "\xEF\xBF\xBD";
            ++i;
            continue;
        }
        if (n > 1) {
            out.append(s.substr(i, n));
            i += n;
            continue;
        }
        ++i;
        if (c == '\\') {
            out += "\\\\";
        } else if (c == '"') {
            out += "\\\"";
        } else if (c == '\n') {
            out += "\\n";
        } else {
            out += c;
        }
    }
    return out;
}

std::string escape_help(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (char c : s) {
        if (c == '\\') {
            out += "\\\\";
        } else if (c == '\n') {
            out += "\\n";
        } else {
            out += c;
        }
    }
    return out;
}

}  // namespace wharf
