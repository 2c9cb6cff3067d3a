#include "perf/lib/result_json.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

namespace wharf::perf {

using nlohmann::json;

namespace {

// Written as ordered_json: nlohmann's json keeps keys sorted, ordered_json keeps them in
// result.h's order, which is the order a person reads the file in.
nlohmann::ordered_json latency_to_json(const latency_summary& s) {
    auto curve = nlohmann::ordered_json::array();
    for (const auto& [p, us] : s.curve) {
        curve.push_back(nlohmann::ordered_json::array({p, us}));
    }
    return nlohmann::ordered_json{
        {"count", s.count},       {"mean_us", s.mean_us}, {"p50_us", s.p50_us},
        {"p90_us", s.p90_us},     {"p99_us", s.p99_us},   {"p999_us", s.p999_us},
        {"p9999_us", s.p9999_us}, {"max_us", s.max_us},   {"curve", std::move(curve)}};
}

nlohmann::ordered_json sample_to_json(const interval_sample& s) {
    return nlohmann::ordered_json{{"t_s", s.t_s},
                                  {"warmup", s.warmup},
                                  {"produce_msgs_per_s", s.produce_msgs_per_s},
                                  {"produce_mb_per_s", s.produce_mb_per_s},
                                  {"consume_msgs_per_s", s.consume_msgs_per_s},
                                  {"consume_mb_per_s", s.consume_mb_per_s},
                                  {"produce_p50_us", s.produce_p50_us},
                                  {"produce_p99_us", s.produce_p99_us},
                                  {"e2e_p50_us", s.e2e_p50_us},
                                  {"e2e_p99_us", s.e2e_p99_us},
                                  {"backlog_msgs", s.backlog_msgs},
                                  {"errors", s.errors}};
}

// Reads fields out of JSON objects, remembering the first type error with the key's full path
// ("timeline[3].t_s"). Missing keys leave the destination alone: it holds result.h's default.
class reader {
public:
    bool ok() const { return _error.empty(); }
    const std::string& error() const { return _error; }

    void fail(const std::string& path, std::string_view expected, const json& v) {
        if (ok()) {
            _error = path + ": expected " + std::string(expected) + ", got " + v.type_name();
        }
    }

    // The value at obj[key] when present and no error was seen yet.
    const json* find(const json& obj, const char* key) const {
        if (!ok()) {
            return nullptr;
        }
        auto it = obj.find(key);
        return it == obj.end() ? nullptr : &*it;
    }

    void read(const json& v, const std::string& path, uint64_t& out) {
        if (v.is_number_unsigned()) {
            out = v.get<uint64_t>();
        } else {
            fail(path, "an unsigned integer", v);
        }
    }
    void read(const json& v, const std::string& path, int64_t& out) {
        if (v.is_number_integer() &&
            (!v.is_number_unsigned() ||
             v.get<uint64_t>() <= uint64_t(std::numeric_limits<int64_t>::max()))) {
            out = v.get<int64_t>();
        } else {
            fail(path, "an integer", v);
        }
    }
    void read(const json& v, const std::string& path, double& out) {
        if (v.is_number()) {
            out = v.get<double>();
        } else if (v.is_null()) {
            out = std::numeric_limits<double>::quiet_NaN();  // how a non-finite value was written
        } else {
            fail(path, "a number", v);
        }
    }
    void read(const json& v, const std::string& path, bool& out) {
        if (v.is_boolean()) {
            out = v.get<bool>();
        } else {
            fail(path, "true or false", v);
        }
    }
    void read(const json& v, const std::string& path, std::string& out) {
        if (v.is_string()) {
            out = v.get<std::string>();
        } else {
            fail(path, "a string", v);
        }
    }

    template <typename T>
    void field(const json& obj, const std::string& prefix, const char* key, T& out) {
        if (const json* v = find(obj, key)) {
            read(*v, prefix + key, out);
        }
    }

