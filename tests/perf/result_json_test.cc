#include "perf/lib/result_json.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

#include "tests/reactor/test_util.h"

namespace wharf::perf {
namespace {

latency_summary full_latency(uint64_t base) {
    latency_summary s;
    s.count = base * 1000 + 7;
    s.mean_us = static_cast<double>(base) + 0.1;  // 0.1: not exact in binary, must survive
    s.p50_us = base;
    s.p90_us = base + 1;
    s.p99_us = base + 2;
    s.p999_us = base + 3;
    s.p9999_us = base + 4;
    s.max_us = std::numeric_limits<uint64_t>::max();
    s.curve = {{0.0, base}, {90.0, base + 1}, {99.999, base + 4}, {100.0, s.max_us}};
    return s;
}

// Every field differs from its default, so a field the writer forgot reads back as the default
// and fails the comparison below.
run_result full_run() {
    run_result r;
    r.tool_version = "wharf-bench 9";
    r.label = "wharf \"smp=2\" <acks=all> & more";
    r.workload_name = "1 topic, 16 partitions, 1 KiB";
    r.workload_file = "perf/workloads/1-topic-16-partitions-1kb.toml";
    r.brokers = "127.0.0.1:9092,127.0.0.1:9093";
    r.git_rev = "3aaef0e";
    r.started_at = "2026-12-01T20:15:00Z";
    r.settings = {{"acks", "all"}, {"partitions", "16"}, {"rate", "0"}, {"unicode", "µs ✓"}};
    r.measured_s = 60.25;
    r.produced_msgs = 123'456'789;
    r.produced_bytes = 126'419'751'936;
    r.produce_errors = 3;
    r.consumed_msgs = 123'456'700;
    r.consumed_bytes = 126'419'660'800;
    r.produce_msgs_per_s = 2'049'075.3;
    r.produce_mb_per_s = 2098.25;
    r.consume_msgs_per_s = 2'049'074.1;
    r.consume_mb_per_s = 2098.1;
    r.acked_total = 130'000'000;
    r.consumed_total = 129'999'990;
    r.duplicates = 4;
    r.missing = 10;
    r.delivery_checked = true;
    r.produce_latency = full_latency(1500);
    r.e2e_latency = full_latency(2500);
    r.co_corrected = true;
    r.tool_cpu_cores = 1.75;
    for (int i = 0; i < 3; ++i) {
        interval_sample s;
        s.t_s = 1.0 + i + 1e-7;
        s.warmup = i == 0;
        s.produce_msgs_per_s = 1000.5 + i;
        s.produce_mb_per_s = 1.5 + i;
        s.consume_msgs_per_s = 999.25 + i;
        s.consume_mb_per_s = 1.25 + i;
        s.produce_p50_us = 100 + i;
        s.produce_p99_us = 200 + i;
        s.e2e_p50_us = 300 + i;
        s.e2e_p99_us = 400 + i;
        s.backlog_msgs = -5 + i;  // a consumer ahead of the acks it has counted: negative lag
        s.errors = 7 + i;
        r.timeline.push_back(s);
    }
    return r;
}

void expect_same_latency(const latency_summary& a, const latency_summary& b) {
    EXPECT_EQ(a.count, b.count);
    EXPECT_EQ(a.mean_us, b.mean_us);
    EXPECT_EQ(a.p50_us, b.p50_us);
    EXPECT_EQ(a.p90_us, b.p90_us);
    EXPECT_EQ(a.p99_us, b.p99_us);
    EXPECT_EQ(a.p999_us, b.p999_us);
    EXPECT_EQ(a.p9999_us, b.p9999_us);
    EXPECT_EQ(a.max_us, b.max_us);
    EXPECT_EQ(a.curve, b.curve);
}

void expect_same(const run_result& a, const run_result& b) {
    EXPECT_EQ(a.tool_version, b.tool_version);
    EXPECT_EQ(a.label, b.label);
    EXPECT_EQ(a.workload_name, b.workload_name);
    EXPECT_EQ(a.workload_file, b.workload_file);
    EXPECT_EQ(a.brokers, b.brokers);
    EXPECT_EQ(a.git_rev, b.git_rev);
    EXPECT_EQ(a.started_at, b.started_at);
    EXPECT_EQ(a.settings, b.settings);
    EXPECT_EQ(a.measured_s, b.measured_s);
    EXPECT_EQ(a.produced_msgs, b.produced_msgs);
    EXPECT_EQ(a.produced_bytes, b.produced_bytes);
    EXPECT_EQ(a.produce_errors, b.produce_errors);
    EXPECT_EQ(a.consumed_msgs, b.consumed_msgs);
    EXPECT_EQ(a.consumed_bytes, b.consumed_bytes);
    EXPECT_EQ(a.produce_msgs_per_s, b.produce_msgs_per_s);
    EXPECT_EQ(a.produce_mb_per_s, b.produce_mb_per_s);
    EXPECT_EQ(a.consume_msgs_per_s, b.consume_msgs_per_s);
    EXPECT_EQ(a.consume_mb_per_s, b.consume_mb_per_s);
    EXPECT_EQ(a.acked_total, b.acked_total);
    EXPECT_EQ(a.consumed_total, b.consumed_total);
    EXPECT_EQ(a.duplicates, b.duplicates);
    EXPECT_EQ(a.missing, b.missing);
    EXPECT_EQ(a.delivery_checked, b.delivery_checked);
    expect_same_latency(a.produce_latency, b.produce_latency);
    expect_same_latency(a.e2e_latency, b.e2e_latency);
    EXPECT_EQ(a.co_corrected, b.co_corrected);
    EXPECT_EQ(a.tool_cpu_cores, b.tool_cpu_cores);
    ASSERT_EQ(a.timeline.size(), b.timeline.size());
    for (size_t i = 0; i < a.timeline.size(); ++i) {
        const interval_sample& x = a.timeline[i];
        const interval_sample& y = b.timeline[i];
        EXPECT_EQ(x.t_s, y.t_s) << i;
        EXPECT_EQ(x.warmup, y.warmup) << i;
        EXPECT_EQ(x.produce_msgs_per_s, y.produce_msgs_per_s) << i;
        EXPECT_EQ(x.produce_mb_per_s, y.produce_mb_per_s) << i;
        EXPECT_EQ(x.consume_msgs_per_s, y.consume_msgs_per_s) << i;
        EXPECT_EQ(x.consume_mb_per_s, y.consume_mb_per_s) << i;
        EXPECT_EQ(x.produce_p50_us, y.produce_p50_us) << i;
        EXPECT_EQ(x.produce_p99_us, y.produce_p99_us) << i;
        EXPECT_EQ(x.e2e_p50_us, y.e2e_p50_us) << i;
        EXPECT_EQ(x.e2e_p99_us, y.e2e_p99_us) << i;
        EXPECT_EQ(x.backlog_msgs, y.backlog_msgs) << i;
        EXPECT_EQ(x.errors, y.errors) << i;
    }
}

std::string parse_error(std::string_view text) {
    std::string error;
    auto r = parse_result_json(text, &error);
    EXPECT_FALSE(r.has_value()) << text;
    return error;
}

TEST(result_json, every_field_survives_a_round_trip) {
    run_result original = full_run();
    std::string error;
    auto back = parse_result_json(to_json(original), &error);
    ASSERT_TRUE(back.has_value()) << error;
    expect_same(original, *back);
    EXPECT_EQ(to_json(*back), to_json(original));
}

TEST(result_json, every_field_differs_from_the_default_in_the_round_trip_sample) {
    // Guards the test above: were a field left at its default in full_run, a writer that forgot
    // it would still pass.
    run_result full = full_run();
    run_result defaults;
    nlohmann::json a = nlohmann::json::parse(to_json(full));
    nlohmann::json b = nlohmann::json::parse(to_json(defaults));
    for (const auto& [key, value] : a.items()) {
        EXPECT_NE(value, b[key]) << key;
    }
    EXPECT_EQ(a.size(), 28u);  // the number of run_result fields
}

TEST(result_json, keys_are_the_field_names_and_the_layout_is_as_documented) {
    nlohmann::json j = nlohmann::json::parse(to_json(full_run()));
    EXPECT_EQ(j["produce_mb_per_s"], 2098.25);
    EXPECT_EQ(j["settings"]["acks"], "all");
    EXPECT_TRUE(j["produce_latency"].is_object());
    EXPECT_EQ(j["produce_latency"]["p999_us"], 1503);
    EXPECT_EQ(j["e2e_latency"]["curve"][1], nlohmann::json::array({90.0, 2501}));
    ASSERT_TRUE(j["timeline"].is_array());
    EXPECT_EQ(j["timeline"][2]["backlog_msgs"], -3);
    EXPECT_EQ(j["timeline"][0]["warmup"], true);
    // Pretty-printed with two spaces.
    EXPECT_NE(to_json(full_run()).find("\n  \"label\": "), std::string::npos);
}

TEST(result_json, missing_keys_keep_the_defaults) {
    std::string error;
    auto r = parse_result_json(R"({"label": "kafka", "produce_latency": {"p99_us": 42},
                                   "future_field": [1, 2]})",
                               &error);
    ASSERT_TRUE(r.has_value()) << error;
    EXPECT_EQ(r->label, "kafka");
    EXPECT_EQ(r->tool_version, run_result{}.tool_version);
    EXPECT_EQ(r->produce_latency.p99_us, 42u);
    EXPECT_EQ(r->produce_latency.p50_us, 0u);
    EXPECT_TRUE(r->timeline.empty());
    EXPECT_FALSE(r->delivery_checked);
}

