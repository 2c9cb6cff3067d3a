// The config file (--config, TOML) and --print-config, through parse_broker_flags: values reach
// the configuration as if typed as flags, the command line wins, and every kind of bad file is
// refused with exit code 2 and a message naming the file and the key.

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/config/broker_config.h"
#include "reactor/placement.h"

namespace wharf {
namespace {

namespace fs = std::filesystem;

class config_file : public ::testing::Test {
protected:
    void SetUp() override {
        _dir = fs::temp_directory_path() / ("wharf-config-test-" + std::to_string(::getpid()));
        fs::create_directories(_dir);
        _path = (_dir / "wharf.toml").string();
    }
    void TearDown() override { fs::remove_all(_dir); }

    void write(const std::string& text) { std::ofstream(_path, std::ios::trunc) << text; }

    parse_outcome parse(std::vector<std::string> args) {
        args.insert(args.begin(), "wharf");
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        return parse_broker_flags(static_cast<int>(argv.size()), argv.data());
    }

    // Parses with --config and returns stderr; the parse must be refused with exit code 2.
    std::string refused(const std::string& text) {
        write(text);
        testing::internal::CaptureStderr();
        auto out = parse({"--config", _path});
        std::string err = testing::internal::GetCapturedStderr();
        EXPECT_FALSE(out.config) << text;
        EXPECT_EQ(out.exit_code, 2) << text;
        return err;
    }

    // Runs --print-config and returns stdout; the parse must exit 0 without a configuration.
    std::string printed(std::vector<std::string> args) {
        args.push_back("--print-config");
        testing::internal::CaptureStdout();
        auto out = parse(args);
        std::string text = testing::internal::GetCapturedStdout();
        EXPECT_FALSE(out.config);
        EXPECT_EQ(out.exit_code, 0);
        return text;
    }

