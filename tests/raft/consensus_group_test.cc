// Raft groups of three on one shard: three consensus drivers, each over its own shard log in its
// own directory, connected by an in-memory transport. The real driver, machine and log replicate
// together: elections, commit, failover and catch-up after a restart.

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "log/record_batch.h"
#include "log/shard_log.h"
#include "raft/consensus.h"
#include "raft/errc.h"
#include "reactor/clock.h"
#include "reactor/reactor.h"
#include "reactor/smp.h"
#include "reactor/spawn.h"
#include "reactor/timer.h"
#include "tests/reactor/test_util.h"

namespace wharf {
namespace {

using namespace std::chrono_literals;

iobuf one_batch(const std::string& value) {
    std::vector<record_to_build> records(1);
    records[0].value = value;
    auto bytes = build_batch(kafka_offset(0), 1000, records);
    return iobuf::copy_of(bytes.data(), bytes.size());
}

// Delivers every message on a later reactor turn (never inside the sender's call), to the
// member that is up at delivery time; messages to or from a member that is down are lost.
class loopback_net {
public:
    class endpoint final : public raft_transport {
    public:
        explicit endpoint(loopback_net& net) : _net(net) {}
        void send(raft_message m) override { _net.post(std::move(m)); }

    private:
        loopback_net& _net;
    };

    void attach(node_id n, consensus* c) { _members[n] = c; }
    void detach(node_id n) { _members.erase(n); }
    size_t delivered() const noexcept { return _delivered; }

    task<void> drain() {
        while (_in_flight > 0) co_await sleep_for(1ms);
    }

private:
    void post(raft_message m) {
        ++_in_flight;
        spawn(deliver(std::move(m)), "loopback delivery");
    }
    task<void> deliver(raft_message m) {
        co_await reactor::local().yield();
        --_in_flight;
        if (!_members.contains(m.from)) co_return;
        auto it = _members.find(m.to);
        if (it == _members.end()) co_return;
        ++_delivered;
        it->second->receive(std::move(m));
    }

    std::map<node_id, consensus*> _members;
    size_t _in_flight = 0;
    size_t _delivered = 0;
};

struct replica {
    temp_dir dir;
    std::unique_ptr<loopback_net::endpoint> transport;
    std::unique_ptr<shard_log> log;
    std::unique_ptr<consensus> raft;
};

class group_of_three {
public:
    static constexpr partition_id p{3};

    task<void> start(int i) {
        auto& r = _replicas[static_cast<size_t>(i)];
        log_config lc;
        lc.data_dir = r.dir.path();
        lc.shard = shard_id(0);
        auto log = co_await shard_log::open(lc);
        WHARF_ASSERT(log, "open: {}", log.error().message());
        r.log = std::move(*log);
        r.log->configure_partition(p, partition_config{});
        r.transport = std::make_unique<loopback_net::endpoint>(_net);
        group_config gc;
        gc.self = node_id(i);
        gc.voters = {node_id(0), node_id(1), node_id(2)};
        gc.tick = 10ms;
        gc.seed = 1000 + static_cast<uint64_t>(i);
        auto c = co_await consensus::start(gc, *r.log, r.transport.get());
        WHARF_ASSERT(c, "start: {}", c.error().message());
        r.raft = std::move(*c);
        _net.attach(node_id(i), r.raft.get());
    }

    task<void> stop(int i) {
        auto& r = _replicas[static_cast<size_t>(i)];
        _net.detach(node_id(i));
        co_await r.raft->stop();
        r.raft.reset();
        auto closed = co_await r.log->close();
        WHARF_ASSERT(closed, "close: {}", closed.error().message());
        r.log.reset();
    }

    task<void> stop_all() {
        for (int i = 0; i < 3; ++i) {
            if (_replicas[static_cast<size_t>(i)].raft) co_await stop(i);
        }
        co_await _net.drain();
    }