TEST(result_json, a_wrong_type_names_the_key) {
    EXPECT_EQ(parse_error(R"({"produce_mb_per_s": "fast"})"),
              "produce_mb_per_s: expected a number, got string");
    EXPECT_EQ(parse_error(R"({"produce_latency": {"p99_us": -1}})"),
              "produce_latency.p99_us: expected an unsigned integer, got number");
    EXPECT_EQ(parse_error(R"({"produced_msgs": 1.5})"),
              "produced_msgs: expected an unsigned integer, got number");
    EXPECT_EQ(parse_error(R"({"timeline": [{}, {"t_s": "x"}]})"),
              "timeline[1].t_s: expected a number, got string");
    EXPECT_EQ(parse_error(R"({"timeline": [{"backlog_msgs": 9223372036854775808}]})"),
              "timeline[0].backlog_msgs: expected an integer, got number");
    EXPECT_EQ(parse_error(R"({"timeline": [1]})"), "timeline[0]: expected an object, got number");
    EXPECT_EQ(parse_error(R"({"timeline": {}})"), "timeline: expected an array, got object");
    EXPECT_EQ(parse_error(R"({"settings": {"acks": 1}})"),
              "settings.acks: expected a string, got number");
    EXPECT_EQ(parse_error(R"({"e2e_latency": {"curve": [[50, 1], [99]]}})"),
              "e2e_latency.curve[1]: expected a [percentile, us] pair, got array");
    EXPECT_EQ(parse_error(R"({"e2e_latency": {"curve": [[50, "1"]]}})"),
              "e2e_latency.curve[0][1]: expected an unsigned integer, got string");
    EXPECT_EQ(parse_error(R"({"delivery_checked": 1})"),
              "delivery_checked: expected true or false, got number");
    EXPECT_EQ(parse_error(R"({"label": null})"), "label: expected a string, got null");
    EXPECT_EQ(parse_error("[1, 2]"), "(top level): expected an object, got array");
}