    fs::path _dir;
    std::string _path;
};

TEST_F(config_file, values_reach_the_configuration_like_flags) {
    write(
        "# a comment\n"
        "kafka_addr = \"0.0.0.0:19092\"\n"  // underscores work as well as dashes
        "segment-bytes = \"64MiB\"\n"
        "segment-ms = 3600000\n"
        "auto-create-topics = false\n"
        "overprovisioned = true\n"
        "smp = 2\n"
        "memory = \"1GiB\"\n"
        "fsync = 'never'\n"
        "data-dir = \"/var/lib/wharf\"\n");
    auto out = parse({"--config", _path});
    ASSERT_TRUE(out.config);
    const broker_config& c = *out.config;
    EXPECT_EQ(c.kafka_addr.host, "0.0.0.0");
    EXPECT_EQ(c.kafka_addr.port, 19092);
    EXPECT_EQ(c.segment_bytes, 64ull << 20);
    EXPECT_EQ(c.segment_ms, std::chrono::hours(1));
    EXPECT_FALSE(c.auto_create_topics);
    EXPECT_TRUE(c.overprovisioned);
    EXPECT_TRUE(c.cpus.empty());
    EXPECT_EQ(c.smp, 2u);
    EXPECT_EQ(c.memory_bytes, 1ull << 30);
    EXPECT_EQ(c.fsync, fsync_policy::never);
    EXPECT_EQ(c.data_dir, "/var/lib/wharf");
}

TEST_F(config_file, the_command_line_wins_wherever_it_stands) {
    write("segment-bytes = \"64MiB\"\nlog-level = \"debug\"\nfsync = \"never\"\n");
    auto before = parse({"--segment-bytes", "32MiB", "--config", _path});
    auto after = parse({"--config", _path, "--segment-bytes", "32MiB"});
    for (const auto* out : {&before, &after}) {
        ASSERT_TRUE(out->config);
        EXPECT_EQ(out->config->segment_bytes, 32ull << 20);
        EXPECT_EQ(out->config->log_level, "debug");  // the file still fills the rest
        EXPECT_EQ(out->config->fsync, fsync_policy::never);
    }
    // A flag on the command line also wins when the file's value would be refused.
    write("log-level = \"loud\"\n");
    auto over_bad = parse({"--config", _path, "--log-level", "warn"});
    ASSERT_TRUE(over_bad.config);
    EXPECT_EQ(over_bad.config->log_level, "warn");
}

TEST_F(config_file, an_unknown_key_is_refused_naming_it_and_the_file) {
    std::string err = refused("data-dir = \"/tmp/x\"\nsegment-byte = \"1GiB\"\n");
    EXPECT_NE(err.find(_path + ":2"), std::string::npos) << err;
    EXPECT_NE(err.find("'segment-byte'"), std::string::npos) << err;
    EXPECT_NE(err.find("unknown key"), std::string::npos) << err;
    // Settings that are not configuration are not keys either.
    for (const char* meta :
         {"config = \"other.toml\"\n", "print-config = true\n", "help = true\n"}) {
        EXPECT_NE(refused(meta).find("unknown key"), std::string::npos) << meta;
    }
    // Sections would hide a misspelt key; the file is flat.
    err = refused("[storage]\nsegment-bytes = \"1GiB\"\n");
    EXPECT_NE(err.find("'storage'"), std::string::npos) << err;
}

TEST_F(config_file, a_bad_unit_is_refused_naming_the_key_and_the_file) {
    std::string err = refused("data-dir = \"/tmp/x\"\n\nsegment-bytes = \"12XB\"\n");
    EXPECT_NE(err.find(_path + ":3"), std::string::npos) << err;
    EXPECT_NE(err.find("segment-bytes"), std::string::npos) << err;
    EXPECT_NE(err.find("12XB"), std::string::npos) << err;
    err = refused("retention-check-interval = \"5 fortnights\"\n");
    EXPECT_NE(err.find(_path + ":1: key 'retention-check-interval'"), std::string::npos) << err;
}

TEST_F(config_file, bad_values_and_types_are_refused_naming_the_key_and_the_file) {
    struct bad_case {
        const char* text;
        const char* key;
    };
    for (auto [text, key] : std::vector<bad_case>{
             {"log-level = \"loud\"\n", "log-level"},  // refused by CLI11's check
             {"auto-create-topics = \"maybe\"\n", "auto-create-topics"},  // not a boolean
             {"fsync = \"sometimes\"\n", "fsync"},                        // refused by validation
             {"smp = 0\n", "smp"},
             {"segment-bytes = 1.5\n", "segment-bytes"},  // TOML float
             {"cpuset = [0, 1]\n", "cpuset"},             // TOML array
             {"kafka-addr = \"nowhere\"\n", "kafka-addr"},
         }) {
        std::string err = refused(text);
        EXPECT_NE(err.find(_path), std::string::npos) << text << err;
        EXPECT_NE(err.find(key), std::string::npos) << text << err;
    }
}

TEST_F(config_file, broken_files_are_refused_naming_the_file) {
    std::string err = refused("segment-bytes = \"1GiB\"\nthis is not toml\n");
    EXPECT_NE(err.find(_path + ":2"), std::string::npos) << err;
    // Reported where the second spelling stands, whichever sorts first.
    err = refused("kafka_addr = \"127.0.0.1:1\"\nkafka-addr = \"127.0.0.1:2\"\n");
    EXPECT_NE(err.find(_path + ":2: key 'kafka-addr'"), std::string::npos) << err;
    EXPECT_NE(err.find("'kafka_addr' on line 1"), std::string::npos) << err;
    // The first mistake in the file is the one reported, not the first in key order.
    err = refused("zzz = 1\naaa = 2\n");
    EXPECT_NE(err.find(_path + ":1: key 'zzz'"), std::string::npos) << err;

    fs::remove(_path);
    testing::internal::CaptureStderr();
    auto out = parse({"--config", _path});
    err = testing::internal::GetCapturedStderr();
    EXPECT_EQ(out.exit_code, 2);
    EXPECT_NE(err.find(_path), std::string::npos) << err;
    EXPECT_NE(err.find("No such file"), std::string::npos) << err;
}

TEST_F(config_file, print_config_shows_every_setting_and_its_source) {
    write("segment-bytes = \"64MiB\"\nfsync = \"never\"\n");
    std::string text = printed({"--config", _path, "--fsync", "always", "--smp", "1"});
    EXPECT_NE(text.find("segment-bytes = \"64MiB\"  # config file " + _path + "\n"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("fsync = \"always\"  # command line\n"), std::string::npos) << text;
    EXPECT_NE(text.find("smp = 1  # command line\n"), std::string::npos) << text;
    EXPECT_NE(text.find("data-dir = \"./data\"  # default\n"), std::string::npos) << text;
    EXPECT_NE(text.find("segment-ms = \"7d\"  # default\n"), std::string::npos) << text;
    EXPECT_NE(text.find("auto-create-topics = true  # default\n"), std::string::npos) << text;
    EXPECT_NE(text.find("overprovisioned = false  # default\n"), std::string::npos) << text;
    // Defaults worked out at start-up are shown with the value they came to.
    EXPECT_NE(text.find("memory = "), std::string::npos) << text;
    EXPECT_EQ(text.find("memory = \"\""), std::string::npos) << text;
    EXPECT_NE(text.find("# default, decided at start-up"), std::string::npos) << text;
    // Every setting, once; not the options that only steer parsing.
    for (const char* key :
         {"kafka-addr", "advertise-kafka-addr", "connections-max-idle-ms", "max-request-bytes",
          "max-inflight-request-bytes", "default-partitions", "offsets-partitions", "cpuset",
          "poll-us", "flush-interval-us", "max-batch-bytes", "retention-check-interval",
          "log-level", "group-max-session-timeout"}) {
        std::string line = std::string("\n") + key + " = ";
        size_t at = text.find(line);
        EXPECT_NE(at, std::string::npos) << key << "\n" << text;
        EXPECT_EQ(text.find(line, at + 1), std::string::npos) << key;
    }
    for (const char* meta : {"\nconfig = ", "\nprint-config = ", "\nhelp = "}) {
        EXPECT_EQ(text.find(meta), std::string::npos) << meta;
    }
    // Groups as in --help.
    EXPECT_NE(text.find("# Storage\n"), std::string::npos) << text;
    EXPECT_NE(text.find("# Listeners\n"), std::string::npos) << text;
}

TEST_F(config_file, print_config_output_reads_back_as_the_same_configuration) {
    std::string first = printed({"--smp", "1", "--segment-bytes", "48MiB", "--data-dir",
                                 "/tmp/with \"quotes\" \\ and backslash", "--overprovisioned"});
    write(first);
    auto again = parse({"--config", _path});
    ASSERT_TRUE(again.config) << first;
    auto direct = parse({"--smp", "1", "--segment-bytes", "48MiB", "--data-dir",
                         "/tmp/with \"quotes\" \\ and backslash", "--overprovisioned"});
    ASSERT_TRUE(direct.config);
    EXPECT_EQ(again.config->data_dir, direct.config->data_dir);
    EXPECT_EQ(again.config->segment_bytes, direct.config->segment_bytes);
    EXPECT_EQ(again.config->smp, direct.config->smp);
    EXPECT_EQ(again.config->overprovisioned, direct.config->overprovisioned);
    EXPECT_EQ(again.config->cpus, direct.config->cpus);
    EXPECT_EQ(again.config->memory_bytes, direct.config->memory_bytes);
    EXPECT_EQ(again.config->max_inflight_request_bytes_per_shard,
              direct.config->max_inflight_request_bytes_per_shard);
    EXPECT_EQ(again.config->segment_ms, direct.config->segment_ms);
    // Printed again from the file, every value is the same; only the sources differ.
    std::string second = printed({"--config", _path});
    auto values = [](const std::string& text) {
        std::string out;
        size_t pos = 0;
        while (pos < text.size()) {
            size_t end = text.find('\n', pos);
            std::string line = text.substr(pos, end - pos);
            if (!line.empty() && line[0] != '#') out += line.substr(0, line.find("  # ")) + "\n";
            pos = end == std::string::npos ? text.size() : end + 1;
        }
        return out;
    };
    EXPECT_EQ(values(first), values(second));
    EXPECT_NE(second.find("# config file " + _path), std::string::npos);
}

TEST_F(config_file, the_example_config_of_the_package_is_accepted) {
    std::string example = std::string(WHARF_TEST_SOURCE_DIR) + "/../deploy/wharf.toml";
    auto out = parse({"--config", example, "--smp", "1", "--memory", "256MiB"});
    ASSERT_TRUE(out.config);
    EXPECT_EQ(out.config->data_dir, "/var/lib/wharf");
    EXPECT_EQ(out.config->kafka_addr.port, 9092);
}

}  // namespace
}  // namespace wharf