    // The replica that leads (among those up), waiting at most `limit`.
    task<int> leader(std::chrono::milliseconds limit = 10s) {
        auto deadline = steady_now() + limit;
        while (steady_now() < deadline) {
            for (int i = 0; i < 3; ++i) {
                auto& r = _replicas[static_cast<size_t>(i)];
                if (r.raft && r.raft->is_leader() && r.raft->machine().leader_commit()) co_return i;
            }
            co_await sleep_for(5ms);
        }
        co_return -1;
    }

    // Waits until every replica that is up has committed `index`.
    task<bool> all_committed(raft_index index, std::chrono::milliseconds limit = 10s) {
        auto deadline = steady_now() + limit;
        while (steady_now() < deadline) {
            bool all = true;
            for (auto& r : _replicas) {
                if (r.raft && (r.raft->commit_index() < index || r.log->last_index() < index)) {
                    all = false;
                }
            }
            if (all) co_return true;
            co_await sleep_for(5ms);
        }
        co_return false;
    }

    // The entries of replica i from 1 to `last`, as (term, type, payload) strings.
    task<std::vector<std::string>> entries(int i, raft_index last) {
        std::vector<std::string> out;
        auto& log = *_replicas[static_cast<size_t>(i)].log;
        raft_index next(1);
        while (next <= last) {
            auto got = co_await log.read_entries(next, 1 << 20);
            WHARF_ASSERT(got && !got->empty(), "read_entries({}) on replica {}", next, i);
            for (auto& e : *got) {
                if (e.index > last) break;
                auto bytes = e.payload.linearize(0, e.payload.size());
                out.push_back(fmt::format("{}/{}/{}", e.term, static_cast<int>(e.type),
                                          std::string(reinterpret_cast<const char*>(bytes.data()),
                                                      bytes.size())));
                next = e.index + 1;
            }
        }
        co_return out;
    }

