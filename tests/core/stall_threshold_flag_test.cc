// --stall-threshold: its default, units, 0 to disable, and the checks that name the flag.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/config/broker_config.h"

namespace wharf {
namespace {

using namespace std::chrono;

parse_outcome parse_flags(std::vector<std::string> args) {
    args.insert(args.begin(), "wharf");
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    return parse_broker_flags(static_cast<int>(argv.size()), argv.data());
}

TEST(stall_threshold_flag, default_units_and_off) {
    auto out = parse_flags({"--smp", "1"});
    ASSERT_TRUE(out.config);
    EXPECT_EQ(out.config->stall_threshold, milliseconds(25));
    out = parse_flags({"--smp", "1", "--stall-threshold", "100"});
    ASSERT_TRUE(out.config);
    EXPECT_EQ(out.config->stall_threshold, milliseconds(100));
    out = parse_flags({"--smp", "1", "--stall-threshold", "2s"});
    ASSERT_TRUE(out.config);
    EXPECT_EQ(out.config->stall_threshold, seconds(2));
    out = parse_flags({"--smp", "1", "--stall-threshold", "0"});
    ASSERT_TRUE(out.config);
    EXPECT_EQ(out.config->stall_threshold, milliseconds(0));
}

TEST(stall_threshold_flag, bad_values_are_refused_naming_the_flag) {
    for (const char* bad : {"soon", "-5ms", "500us", "2h"}) {
        testing::internal::CaptureStderr();
        auto out = parse_flags({"--smp", "1", "--stall-threshold", bad});
        std::string err = testing::internal::GetCapturedStderr();
        EXPECT_FALSE(out.config) << bad;
        EXPECT_EQ(out.exit_code, 2) << bad;
        EXPECT_NE(err.find("--stall-threshold"), std::string::npos) << err;
    }
    // Busy-polling as long as the threshold would itself be reported as a stall.
    testing::internal::CaptureStderr();
    auto out = parse_flags({"--smp", "1", "--poll-us", "30ms", "--stall-threshold", "20ms"});
    std::string err = testing::internal::GetCapturedStderr();
    EXPECT_FALSE(out.config);
    EXPECT_NE(err.find("--poll-us"), std::string::npos) << err;
    EXPECT_TRUE(parse_flags({"--smp", "1", "--poll-us", "30ms", "--stall-threshold", "0"}).config);
}

}  // namespace
}  // namespace wharf
