// Metadata commands: round trips, and hostile bytes that must decode to an error without crashing
// or over-allocating.

#include <gtest/gtest.h>

#include <random>

#include "core/cluster/metadata_commands.h"

namespace wharf {
namespace {

std::vector<metadata_command> samples() {
    topic_id id;
    for (size_t i = 0; i < id.bytes.size(); ++i) id.bytes[i] = uint8_t(0xa0 + i);
    return {
        create_topic_cmd{
            .name = "orders",
            .id = id,
            .partitions = {{0, shard_id(1), partition_id(7)}, {1, shard_id(0), partition_id(8)}},
            .configs = {{"cleanup.policy", "compact"}, {"retention.ms", "-1"}}},
        create_topic_cmd{.name = "", .id = {}},
        delete_topic_cmd{id},
        create_partitions_cmd{id, {{2, shard_id(3), partition_id(4000000000u)}}},
        create_topic_cmd{
            .name = "rf2",
            .id = id,
            .partitions = {{0, shard_id(0), partition_id(9), raft_group_id(1)},
                           {1, shard_id(1), partition_id(10), raft_group_id(0xffff)}},
            .groups = {{raft_group_id(1), {2, 0}}, {raft_group_id(0xffff), {7, 1, 3}}}},
        create_partitions_cmd{.id = id,
                              .partitions = {{3, shard_id(1), partition_id(11), raft_group_id(2)}},
                              .groups = {{raft_group_id(2), {}}}},
        alter_topic_configs_cmd{.id = id, .set = {{"segment.ms", "5"}}, .remove = {"a", ""}},
        allocate_producer_ids_cmd{.first = int64_t{1} << 40, .count = 1000},
        allocate_producer_ids_cmd{.first = -1, .count = -7},
        register_broker_cmd{.node = 3,
                            .rpc = {"10.0.0.4", 33145},
                            .kafka = {"broker-4.example", 9092}},
        register_broker_cmd{.node = -2, .rpc = {"", 0}, .kafka = {"::1", 65535}},
        decommission_broker_cmd{.node = 1},
        move_group_cmd{.id = raft_group_id(3), .replicas = {4, 1, 2}},
        move_group_cmd{.id = raft_group_id(0xffff), .replicas = {}},
    };
}

TEST(metadata_commands, round_trip) {
    for (const auto& cmd : samples()) {
        auto bytes = encode(cmd);
        ASSERT_GE(bytes.size(), 2u);
        EXPECT_EQ(std::to_integer<uint8_t>(bytes[0]), metadata_command_version);
        EXPECT_EQ(std::to_integer<size_t>(bytes[1]), cmd.index());
        auto back = decode(bytes);
        ASSERT_TRUE(back) << back.error().message();
        EXPECT_EQ(*back, cmd);
    }
}

// A log written before groups (version 1) reads as partitions of group 0 and no groups.
TEST(metadata_commands, reads_version_1) {
    std::vector<uint8_t> v1 = {1, 2};  // version 1, create_partitions_cmd
    for (int i = 0; i < 16; ++i) v1.push_back(uint8_t(i));  // topic id
    for (uint8_t b : {1, 0, 0, 0,  // one assignment
                      5, 0, 0, 0, 2, 0, 0, 0, 9, 0, 0, 0}) {  // partition 5, shard 2, log 9
        v1.push_back(b);
    }
    std::vector<std::byte> bytes;
    for (uint8_t b : v1) bytes.push_back(std::byte{b});
    auto back = decode(bytes);
    ASSERT_TRUE(back) << back.error().message();
    const auto& c = std::get<create_partitions_cmd>(*back);
    ASSERT_EQ(c.partitions.size(), 1u);
    EXPECT_EQ(c.partitions[0], (partition_assignment{5, shard_id(2), partition_id(9)}));
    EXPECT_TRUE(c.groups.empty());
    bytes.push_back(std::byte{0});  // what version 2 would read as a group count is trailing here
    EXPECT_EQ(decode(bytes).error(), cluster_errc::corrupt_command);
}

TEST(metadata_commands, refuses_truncated_and_trailing_bytes) {
    for (const auto& cmd : samples()) {
        auto bytes = encode(cmd);
        for (size_t n = 0; n < bytes.size(); ++n) {
            auto r = decode(std::span(bytes).first(n));
            ASSERT_FALSE(r) << "prefix " << n << " of command " << cmd.index();
            EXPECT_EQ(r.error(), cluster_errc::corrupt_command);
        }
        bytes.push_back(std::byte{0});
        EXPECT_EQ(decode(bytes).error(), cluster_errc::corrupt_command);
    }
}

TEST(metadata_commands, refuses_unknown_versions_and_types) {
    auto bytes = encode(samples()[2]);
    bytes[0] = std::byte{metadata_command_version + 1};
    EXPECT_EQ(decode(bytes).error(), cluster_errc::unsupported_command_version);
    bytes[0] = std::byte{0};
    EXPECT_EQ(decode(bytes).error(), cluster_errc::corrupt_command);
    bytes[0] = std::byte{metadata_command_version};
    bytes[1] = std::byte{5};
    EXPECT_EQ(decode(bytes).error(), cluster_errc::corrupt_command);
    bytes[1] = std::byte{255};
    EXPECT_EQ(decode(bytes).error(), cluster_errc::corrupt_command);
}

TEST(metadata_commands, huge_counts_do_not_allocate) {
    // create_topic with a name, an id, then a partition count of 0xffffffff and nothing after.
    std::vector<std::byte> bytes{std::byte{1}, std::byte{0}};
    for (int i = 0; i < 4; ++i) bytes.push_back(std::byte{0});     // empty name
    for (int i = 0; i < 16; ++i) bytes.push_back(std::byte{1});    // id
    for (int i = 0; i < 4; ++i) bytes.push_back(std::byte{0xff});  // partitions: 2^32 - 1
    EXPECT_EQ(decode(bytes).error(), cluster_errc::corrupt_command);
    // A string length of 2^32 - 1.
    std::vector<std::byte> str{std::byte{1},    std::byte{0},    std::byte{0xff}, std::byte{0xff},
                               std::byte{0xff}, std::byte{0xff}, std::byte{'x'}};
    EXPECT_EQ(decode(str).error(), cluster_errc::corrupt_command);
    // alter_topic_configs with a remove list claiming 2^30 strings.
    auto alter = encode(alter_topic_configs_cmd{.id = {}, .set = {}, .remove = {}});
    alter.resize(alter.size() - 4);
    for (auto b : {0x00, 0x00, 0x00, 0x40}) alter.push_back(std::byte(b));
    EXPECT_EQ(decode(alter).error(), cluster_errc::corrupt_command);
}

TEST(metadata_commands, unsorted_or_repeated_config_keys_are_corrupt) {
    auto bytes = encode(alter_topic_configs_cmd{.set = {{"a", "1"}, {"b", "2"}}});
    // Swap the two one-letter keys in place: "b" then "a".
    auto swapped = bytes;
    for (auto& b : swapped) {
        if (b == std::byte{'a'}) {
            b = std::byte{'b'};
        } else if (b == std::byte{'b'}) {
            b = std::byte{'a'};
        }
    }
    EXPECT_EQ(decode(swapped).error(), cluster_errc::corrupt_command);
    auto repeated = bytes;
    for (auto& b : repeated) {
        if (b == std::byte{'b'}) b = std::byte{'a'};
    }
    EXPECT_EQ(decode(repeated).error(), cluster_errc::corrupt_command);
}

// Random mutations of valid commands and random bytes: decode returns, whatever it returns.
TEST(metadata_commands, fuzzed_bytes_never_crash) {
    std::mt19937 rng(42);
    auto cmds = samples();
    for (int i = 0; i < 20000; ++i) {
        std::vector<std::byte> bytes;
        if (i % 4 == 0) {
            bytes.resize(rng() % 64);
            for (auto& b : bytes) b = std::byte(uint8_t(rng()));
            if (!bytes.empty()) bytes[0] = std::byte{uint8_t(1 + rng() % metadata_command_version)};
        } else {
            bytes = encode(cmds[rng() % cmds.size()]);
            for (int k = 0, n = 1 + int(rng() % 4); k < n; ++k) {
                bytes[rng() % bytes.size()] = std::byte(uint8_t(rng()));
            }
        }
        auto r = decode(bytes);
        // What decodes re-encodes to the same bytes (older versions re-encode as the current).
        if (r && bytes[0] == std::byte{metadata_command_version}) {
            EXPECT_EQ(encode(*r), bytes);
        }
    }
}

}  // namespace
}  // namespace wharf