    replica& operator[](int i) { return _replicas[static_cast<size_t>(i)]; }

private:
    loopback_net _net;
    replica _replicas[3];
};

template <typename F>
void on_shard(F body) {
    auto rc = smp::run(smp_config{.shards = 1}, [&]() -> task<int> { co_return co_await body(); });
    ASSERT_TRUE(rc);
    ASSERT_EQ(*rc, 0);
}

TEST(consensus_group, three_replicas_elect_one_leader_and_replicate_committed_batches) {
    group_of_three g;
    on_shard([&]() -> task<int> {
        for (int i = 0; i < 3; ++i) co_await g.start(i);
        int l = co_await g.leader();
        EXPECT_GE(l, 0);
        if (l < 0) {
            co_await g.stop_all();
            co_return 1;
        }
        int leaders = 0;
        for (int i = 0; i < 3; ++i) leaders += g[i].raft->is_leader() ? 1 : 0;
        EXPECT_EQ(leaders, 1);
        for (int k = 0; k < 20; ++k) {
            auto r = co_await g[l].raft->replicate_batch(group_of_three::p,
                                                         one_batch("v" + std::to_string(k)));
            EXPECT_TRUE(r) << r.error().message();
            if (!r) break;
            EXPECT_EQ(r->base_offset, kafka_offset(k));
            // Committed means on a majority's disks: the leader and one follower at least.
            int holding = 0;
            for (int i = 0; i < 3; ++i) holding += g[i].log->last_index() >= r->index ? 1 : 0;
            EXPECT_GE(holding, 2);
            EXPECT_EQ(*g[l].raft->high_watermark(group_of_three::p), kafka_offset(k + 1));
        }
        raft_index last = g[l].log->last_index();
        EXPECT_TRUE(co_await g.all_committed(last));
        auto reference = co_await g.entries(l, last);
        for (int i = 0; i < 3; ++i) {
            EXPECT_EQ(co_await g.entries(i, last), reference) << "replica " << i;
            EXPECT_EQ(*g[i].raft->high_watermark(group_of_three::p), kafka_offset(20));
        }
        // A follower refuses appends and names no other leader than the real one.
        int f = (l + 1) % 3;
        auto refused = co_await g[f].raft->replicate_batch(group_of_three::p, one_batch("x"));
        EXPECT_EQ(refused.error(), raft_errc::not_leader);
        EXPECT_EQ(g[f].raft->leader(), node_id(l));
        co_await g.stop_all();
        co_return 0;
    });
}

TEST(consensus_group, a_new_leader_keeps_every_committed_batch_and_a_restarted_replica_catches_up) {
    group_of_three g;
    on_shard([&]() -> task<int> {
        for (int i = 0; i < 3; ++i) co_await g.start(i);
        int l = co_await g.leader();
        EXPECT_GE(l, 0);
        if (l < 0) {
            co_await g.stop_all();
            co_return 1;
        }
        for (int k = 0; k < 10; ++k) {
            auto r = co_await g[l].raft->replicate_batch(group_of_three::p,
                                                         one_batch("a" + std::to_string(k)));
            EXPECT_TRUE(r);
        }
        term_id old_term = g[l].raft->term();
        co_await g.stop(l);
        int l2 = co_await g.leader();
        EXPECT_GE(l2, 0);
        EXPECT_NE(l2, l);
        if (l2 < 0) {
            co_await g.stop_all();
            co_return 1;
        }
        EXPECT_GT(g[l2].raft->term(), old_term);
        // The high watermark a client sees does not go back across the failover.
        EXPECT_EQ(*g[l2].raft->high_watermark(group_of_three::p), kafka_offset(10));
        for (int k = 0; k < 10; ++k) {
            auto r = co_await g[l2].raft->replicate_batch(group_of_three::p,
                                                          one_batch("b" + std::to_string(k)));
            EXPECT_TRUE(r);
            if (r) {
                EXPECT_EQ(r->base_offset, kafka_offset(10 + k));
            }
        }
        // The old leader comes back and catches up from its last durable index.
        co_await g.start(l);
        raft_index last = g[l2].log->last_index();
        EXPECT_TRUE(co_await g.all_committed(last));
        auto reference = co_await g.entries(l2, last);
        EXPECT_EQ(co_await g.entries(l, last), reference);
        auto read = co_await g[l].log->read(group_of_three::p, kafka_offset(0), 1 << 20);
        EXPECT_TRUE(read);
        co_await g.stop_all();
        co_return 0;
    });
}

TEST(consensus_group, leadership_moves_to_the_named_replica_and_to_the_preferred_one) {
    group_of_three g;
    on_shard([&]() -> task<int> {
        for (int i = 0; i < 3; ++i) co_await g.start(i);
        int l = co_await g.leader();
        EXPECT_GE(l, 0);
        if (l < 0) {
            co_await g.stop_all();
            co_return 1;
        }
        for (int k = 0; k < 5; ++k) {
            auto r = co_await g[l].raft->replicate_batch(group_of_three::p,
                                                         one_batch("t" + std::to_string(k)));
            EXPECT_TRUE(r);
        }
        int target = (l + 1) % 3;
        term_id before = g[l].raft->term();
        EXPECT_TRUE(g[l].raft->transfer_leadership(node_id(target)));
        // While the target catches up the old leader takes no new appends.
        if (g[l].raft->is_leader()) {
            auto refused = co_await g[l].raft->replicate_batch(group_of_three::p, one_batch("x"));
            EXPECT_FALSE(refused);
        }
        auto deadline = steady_now() + 10s;
        while (steady_now() < deadline &&
               !(g[target].raft->is_leader() && g[target].raft->machine().leader_commit())) {
            co_await sleep_for(5ms);
        }
        EXPECT_TRUE(g[target].raft->is_leader());
        EXPECT_GT(g[target].raft->term(), before);
        EXPECT_EQ(*g[target].raft->high_watermark(group_of_three::p), kafka_offset(5));
        EXPECT_EQ(g[target].raft->transfer_leadership(node_id(7)).error(), raft_errc::not_a_voter);
        co_await g.stop_all();
        co_return 0;
    });
}

}  // namespace
}  // namespace wharf