TEST(result_json, text_that_is_not_json_is_an_error) {
    std::string error = parse_error(R"({"label": "x",)");
    EXPECT_EQ(error.rfind("not JSON: ", 0), 0u) << error;
    EXPECT_NE(error.find("line 1"), std::string::npos) << error;
    EXPECT_EQ(parse_error("").rfind("not JSON: ", 0), 0u);
    EXPECT_FALSE(parse_result_json("nonsense", nullptr).has_value());  // error may be null
}

TEST(result_json, non_finite_doubles_are_written_as_null_and_read_as_nan) {
    run_result r;
    r.produce_mb_per_s = std::numeric_limits<double>::infinity();
    r.measured_s = std::nan("");
    std::string text = to_json(r);
    EXPECT_NE(text.find("\"produce_mb_per_s\": null"), std::string::npos) << text;
    std::string error;
    auto back = parse_result_json(text, &error);
    ASSERT_TRUE(back.has_value()) << error;
    EXPECT_TRUE(std::isnan(back->produce_mb_per_s));
    EXPECT_TRUE(std::isnan(back->measured_s));
}

TEST(result_json, files_round_trip_and_errors_name_the_file) {
    temp_dir dir;
    const std::filesystem::path root = dir.path();
    auto path = root / "run.json";
    std::string error;
    ASSERT_TRUE(write_result_file(path, full_run(), &error)) << error;
    EXPECT_FALSE(std::filesystem::exists(root / "run.json.tmp"));
    auto back = read_result_file(path, &error);
    ASSERT_TRUE(back.has_value()) << error;
    expect_same(full_run(), *back);

    EXPECT_FALSE(read_result_file(root / "absent.json", &error).has_value());
    EXPECT_NE(error.find("absent.json: cannot open"), std::string::npos) << error;

    std::ofstream(root / "bad.json") << R"({"missing": "x"})";
    EXPECT_FALSE(read_result_file(root / "bad.json", &error).has_value());
    EXPECT_NE(error.find("bad.json: missing: expected an unsigned integer"), std::string::npos)
        << error;

    EXPECT_FALSE(write_result_file(root / "no-such-dir" / "run.json", full_run(), &error));
    EXPECT_NE(error.find("cannot create"), std::string::npos) << error;
}

}  // namespace
}  // namespace wharf::perf
