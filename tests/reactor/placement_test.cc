// CPU placement: cpuset parsing, and shard threads pinned to the CPUs they were given.

#include <gtest/gtest.h>
#include <sched.h>

#include <vector>

#include "reactor/placement.h"
#include "reactor/smp.h"
#include "reactor/submit_to.h"
#include "reactor/when_all.h"

namespace wharf {
namespace {

TEST(placement, parses_cpu_lists) {
    EXPECT_EQ(*parse_cpuset("0"), (std::vector<unsigned>{0}));
    EXPECT_EQ(*parse_cpuset("0-3,8,10-11"), (std::vector<unsigned>{0, 1, 2, 3, 8, 10, 11}));
    EXPECT_EQ(*parse_cpuset("3,1,1-2"), (std::vector<unsigned>{1, 2, 3}));
    for (const char* bad : {"", ",", "1,", "a", "1-", "-1", "3-1", "1--2", "1 2", "5000"}) {
        EXPECT_FALSE(parse_cpuset(bad)) << "'" << bad << "'";
    }
}

std::vector<unsigned> affinity_of_this_thread() {
    cpu_set_t set;
    CPU_ZERO(&set);
    sched_getaffinity(0, sizeof(set), &set);
    std::vector<unsigned> cpus;
    for (unsigned c = 0; c < CPU_SETSIZE; ++c) {
        if (CPU_ISSET(c, &set)) cpus.push_back(c);
    }
    return cpus;
}

TEST(placement, shards_are_pinned_to_their_cpus) {
    auto cpus = allowed_cpus();
    ASSERT_FALSE(cpus.empty());
    // As many shards as CPUs, each pinned to its own (the last CPU first, to see the mapping).
    std::vector<unsigned> order(cpus.rbegin(), cpus.rend());
    smp_config cfg{.shards = static_cast<unsigned>(order.size()), .cpus = order};
    std::vector<std::vector<unsigned>> seen(order.size());
    auto rc = smp::run(cfg, [&]() -> task<int> {
        for (unsigned k = 0; k < order.size(); ++k) {
            seen[k] = co_await submit_to(shard_id(k), [] { return affinity_of_this_thread(); });
        }
        co_return 0;
    });
    ASSERT_TRUE(rc);
    for (unsigned k = 0; k < order.size(); ++k) {
        EXPECT_EQ(seen[k], (std::vector<unsigned>{order[k]})) << "shard " << k;
    }
}

TEST(placement, overprovisioned_shards_are_not_pinned) {
    auto cpus = allowed_cpus();
    std::vector<unsigned> seen;
    auto rc = smp::run(smp_config{.shards = static_cast<unsigned>(cpus.size()) + 2},
                       [&]() -> task<int> {
        seen = co_await submit_to(shard_id(1), [] { return affinity_of_this_thread(); });
        co_return 0;
    });
    ASSERT_TRUE(rc);
    EXPECT_EQ(seen, cpus);
}

}  // namespace
}  // namespace wharf
