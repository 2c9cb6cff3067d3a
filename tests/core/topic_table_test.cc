// The topic table: validation before writing, deterministic apply and replay, placement,
// lookups, producer id blocks and snapshots.

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>
#include <thread>

#include "core/cluster/metadata_commands.h"
#include "core/cluster/topic_table.h"

namespace wharf {
namespace {

topic_id id_of(uint8_t n) {
    topic_id id;
    id.bytes[15] = n;
    id.bytes[0] = 0x10;
    return id;
}

// Validates, places and applies a create as the frontend would; returns the command.
create_topic_cmd create(topic_table& t, const std::string& name, int32_t partitions,
                        uint32_t shards, config_map configs = {}) {
    EXPECT_FALSE(t.validate_create(name, partitions, -1, configs)) << name;
    create_topic_cmd c{.name = name,
                       .id = random_topic_id(),
                       .partitions = t.place(0, partitions, shards),
                       .configs = std::move(configs)};
    EXPECT_FALSE(t.apply(c)) << name;
    return c;
}

void expect_error(const topic_check& check, cluster_errc code, std::string_view message) {
    ASSERT_TRUE(check);
    EXPECT_EQ(check->code, code);
    EXPECT_EQ(check->message, message);
}

TEST(topic_table, validate_create_follows_kafka) {
    topic_table t;
    create(t, "orders", 3, 2);
    expect_error(t.validate_create("orders", 1, -1, {}), cluster_errc::topic_already_exists,
                 "Topic 'orders' already exists.");
    create(t, "a.b", 1, 1);
    expect_error(t.validate_create("a_b", 1, -1, {}), cluster_errc::invalid_topic,
                 "Topic 'a_b' collides with existing topic: a.b");
    expect_error(t.validate_create("", 1, -1, {}), cluster_errc::invalid_topic,
                 "Topic name is illegal, it can't be empty");
    expect_error(t.validate_create("bad name", 1, -1, {}), cluster_errc::invalid_topic,
                 "Topic name \"bad name\" is illegal, it contains a character other than ASCII "
                 "alphanumerics, '.', '_' and '-'");
    expect_error(t.validate_create("x", 0, -1, {}), cluster_errc::invalid_partitions,
                 "Number of partitions must be larger than 0.");
    expect_error(t.validate_create("x", -1, -1, {}), cluster_errc::invalid_partitions,
                 "Number of partitions must be larger than 0.");
    EXPECT_EQ(t.validate_create("x", max_partitions_per_topic + 1, -1, {})->code,
              cluster_errc::invalid_partitions);
    EXPECT_FALSE(t.validate_create("x", max_partitions_per_topic, -1, {}));
    EXPECT_FALSE(t.validate_create("x", 1, 1, {}));
    expect_error(t.validate_create("x", 1, 3, {}), cluster_errc::invalid_replication_factor,
                 "Unable to replicate the partition 3 time(s): The target replication factor "
                 "of 3 cannot be reached because only 1 broker(s) are registered.");
    expect_error(t.validate_create("x", 1, 0, {}), cluster_errc::invalid_replication_factor,
                 "Replication factor must be larger than 0, or -1 to use the default value.");
    expect_error(t.validate_create("x", 1, -2, {}), cluster_errc::invalid_replication_factor,
                 "Replication factor must be larger than 0, or -1 to use the default value.");
    expect_error(t.validate_create("x", 1, -1, {{"nope", "1"}}), cluster_errc::invalid_config,
                 "Unknown topic config name: nope");
    EXPECT_FALSE(t.validate_create("__consumer_offsets", 50, -1, {{"cleanup.policy", "compact"}}));
}

TEST(topic_table, create_and_lookups) {
    topic_table t;
    auto c = create(t, "orders", 4, 2, {{"retention.ms", "1000"}});
    create(t, "__consumer_offsets", 2, 2);
    create(t, "audit", 1, 2);
    EXPECT_EQ(t.version(), 3u);

    const auto* orders = t.find("orders");
    ASSERT_NE(orders, nullptr);
    EXPECT_EQ(orders->id, c.id);
    EXPECT_EQ(t.find(c.id), orders);
    EXPECT_FALSE(orders->internal);
    EXPECT_TRUE(t.find("__consumer_offsets")->internal);
    EXPECT_EQ(orders->config.retention_ms(), 1000);
    EXPECT_EQ(orders->overrides.at("retention.ms"), "1000");
    EXPECT_EQ(t.find("missing"), nullptr);
    EXPECT_EQ(t.find(id_of(9)), nullptr);

    auto all = t.topics();
    ASSERT_EQ(all.size(), 3u);
    EXPECT_EQ(all[0]->name, "__consumer_offsets");
    EXPECT_EQ(all[1]->name, "audit");
    EXPECT_EQ(all[2]->name, "orders");

    const auto& s = t.state();
    ASSERT_NE(s.assignment("orders", 3), nullptr);
    EXPECT_EQ(s.assignment("orders", 3)->partition, 3);
    EXPECT_EQ(s.assignment(c.id, 0)->log_partition, partition_id(1));
    EXPECT_EQ(s.assignment("orders", 4), nullptr);
    EXPECT_EQ(s.assignment("orders", -1), nullptr);
    EXPECT_EQ(s.assignment("missing", 0), nullptr);
}

TEST(topic_table, placement_balances_and_ids_are_fresh) {
    topic_table t;
    auto a = create(t, "a", 5, 3);
    // Least loaded first, ties to the lowest shard: 0 1 2 0 1.
    std::vector<uint32_t> shards;
    for (const auto& p : a.partitions) shards.push_back(p.shard.value());
    EXPECT_EQ(shards, (std::vector<uint32_t>{0, 1, 2, 0, 1}));
    for (size_t i = 0; i < a.partitions.size(); ++i) {
        EXPECT_EQ(a.partitions[i].partition, int32_t(i));
        EXPECT_EQ(a.partitions[i].log_partition, partition_id(uint32_t(1 + i)));
    }
    // Loads are now 2 2 1: the next goes to shard 2, then 0.
    auto b = create(t, "b", 2, 3);
    EXPECT_EQ(b.partitions[0].shard, shard_id(2));
    EXPECT_EQ(b.partitions[1].shard, shard_id(0));
    EXPECT_EQ(b.partitions[0].log_partition, partition_id(6));

    // Deleting never makes ids reusable.
    ASSERT_FALSE(t.apply(delete_topic_cmd{a.id}));
    EXPECT_EQ(t.find("a"), nullptr);
    EXPECT_EQ(t.state().next_log_partition(), partition_id(8));
    auto c = create(t, "a", 1, 3);
    EXPECT_EQ(c.partitions[0].log_partition, partition_id(8));
    // After the delete, loads are 1 0 1 (b), so shard 1 takes it.
    EXPECT_EQ(c.partitions[0].shard, shard_id(1));

    // The same state places the same way (determinism), and place() itself changes nothing.
    EXPECT_EQ(t.place(0, 4, 3), t.place(0, 4, 3));
    // A broker restarted with fewer shards places only on the shards it has.
    for (const auto& p : t.place(0, 4, 1)) EXPECT_EQ(p.shard, shard_id(0));
}

TEST(topic_table, apply_refuses_stale_and_overtaken_commands) {
    topic_table t;
    auto first_place = t.place(0, 2, 2);
    auto second_place = t.place(0, 2, 2);  // prepared against the same table
    ASSERT_FALSE(t.apply(create_topic_cmd{.name = "x", .id = id_of(1), .partitions = first_place}));
    auto v = t.version();
    EXPECT_EQ(
        t.apply(create_topic_cmd{.name = "y", .id = id_of(2), .partitions = second_place})->code,
        cluster_errc::stale_command);
    EXPECT_EQ(t.find("y"), nullptr);
    EXPECT_EQ(t.version(), v);
    // The same name twice: the second is refused.
    EXPECT_EQ(t.apply(create_topic_cmd{.name = "x", .id = id_of(3), .partitions = t.place(0, 1, 2)})
                  ->code,
              cluster_errc::topic_already_exists);
    // Same id, zero id, empty or misnumbered partitions, bad configs.
    EXPECT_EQ(t.apply(create_topic_cmd{.name = "z", .id = id_of(1), .partitions = t.place(0, 1, 2)})
                  ->code,
              cluster_errc::stale_command);
    EXPECT_EQ(
        t.apply(create_topic_cmd{.name = "z", .id = {}, .partitions = t.place(0, 1, 2)})->code,
        cluster_errc::stale_command);
    EXPECT_EQ(t.apply(create_topic_cmd{.name = "z", .id = id_of(4)})->code,
              cluster_errc::invalid_partitions);
    EXPECT_EQ(t.apply(create_topic_cmd{.name = "z", .id = id_of(4), .partitions = t.place(1, 1, 2)})
                  ->code,
              cluster_errc::stale_command);
    EXPECT_EQ(t.apply(create_topic_cmd{.name = "z",
                                       .id = id_of(4),
                                       .partitions = t.place(0, 1, 2),
                                       .configs = {{"segment.ms", "0"}}})
                  ->code,
              cluster_errc::invalid_config);
    auto reused = t.place(0, 1, 2);
    reused[0].log_partition = partition_id(0);
    EXPECT_EQ(t.apply(create_topic_cmd{.name = "z", .id = id_of(4), .partitions = reused})->code,
              cluster_errc::stale_command);
    EXPECT_EQ(t.apply(delete_topic_cmd{id_of(7)})->code, cluster_errc::unknown_topic_id);
    EXPECT_EQ(t.version(), v);
}

TEST(topic_table, create_partitions) {
    topic_table t;
    auto c = create(t, "orders", 2, 2);
    expect_error(t.validate_create_partitions("orders", 2), cluster_errc::invalid_partitions,
                 "Topic already has 2 partition(s).");
    expect_error(t.validate_create_partitions("orders", 1), cluster_errc::invalid_partitions,
                 "The topic orders currently has 2 partition(s); 1 would not be an increase.");
    EXPECT_EQ(t.validate_create_partitions("nope", 3)->code, cluster_errc::unknown_topic);
    EXPECT_EQ(t.validate_create_partitions("orders", max_partitions_per_topic + 1)->code,
              cluster_errc::invalid_partitions);
    ASSERT_FALSE(t.validate_create_partitions("orders", 5));
    auto added = t.place(2, 3, 2);
    ASSERT_FALSE(t.apply(create_partitions_cmd{c.id, added}));
    const auto* o = t.find("orders");
    ASSERT_EQ(o->partitions.size(), 5u);
    EXPECT_EQ(o->partitions[4].partition, 4);
    EXPECT_EQ(o->partitions[4].log_partition, partition_id(5));
    // Numbering must continue where the topic ends.
    EXPECT_EQ(t.apply(create_partitions_cmd{c.id, t.place(3, 1, 2)})->code,
              cluster_errc::stale_command);
    EXPECT_EQ(t.apply(create_partitions_cmd{id_of(5), t.place(5, 1, 2)})->code,
              cluster_errc::unknown_topic_id);
}

TEST(topic_table, alter_configs) {
    topic_table t(topic_defaults{.retention_ms = 500});
    auto c = create(t, "orders", 1, 1, {{"retention.bytes", "100"}, {"segment.ms", "10"}});
    EXPECT_EQ(t.find("orders")->config.retention_ms(), 500);
    EXPECT_EQ(t.validate_alter_configs("nope", {}, {})->code, cluster_errc::unknown_topic);
    expect_error(t.validate_alter_configs("orders", {{"retention.ms", "-5"}}, {}),
                 cluster_errc::invalid_config,
                 "Invalid value -5 for configuration retention.ms: Value must be at least -1");
    expect_error(t.validate_alter_configs("orders", {}, {"bogus"}), cluster_errc::invalid_config,
                 "Unknown topic config name: bogus");
    ASSERT_FALSE(t.validate_alter_configs("orders", {{"retention.ms", "42"}}, {"segment.ms"}));
    ASSERT_FALSE(t.apply(alter_topic_configs_cmd{
        .id = c.id, .set = {{"retention.ms", "42"}}, .remove = {"segment.ms"}}));
    const auto* o = t.find("orders");
    EXPECT_EQ(o->overrides, (config_map{{"retention.bytes", "100"}, {"retention.ms", "42"}}));
    EXPECT_EQ(o->config.retention_ms(), 42);
    EXPECT_EQ(o->config.segment_ms(), 604800000);
    EXPECT_EQ(o->config.retention_bytes(), 100);
    EXPECT_EQ(t.apply(alter_topic_configs_cmd{.id = c.id, .set = {{"x", "1"}}})->code,
              cluster_errc::invalid_config);
}

TEST(topic_table, producer_id_blocks) {
    topic_table t;
    EXPECT_EQ(t.next_producer_id(), 0);
    ASSERT_FALSE(t.apply(allocate_producer_ids_cmd{.first = 0, .count = 1000}));
    EXPECT_EQ(t.next_producer_id(), 1000);
    // A block prepared before the first was applied overlaps it: refused.
    EXPECT_EQ(t.apply(allocate_producer_ids_cmd{.first = 0, .count = 1000})->code,
              cluster_errc::stale_command);
    EXPECT_EQ(t.apply(allocate_producer_ids_cmd{.first = 1000, .count = 0})->code,
              cluster_errc::stale_command);
    EXPECT_EQ(t.apply(allocate_producer_ids_cmd{.first = 1000, .count = -1})->code,
              cluster_errc::stale_command);
    ASSERT_FALSE(t.apply(allocate_producer_ids_cmd{.first = 1000, .count = 5}));
    EXPECT_EQ(t.next_producer_id(), 1005);
}

// Replaying the encoded command log (with refused commands in it) rebuilds an identical table.
TEST(topic_table, replay_is_deterministic) {
    topic_table live(topic_defaults{.retention_bytes = 7});
    std::vector<std::vector<std::byte>> log;
    auto write = [&](metadata_command cmd) {
        log.push_back(encode(cmd));
        (void)live.apply(cmd);
    };
    std::mt19937 rng(1234);
    std::vector<topic_id> ids;
    for (int i = 0; i < 200; ++i) {
        auto name = "t" + std::to_string(rng() % 40);
        switch (rng() % 5) {
            case 0:
            case 1: {
                auto id = random_topic_id();
                ids.push_back(id);
                auto n = int32_t(1 + rng() % 4);
                write(create_topic_cmd{.name = name,
                                       .id = id,
                                       .partitions = live.place(0, n, 3),
                                       .configs = {{"retention.ms", std::to_string(rng() % 9)}}});
                break;
            }
            case 2:
                if (!ids.empty()) write(delete_topic_cmd{ids[rng() % ids.size()]});
                break;
            case 3:
                if (const auto* t = live.find(name)) {
                    auto first = int32_t(t->partitions.size());
                    write(create_partitions_cmd{t->id, live.place(first, 2, 3)});
                }
                break;
            default:
                write(allocate_producer_ids_cmd{.first = live.next_producer_id(), .count = 10});
                if (!ids.empty()) {
                    write(alter_topic_configs_cmd{.id = ids[rng() % ids.size()],
                                                  .set = {{"compression.type", "lz4"}},
                                                  .remove = {"retention.ms"}});
                }
        }
    }
    ASSERT_GT(live.topics().size(), 5u);

    topic_table replayed(topic_defaults{.retention_bytes = 7});
    for (const auto& bytes : log) {
        auto cmd = decode(bytes);
        ASSERT_TRUE(cmd);
        (void)replayed.apply(*cmd);
    }
    EXPECT_EQ(replayed.version(), live.version());
    EXPECT_EQ(replayed.next_producer_id(), live.next_producer_id());
    EXPECT_EQ(replayed.state().next_log_partition(), live.state().next_log_partition());
    auto a = live.topics();
    auto b = replayed.topics();
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) {
        EXPECT_EQ(a[i]->name, b[i]->name);
        EXPECT_EQ(a[i]->id, b[i]->id);
        EXPECT_EQ(a[i]->partitions, b[i]->partitions);
        EXPECT_EQ(a[i]->overrides, b[i]->overrides);
        EXPECT_EQ(a[i]->config.retention_bytes(), 7);
        EXPECT_EQ(a[i]->config.compression(), b[i]->config.compression());
    }
    // Every live log partition id is unique.
    std::set<uint32_t> seen;
    for (const auto* t : a) {
        for (const auto& p : t->partitions) {
            EXPECT_NE(p.log_partition, reserved_metadata_log_partition);
            EXPECT_TRUE(seen.insert(p.log_partition.value()).second);
        }
    }
}

TEST(topic_table, snapshots_are_immutable_and_versioned) {
    topic_table t;
    create(t, "a", 2, 2, {{"retention.ms", "9"}});
    auto s1 = t.snapshot();
    create(t, "b", 1, 2);
    auto s2 = t.snapshot();
    EXPECT_EQ(s1->version() + 1, s2->version());
    EXPECT_EQ(s1->find("b"), nullptr);
    ASSERT_NE(s2->find("b"), nullptr);
    EXPECT_EQ(s1->find("a")->config.retention_ms(), 9);
    EXPECT_EQ(s1->assignment("a", 1)->shard, shard_id(1));
    // Readable from another thread while the table moves on.
    std::thread reader([s1] {
        for (int i = 0; i < 1000; ++i) ASSERT_EQ(s1->topic_count(), 1u);
    });
    for (int i = 0; i < 20; ++i) create(t, "c" + std::to_string(i), 1, 2);
    reader.join();
    EXPECT_EQ(s1->topic_count(), 1u);
}

TEST(topic_table, random_topic_ids_are_v4_and_distinct) {
    std::set<topic_id> ids;
    for (int i = 0; i < 1000; ++i) {
        auto id = random_topic_id();
        EXPECT_FALSE(id.is_zero());
        EXPECT_EQ(id.bytes[6] >> 4, 4);
        EXPECT_EQ(id.bytes[8] >> 6, 2);
        ids.insert(id);
    }
    EXPECT_EQ(ids.size(), 1000u);
    auto s = to_string(random_topic_id());
    EXPECT_EQ(s.size(), 36u);
    EXPECT_EQ(s[14], '4');
}

}  // namespace
}  // namespace wharf

