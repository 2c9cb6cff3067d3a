#include "perf/lib/workload.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>

namespace wharf::perf {
namespace {

using namespace std::chrono_literals;

workload parse_ok(std::string_view text) {
    auto r = parse_workload(text);
    EXPECT_TRUE(r.ok()) << r.error->to_string();
    return r.value;
}

workload_error parse_bad(std::string_view text) {
    auto r = parse_workload(text);
    EXPECT_FALSE(r.ok()) << text;
    return r.error.value_or(workload_error{-1, "", "parsed"});
}

TEST(workload, empty_file_gives_the_defaults) {
    workload w = parse_ok("");
    EXPECT_EQ(w.name, "");
    EXPECT_EQ(w.topics, 1);
    EXPECT_EQ(w.partitions, 1);
    EXPECT_EQ(w.message_sizes, std::vector<uint32_t>{1024});
    EXPECT_EQ(w.keys, key_distribution::none);
    EXPECT_EQ(w.producers, 1);
    EXPECT_EQ(w.rate_per_s, 0);
    EXPECT_EQ(w.consumer_groups, 1);
    EXPECT_EQ(w.consumers_per_group, 1);
    EXPECT_EQ(w.backlog_bytes, 0u);
    EXPECT_EQ(w.duration, 1min);
    EXPECT_EQ(w.warmup, 0s);
}

TEST(workload, every_field) {
    workload w = parse_ok(R"(# the OMB-style 16-partition workload
name = "1 topic, 16 \"partitions\" # not a comment \\ 1 KiB"
topics = 2
partitions = 10_000   # per topic
message_size = 4KiB
key_distribution = "round-robin"

[producer]
producers = 4
rate = 50000.5
[ consumer ]
groups = 3
consumers_per_group = 8
backlog = 3GiB
[run]
duration = 5m
warmup = 1500ms
)");
    EXPECT_EQ(w.name, "1 topic, 16 \"partitions\" # not a comment \\ 1 KiB");
    EXPECT_EQ(w.topics, 2);
    EXPECT_EQ(w.partitions, 10'000);
    EXPECT_EQ(w.message_sizes, std::vector<uint32_t>{4096});
    EXPECT_EQ(w.keys, key_distribution::round_robin);
    EXPECT_EQ(w.producers, 4);
    EXPECT_DOUBLE_EQ(w.rate_per_s, 50000.5);
    EXPECT_EQ(w.consumer_groups, 3);
    EXPECT_EQ(w.consumers_per_group, 8);
    EXPECT_EQ(w.backlog_bytes, uint64_t{3} << 30);
    EXPECT_EQ(w.duration, 5min);
    EXPECT_EQ(w.warmup, 1500ms);
}

TEST(workload, sizes_and_durations_in_every_unit) {
    EXPECT_EQ(parse_ok("message_size = 100").message_sizes, std::vector<uint32_t>{100});
    EXPECT_EQ(parse_ok("message_size = 100B").message_sizes, std::vector<uint32_t>{100});
    EXPECT_EQ(parse_ok("message_size = 2KB").message_sizes, std::vector<uint32_t>{2000});
    EXPECT_EQ(parse_ok("message_size = 1.5 MiB").message_sizes, std::vector<uint32_t>{1536 * 1024});
    EXPECT_EQ(parse_ok("message_size = 1MB").message_sizes, std::vector<uint32_t>{1'000'000});
    EXPECT_EQ(parse_ok("message_sizes = [100, 1KiB, 4KiB,]").message_sizes,
              (std::vector<uint32_t>{100, 1024, 4096}));
    EXPECT_EQ(parse_ok("[run]\nduration = 250us").duration, 250us);
    EXPECT_EQ(parse_ok("[run]\nduration = 30s").duration, 30s);
    EXPECT_EQ(parse_ok("[run]\nduration = 2h").duration, 2h);
    EXPECT_EQ(parse_ok("[run]\nduration = 0.5s").duration, 500ms);
    EXPECT_EQ(parse_ok("key_distribution = \"random\"").keys, key_distribution::random);
    EXPECT_EQ(parse_ok("key_distribution = \"none\"").keys, key_distribution::none);
    EXPECT_EQ(parse_ok("[producer]\nrate = 0").rate_per_s, 0);
    EXPECT_EQ(parse_ok("[producer]\nproducers = 0").producers, 0);  // a consume-only workload
    EXPECT_EQ(parse_ok("[consumer]\ngroups = 0").consumer_groups, 0);
}

TEST(workload, backlog_is_a_size_of_up_to_a_tebibyte) {
    EXPECT_EQ(parse_ok("[consumer]\nbacklog = 0").backlog_bytes, 0u);
    EXPECT_EQ(parse_ok("[consumer]\nbacklog = 100").backlog_bytes, 100u);
    // Past 4 GiB: the field is 64 bits wide, unlike a message size.
    EXPECT_EQ(parse_ok("[consumer]\nbacklog = 64GB").backlog_bytes, 64'000'000'000u);
    EXPECT_EQ(parse_ok("[consumer]\nbacklog = 1.5GiB").backlog_bytes, uint64_t{3} << 29);
    EXPECT_EQ(parse_ok("[consumer]\nbacklog = 1024GiB").backlog_bytes, max_backlog_bytes);

    auto e = parse_bad("[consumer]\nbacklog = 1025GiB");
    EXPECT_EQ(e.line, 2);
    EXPECT_EQ(e.key, "consumer.backlog");
    EXPECT_NE(e.message.find("outside"), std::string::npos);
}

TEST(workload, errors_name_the_line_and_the_key) {
    auto e = parse_bad("topics = 1\n\npartitions = many\n");
    EXPECT_EQ(e.line, 3);
    EXPECT_EQ(e.key, "partitions");
    EXPECT_EQ(e.to_string(), "line 3: key 'partitions': expected a non-negative integer");

    e = parse_bad("[producer]\nrate = fast");
    EXPECT_EQ(e.line, 2);
    EXPECT_EQ(e.key, "producer.rate");

    e = parse_bad("[run]\nduration = 30");  // a duration needs its unit
    EXPECT_EQ(e.key, "run.duration");
    EXPECT_NE(e.message.find("unit"), std::string::npos);
}

TEST(workload, bad_input_is_an_error_not_a_crash) {
    struct bad_case {
        const char* text;
        int line;
        const char* key;
    };
    const bad_case cases[] = {
        {"topics = 0", 1, "topics"},
        {"topics = -1", 1, "topics"},
        {"partitions = 2000000", 1, "partitions"},
        {"partitions = 99999999999999999999999", 1, "partitions"},
        {"partitions = 1.5", 1, "partitions"},
        {"message_size = 0", 1, "message_size"},
        {"message_size = 1TiB", 1, "message_size"},
        {"message_size = 1.3B", 1, "message_size"},
        {"message_size = 10 parsecs", 1, "message_size"},
        {"message_sizes = 100, 200", 1, "message_sizes"},
        {"message_sizes = [100, , 200]", 1, "message_sizes"},
        {"message_sizes = []", 1, "message_sizes"},
        {"key_distribution = random", 1, "key_distribution"},
        {"key_distribution = \"zipf\"", 1, "key_distribution"},
        {"name = \"open", 1, "name"},
        {"name = \"a\"b\"", 1, "name"},
        {"name = \"bad \\n escape\"", 1, "name"},
        {"colour = \"blue\"", 1, "colour"},
        {"topics = 1\ntopics = 2", 2, "topics"},
        {"[producer]\nrate = -5", 2, "producer.rate"},
        {"[run]\nduration = 1y", 2, "run.duration"},
        {"[run]\nduration = 30d", 2, "run.duration"},
        {"[run]\nduration = 1000h", 2, "run.duration"},
        {"[run]\nduration = 0s", 0, "run.duration"},
        {"[consumer]\ngroups = 1000\nconsumers_per_group = 1000", 0,
         "consumer.consumers_per_group"},
        {"[producer]\nduration = 5s", 2, "producer.duration"},
        {"backlog = 1GiB", 1, "backlog"},  // a consumer setting, not a top-level one
        {"[consumer]\nbacklog = -1", 2, "consumer.backlog"},
        {"[consumer]\nbacklog = 1.5B", 2, "consumer.backlog"},
        {"[consumer]\nbacklog = 1 TB", 2, "consumer.backlog"},
        {"[consumer]\nbacklog = \"1GiB\"", 2, "consumer.backlog"},
        {"partitions = ", 1, "partitions"},
        {"[sinks]", 1, ""},
        {"[run", 1, ""},
        {"just words", 1, ""},
        {" = 5", 1, ""},
    };
    for (const auto& c : cases) {
        auto e = parse_bad(c.text);
        EXPECT_EQ(e.line, c.line) << c.text;
        EXPECT_EQ(e.key, c.key) << c.text;
        EXPECT_FALSE(e.message.empty()) << c.text;
    }
}

TEST(workload, size_lists_are_bounded) {
    std::string text = "message_sizes = [";
    for (size_t i = 0; i <= max_message_size_choices; ++i) {
        text += "100,";
    }
    text += "]";
    auto e = parse_bad(text);
    EXPECT_EQ(e.key, "message_sizes");
    EXPECT_NE(e.message.find("more than"), std::string::npos);
}

// The shipped workloads (perf/workloads/*.toml): every file parses, says what it is, and together
// they are the OMB-equivalent set of issue 5 with the short defaults perf/run-suite relies on.
std::map<std::string, workload> shipped_workloads() {
    const std::filesystem::path dir =
        std::filesystem::path(WHARF_TEST_SOURCE_DIR) / ".." / "perf" / "workloads";
    std::map<std::string, workload> out;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
        if (entry.path().extension() != ".toml") {
            continue;
        }
        std::ifstream in(entry.path());
        std::stringstream text;
        text << in.rdbuf();
        const std::string name = entry.path().filename().string();
        EXPECT_EQ(text.str().rfind("# ", 0), 0u) << name << " must open with a comment";
        auto r = parse_workload(text.str());
        EXPECT_TRUE(r.ok()) << name << ": " << (r.ok() ? "" : r.error->to_string());
        EXPECT_FALSE(r.value.name.empty()) << name;
        out.emplace(name, r.value);
    }
    return out;
}

TEST(workload, every_shipped_file_parses_with_the_short_defaults) {
    auto files = shipped_workloads();
    ASSERT_GE(files.size(), 10u);
    for (const auto& [name, w] : files) {
        if (name == "smoke.toml") {
            continue;
        }
        EXPECT_EQ(w.duration, 1min) << name;
        EXPECT_EQ(w.warmup, 10s) << name;
        EXPECT_EQ(w.topics, 1) << name;
        EXPECT_GE(w.consumer_groups, 1) << name << ": end-to-end latency needs consumers";
    }
    const workload& smoke = files.at("smoke.toml");
    EXPECT_EQ(smoke.duration, 2s);
    EXPECT_EQ(smoke.partitions, 4);
    EXPECT_EQ(smoke.consumer_groups, 1);
    EXPECT_EQ(smoke.consumers_per_group, 2);
    EXPECT_GT(smoke.rate_per_s, 0) << "a smoke run must not load the machine";
}

TEST(workload, shipped_files_cover_the_omb_set) {
    auto files = shipped_workloads();
    auto has = [&](auto pred) {
        return std::any_of(files.begin(), files.end(),
                           [&](const auto& f) { return pred(f.second); });
    };
    const std::vector<uint32_t> kib = {1024};
    for (int32_t partitions : {1, 16, 100}) {
        EXPECT_TRUE(has([&](const workload& w) {
            return w.partitions == partitions && w.message_sizes == kib && w.rate_per_s == 0 &&
                   w.backlog_bytes == 0;
        })) << "1 KiB at unlimited rate, partitions "
            << partitions;
        EXPECT_TRUE(has([&](const workload& w) {
            return w.partitions == partitions && w.message_sizes == kib && w.rate_per_s > 0 &&
                   w.backlog_bytes == 0;
        })) << "1 KiB at a fixed rate, partitions "
            << partitions;
    }
    EXPECT_TRUE(has([](const workload& w) { return w.partitions == 10'000; }));
    EXPECT_TRUE(
        has([](const workload& w) { return w.message_sizes == std::vector<uint32_t>{100}; }));
    EXPECT_TRUE(
        has([](const workload& w) { return w.backlog_bytes > 0 && w.consumer_groups > 0; }));
}

// perf/run-suite and perf/scaling name their default workloads; a renamed file must not leave
// them pointing at nothing.
TEST(workload, the_scripts_name_shipped_files) {
    auto files = shipped_workloads();
    const std::filesystem::path perf = std::filesystem::path(WHARF_TEST_SOURCE_DIR) / ".." / "perf";
    size_t named = 0;
    for (const char* script : {"run-suite", "scaling"}) {
        std::ifstream in(perf / script);
        ASSERT_TRUE(in) << script;
        std::stringstream text;
        text << in.rdbuf();
        const std::string body = text.str();
        const std::regex quoted("\"([A-Za-z0-9._-]+\\.toml)\"");
        for (auto it = std::sregex_iterator(body.begin(), body.end(), quoted);
             it != std::sregex_iterator(); ++it) {
            EXPECT_TRUE(files.contains((*it)[1].str())) << script << " names " << (*it)[1].str();
            ++named;
        }
    }
    EXPECT_GE(named, 9u);  // run-suite's eight defaults and scaling's base workload
}

}  // namespace
}  // namespace wharf::perf