    // obj[key] when it is an object (or absent: nullptr), else an error.
    const json* object(const json& obj, const std::string& prefix, const char* key) {
        const json* v = find(obj, key);
        if (v != nullptr && !v->is_object()) {
            fail(prefix + key, "an object", *v);
            return nullptr;
        }
        return v;
    }
    const json* array(const json& obj, const std::string& prefix, const char* key) {
        const json* v = find(obj, key);
        if (v != nullptr && !v->is_array()) {
            fail(prefix + key, "an array", *v);
            return nullptr;
        }
        return v;
    }

private:
    std::string _error;
};

void read_latency(reader& rd, const json& obj, const std::string& name, latency_summary& s) {
    const json* o = rd.object(obj, "", name.c_str());
    if (o == nullptr) {
        return;
    }
    std::string prefix = name + ".";
    rd.field(*o, prefix, "count", s.count);
    rd.field(*o, prefix, "mean_us", s.mean_us);
    rd.field(*o, prefix, "p50_us", s.p50_us);
    rd.field(*o, prefix, "p90_us", s.p90_us);
    rd.field(*o, prefix, "p99_us", s.p99_us);
    rd.field(*o, prefix, "p999_us", s.p999_us);
    rd.field(*o, prefix, "p9999_us", s.p9999_us);
    rd.field(*o, prefix, "max_us", s.max_us);
    const json* curve = rd.array(*o, prefix, "curve");
    if (curve == nullptr) {
        return;
    }
    s.curve.clear();
    for (size_t i = 0; i < curve->size() && rd.ok(); ++i) {
        const json& point = (*curve)[i];
        std::string path = fmt::format("{}curve[{}]", prefix, i);
        if (!point.is_array() || point.size() != 2) {
            rd.fail(path, "a [percentile, us] pair", point);
            return;
        }
        std::pair<double, uint64_t> p;
        rd.read(point[0], path + "[0]", p.first);
        rd.read(point[1], path + "[1]", p.second);
        s.curve.push_back(p);
    }
}

void read_sample(reader& rd, const json& o, const std::string& prefix, interval_sample& s) {
    rd.field(o, prefix, "t_s", s.t_s);
    rd.field(o, prefix, "warmup", s.warmup);
    rd.field(o, prefix, "produce_msgs_per_s", s.produce_msgs_per_s);
    rd.field(o, prefix, "produce_mb_per_s", s.produce_mb_per_s);
    rd.field(o, prefix, "consume_msgs_per_s", s.consume_msgs_per_s);
    rd.field(o, prefix, "consume_mb_per_s", s.consume_mb_per_s);
    rd.field(o, prefix, "produce_p50_us", s.produce_p50_us);
    rd.field(o, prefix, "produce_p99_us", s.produce_p99_us);
    rd.field(o, prefix, "e2e_p50_us", s.e2e_p50_us);
    rd.field(o, prefix, "e2e_p99_us", s.e2e_p99_us);
    rd.field(o, prefix, "backlog_msgs", s.backlog_msgs);
    rd.field(o, prefix, "errors", s.errors);
}

void read_run(reader& rd, const json& j, run_result& r) {
    rd.field(j, "", "tool_version", r.tool_version);
    rd.field(j, "", "label", r.label);
    rd.field(j, "", "workload_name", r.workload_name);
    rd.field(j, "", "workload_file", r.workload_file);
    rd.field(j, "", "brokers", r.brokers);
    rd.field(j, "", "git_rev", r.git_rev);
    rd.field(j, "", "started_at", r.started_at);
    if (const json* settings = rd.object(j, "", "settings")) {
        for (const auto& [key, value] : settings->items()) {
            rd.read(value, fmt::format("settings.{}", key), r.settings[key]);
        }
    }
    rd.field(j, "", "measured_s", r.measured_s);
    rd.field(j, "", "produced_msgs", r.produced_msgs);
    rd.field(j, "", "produced_bytes", r.produced_bytes);
    rd.field(j, "", "produce_errors", r.produce_errors);
    rd.field(j, "", "consumed_msgs", r.consumed_msgs);
    rd.field(j, "", "consumed_bytes", r.consumed_bytes);
    rd.field(j, "", "produce_msgs_per_s", r.produce_msgs_per_s);
    rd.field(j, "", "produce_mb_per_s", r.produce_mb_per_s);
    rd.field(j, "", "consume_msgs_per_s", r.consume_msgs_per_s);
    rd.field(j, "", "consume_mb_per_s", r.consume_mb_per_s);
    rd.field(j, "", "acked_total", r.acked_total);
    rd.field(j, "", "consumed_total", r.consumed_total);
    rd.field(j, "", "duplicates", r.duplicates);
    rd.field(j, "", "missing", r.missing);
    rd.field(j, "", "delivery_checked", r.delivery_checked);
    read_latency(rd, j, "produce_latency", r.produce_latency);
    read_latency(rd, j, "e2e_latency", r.e2e_latency);
    rd.field(j, "", "co_corrected", r.co_corrected);
    rd.field(j, "", "tool_cpu_cores", r.tool_cpu_cores);
    if (const json* timeline = rd.array(j, "", "timeline")) {
        r.timeline.reserve(timeline->size());
        for (size_t i = 0; i < timeline->size() && rd.ok(); ++i) {
            const json& o = (*timeline)[i];
            std::string path = fmt::format("timeline[{}]", i);
            if (!o.is_object()) {
                rd.fail(path, "an object", o);
                break;
            }
            read_sample(rd, o, path + ".", r.timeline.emplace_back());
        }
    }
}

void set_error(std::string* error, std::string message) {
    if (error != nullptr) {
        *error = std::move(message);
    }
}

}  // namespace

std::string to_json(const run_result& r) {
    auto timeline = nlohmann::ordered_json::array();
    for (const interval_sample& s : r.timeline) {
        timeline.push_back(sample_to_json(s));
    }
    nlohmann::ordered_json j;
    j["tool_version"] = r.tool_version;
    j["label"] = r.label;
    j["workload_name"] = r.workload_name;
    j["workload_file"] = r.workload_file;
    j["brokers"] = r.brokers;
    j["git_rev"] = r.git_rev;
    j["started_at"] = r.started_at;
    j["settings"] = r.settings;
    j["measured_s"] = r.measured_s;
    j["produced_msgs"] = r.produced_msgs;
    j["produced_bytes"] = r.produced_bytes;
    j["produce_errors"] = r.produce_errors;
    j["consumed_msgs"] = r.consumed_msgs;
    j["consumed_bytes"] = r.consumed_bytes;
    j["produce_msgs_per_s"] = r.produce_msgs_per_s;
    j["produce_mb_per_s"] = r.produce_mb_per_s;
    j["consume_msgs_per_s"] = r.consume_msgs_per_s;
    j["consume_mb_per_s"] = r.consume_mb_per_s;
    j["acked_total"] = r.acked_total;
    j["consumed_total"] = r.consumed_total;
    j["duplicates"] = r.duplicates;
    j["missing"] = r.missing;
    j["delivery_checked"] = r.delivery_checked;
    j["produce_latency"] = latency_to_json(r.produce_latency);
    j["e2e_latency"] = latency_to_json(r.e2e_latency);
    j["co_corrected"] = r.co_corrected;
    j["tool_cpu_cores"] = r.tool_cpu_cores;
    j["timeline"] = std::move(timeline);
    return j.dump(2) + "\n";
}

std::optional<run_result> parse_result_json(std::string_view text, std::string* error) {
    json j;
    try {
        j = json::parse(text);
    } catch (const json::parse_error& e) {
        set_error(error, std::string("not JSON: ") + e.what());
        return std::nullopt;
    }
    if (!j.is_object()) {
        set_error(error, std::string("(top level): expected an object, got ") + j.type_name());
        return std::nullopt;
    }
    run_result r;
    reader rd;
    read_run(rd, j, r);
    if (!rd.ok()) {
        set_error(error, rd.error());
        return std::nullopt;
    }
    return r;
}

bool write_result_file(const std::filesystem::path& path, const run_result& r, std::string* error) {
    std::filesystem::path tmp = path;
    tmp += ".tmp";
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        if (!out) {
            set_error(error, tmp.string() + ": cannot create: " + std::strerror(errno));
            return false;
        }
        out << to_json(r);
        out.flush();
        if (!out) {
            set_error(error, tmp.string() + ": write failed: " + std::strerror(errno));
            std::error_code ignored;
            std::filesystem::remove(tmp, ignored);
            return false;
        }
    }
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);
    if (ec) {
        set_error(error, path.string() + ": cannot rename into place: " + ec.message());
        std::filesystem::remove(tmp, ec);
        return false;
    }
    return true;
}

std::optional<run_result> read_result_file(const std::filesystem::path& path, std::string* error) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        set_error(error, path.string() + ": cannot open: " + std::strerror(errno));
        return std::nullopt;
    }
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) {
        set_error(error, path.string() + ": read failed: " + std::strerror(errno));
        return std::nullopt;
    }
    std::string message;
    auto r = parse_result_json(text.str(), &message);
    if (!r) {
        set_error(error, path.string() + ": " + message);
    }
    return r;
}

}  // namespace wharf::perf