namespace wharf {
namespace {

TEST(topic_table, brokers_register_move_and_are_decommissioned_for_good) {
    topic_table t;
    const std::vector<int32_t> seeds{0, 1, 2};
    EXPECT_EQ(t.state().replica_set(seeds), seeds);
    register_broker_cmd joiner{.node = 5, .rpc = {"10.0.0.6", 33145}, .kafka = {"10.0.0.6", 9092}};
    EXPECT_FALSE(t.apply(joiner));
    EXPECT_EQ(t.state().replica_set(seeds), (std::vector<int32_t>{0, 1, 2, 5}));
    // The same registration again changes nothing; new addresses move the broker.
    uint64_t v = t.version();
    EXPECT_TRUE(t.apply(joiner));
    EXPECT_EQ(t.version(), v);
    joiner.rpc.port = 33146;
    EXPECT_FALSE(t.apply(joiner));
    EXPECT_EQ(t.state().registered_brokers().at(5).rpc.port, 33146);
    // Ids out of range and empty addresses are refused.
    EXPECT_TRUE(t.apply(register_broker_cmd{.node = -1, .rpc = {"a", 1}, .kafka = {"a", 1}}));
    EXPECT_TRUE(t.apply(register_broker_cmd{.node = max_cluster_node_ids, .rpc = {"a", 1},
                                            .kafka = {"a", 1}}));
    EXPECT_TRUE(t.apply(register_broker_cmd{.node = 6, .rpc = {"", 1}, .kafka = {"a", 1}}));
    // A seed and a registered broker leave; neither comes back, and leaving twice is refused.
    EXPECT_FALSE(t.apply(decommission_broker_cmd{.node = 1}));
    EXPECT_FALSE(t.apply(decommission_broker_cmd{.node = 5}));
    EXPECT_TRUE(t.apply(decommission_broker_cmd{.node = 5}));
    EXPECT_TRUE(t.apply(joiner));
    EXPECT_TRUE(t.state().decommissioned(1));
    EXPECT_EQ(t.state().decommissioned_brokers(), (std::vector<int32_t>{1, 5}));
    EXPECT_EQ(t.state().replica_set(seeds), (std::vector<int32_t>{0, 2}));
    // Snapshots carry them to the other shards.
    EXPECT_EQ(t.snapshot()->replica_set(seeds), (std::vector<int32_t>{0, 2}));
}

// Every partition is replicated on every broker the groups span, joined ones included and
// decommissioned ones not: that is the one replication factor a topic may ask for.
TEST(topic_table, the_replication_factor_follows_the_brokers_that_join_and_leave) {
    topic_defaults d;
    d.replication_factor = 3;  // three seeds
    topic_table t(d);
    EXPECT_FALSE(t.validate_create("x", 1, 3, {}));
    EXPECT_EQ(t.validate_create("x", 1, 4, {})->code, cluster_errc::invalid_replication_factor);
    EXPECT_FALSE(t.apply(register_broker_cmd{.node = 3, .rpc = {"a", 1}, .kafka = {"a", 2}}));
    EXPECT_EQ(t.state().broker_count(), 4);
    EXPECT_FALSE(t.validate_create("x", 1, 4, {}));
    // Fewer replicas than brokers: groups of fixed replica sets (place_replicated).
    EXPECT_FALSE(t.validate_create("x", 1, 3, {}));
    EXPECT_FALSE(t.validate_create("x", 1, 1, {}));
    EXPECT_EQ(t.validate_create("x", 1, 5, {})->code, cluster_errc::invalid_replication_factor);
    EXPECT_FALSE(t.apply(decommission_broker_cmd{.node = 0}));
    EXPECT_EQ(t.state().broker_count(), 3);
    EXPECT_FALSE(t.validate_create("x", 1, 3, {}));
    EXPECT_FALSE(t.validate_create("x", 1, -1, {}));
}

// A replication factor below the broker count: each partition in the least used rotation of
// the brokers, new rotations defined as groups, existing ones reused, shards balanced per group.
TEST(topic_table, fewer_replicas_than_brokers_place_in_rotations) {
    topic_defaults d;
    d.replication_factor = 3;
    topic_table t(d);
    const std::vector<int32_t> brokers = {0, 1, 2};
    placement p = t.place_replicated(0, 6, 2, 2, brokers);
    ASSERT_EQ(p.groups.size(), 3u);
    EXPECT_EQ(p.groups[0], (replica_group{raft_group_id(1), {0, 1}}));
    EXPECT_EQ(p.groups[1], (replica_group{raft_group_id(2), {1, 2}}));
    EXPECT_EQ(p.groups[2], (replica_group{raft_group_id(3), {2, 0}}));
    std::map<std::pair<uint16_t, uint32_t>, int> per_group_shard;
    for (const auto& a : p.partitions) ++per_group_shard[{a.group.value(), a.shard.value()}];
    // Two partitions per group, one on each shard.
    EXPECT_EQ(per_group_shard.size(), 6u);
    for (const auto& [key, n] : per_group_shard) EXPECT_EQ(n, 1) << key.first << "/" << key.second;
    // place_replicated changes nothing; applying does.
    EXPECT_EQ(t.place_replicated(0, 6, 2, 2, brokers).groups, p.groups);
    create_topic_cmd c{.name = "r2", .id = id_of(1), .partitions = p.partitions, .groups = p.groups};
    ASSERT_FALSE(t.apply(c));
    EXPECT_EQ(t.state().groups().size(), 3u);
    const topic_metadata* r2 = t.find("r2");
    ASSERT_NE(r2, nullptr);
    EXPECT_EQ(t.state().replication_factor_of(*r2), 2);
    EXPECT_EQ(t.state().replicas_of(raft_group_id(3), {0, 1, 2}), (std::vector<int32_t>{2, 0}));
    EXPECT_EQ(t.state().replicas_of(raft_group_id(0), {0, 1, 2}), brokers);
    EXPECT_TRUE(t.state().replicas_of(raft_group_id(9), {0, 1, 2}).empty());

    // A second topic reuses the rotations, starting with the least used.
    placement q = t.place_replicated(0, 1, 2, 2, brokers);
    EXPECT_TRUE(q.groups.empty());
    EXPECT_EQ(q.partitions[0].group, raft_group_id(1));
    // Another factor defines its own rotations after the last id; the full factor is group 0.
    placement one = t.place_replicated(0, 3, 2, 1, brokers);
    ASSERT_EQ(one.groups.size(), 3u);
    EXPECT_EQ(one.groups[0], (replica_group{raft_group_id(4), {0}}));
    placement all = t.place_replicated(0, 3, 2, 3, brokers);
    EXPECT_TRUE(all.groups.empty());
    for (const auto& a : all.partitions) EXPECT_EQ(a.group, raft_group_id(0));
    EXPECT_EQ(t.place_replicated(0, 3, 2, -1, brokers).partitions, all.partitions);

    // Commands that do not fit the table are stale: a group defined twice, a partition in a
    // group nobody defined, a replica set with a decommissioned broker.
    create_topic_cmd again{.name = "again", .id = id_of(2), .partitions = q.partitions,
                           .groups = {{raft_group_id(3), {1, 0}}}};
    EXPECT_EQ(t.apply(again)->code, cluster_errc::stale_command);
    auto undefined = q.partitions;
    undefined[0].group = raft_group_id(40);
    EXPECT_EQ(t.apply(create_topic_cmd{.name = "u", .id = id_of(3), .partitions = undefined})->code,
              cluster_errc::stale_command);
    EXPECT_EQ(t.apply(create_topic_cmd{.name = "dup", .id = id_of(4), .partitions = q.partitions,
                                       .groups = {{raft_group_id(7), {1, 1}}}})
                  ->code,
              cluster_errc::stale_command);
    ASSERT_FALSE(t.apply(decommission_broker_cmd{.node = 2}));
    EXPECT_EQ(t.apply(create_topic_cmd{.name = "gone", .id = id_of(5), .partitions = q.partitions,
                                       .groups = {{raft_group_id(7), {2, 1}}}})
                  ->code,
              cluster_errc::stale_command);
    EXPECT_EQ(t.state().groups().size(), 3u);
    EXPECT_EQ(t.find("again"), nullptr);

    // New partitions of r2 keep its factor.
    placement more = t.place_replicated(6, 2, 2, t.state().replication_factor_of(*r2), {0, 1, 3});
    ASSERT_FALSE(t.apply(create_partitions_cmd{r2->id, more.partitions, more.groups}));
    ASSERT_EQ(t.find("r2")->partitions.size(), 8u);
    for (const auto& a : t.find("r2")->partitions) {
        EXPECT_EQ(t.state().replicas_of(a.group, {}).size(), 2u) << a.partition;
    }
}

// A decommission moves the broker's replicas of fixed groups first: each to the broker outside
// the group in the fewest groups, in the replaced one's place; a group that spans every other
// broker cannot move. move_group_cmd changes the replicas, never the group's origin.
TEST(topic_table, decommission_moves_fixed_replicas) {
    topic_defaults d;
    d.replication_factor = 3;
    topic_table t(d);
    ASSERT_FALSE(t.apply(register_broker_cmd{.node = 3, .rpc = {"a", 1}, .kafka = {"a", 2}}));
    const std::vector<int32_t> brokers = {0, 1, 2, 3};
    placement p = t.place_replicated(0, 4, 1, 2, brokers);  // {0,1} {1,2} {2,3} {3,0}
    ASSERT_FALSE(t.apply(create_topic_cmd{.name = "r2", .id = id_of(1),
                                          .partitions = p.partitions, .groups = p.groups}));
    std::vector<move_group_cmd> moves;
    ASSERT_FALSE(t.moves_for_decommission(1, brokers, moves));
    // Groups 1 {0,1} and 2 {1,2} hold broker 1, and every broker is in two groups: {0,1} takes
    // 2 (the lowest of 2 and 3), which is then in three; {1,2} takes 0 (0 and 3 in two each).
    ASSERT_EQ(moves.size(), 2u);
    EXPECT_EQ(moves[0], (move_group_cmd{raft_group_id(1), {0, 2}}));
    EXPECT_EQ(moves[1], (move_group_cmd{raft_group_id(2), {0, 2}}));
    for (const auto& m : moves) ASSERT_FALSE(t.apply(m));
    EXPECT_EQ(t.state().replicas_of(raft_group_id(2), {}), (std::vector<int32_t>{0, 2}));
    EXPECT_EQ(*t.state().group_origin(raft_group_id(2)), (std::vector<int32_t>{1, 2}));
    EXPECT_EQ(t.state().group_origin(raft_group_id(9)), nullptr);
    // Refused: an unknown group, an empty or repeated set, a decommissioned broker.
    EXPECT_EQ(t.apply(move_group_cmd{raft_group_id(9), {0}})->code, cluster_errc::stale_command);
    EXPECT_EQ(t.apply(move_group_cmd{raft_group_id(1), {}})->code, cluster_errc::stale_command);
    EXPECT_EQ(t.apply(move_group_cmd{raft_group_id(1), {2, 2}})->code,
              cluster_errc::stale_command);
    ASSERT_FALSE(t.apply(decommission_broker_cmd{.node = 1}));
    EXPECT_EQ(t.apply(move_group_cmd{raft_group_id(1), {1, 0}})->code,
              cluster_errc::stale_command);
    // A group spanning every broker left but the leaving one: its replica has nowhere to go.
    placement wide = t.place_replicated(0, 1, 1, 3, {0, 2, 3, 4});
    ASSERT_FALSE(t.apply(create_topic_cmd{.name = "r3", .id = id_of(2),
                                          .partitions = wide.partitions, .groups = wide.groups}));
    moves.clear();
    auto refused = t.moves_for_decommission(0, {0, 2, 3}, moves);
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->code, cluster_errc::invalid_request);
}

}  // namespace
}  // namespace wharf
