#pragma once

// Raft groups of three on one shard, for tests: three consensus drivers, each over its own shard
// log in its own directory, connected by an in-memory transport that delivers on a later reactor
// turn and loses what goes to or from a replica that is down. Replicas 3 and 4 are spares: they
// start outside the initial membership {0, 1, 2} and join only through membership changes.

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
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

namespace wharf::test {

using namespace std::chrono_literals;

inline iobuf one_batch(const std::string& value) {
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
    static constexpr int capacity = 5;

    task<void> start(int i) {
        auto& r = _replicas[static_cast<size_t>(i)];
        log_config lc;
        lc.data_dir = r.dir.path();
        lc.shard = shard_id(0);
        // A test may make this replica's disk fail (set_disk_fault).
        lc.disk_fault = [this, i](disk_op op, uint64_t bytes) -> std::error_code {
            auto& f = _faults[static_cast<size_t>(i)];
            return f ? f(op, bytes) : std::error_code{};
        };
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
        for (int i = 0; i < capacity; ++i) {
            if (_replicas[static_cast<size_t>(i)].raft) co_await stop(i);
        }
        co_await _net.drain();
    }

    // Starts the three replicas and returns the one elected, or -1 (a test failure, with every
    // replica stopped again) when none is within the wait of leader().
    task<int> start_all_and_elect() {
        for (int i = 0; i < 3; ++i) co_await start(i);
        int l = co_await leader();
        EXPECT_GE(l, 0) << "no leader elected";
        if (l < 0) co_await stop_all();
        co_return l;
    }

    // The replica that leads (among those up), waiting at most `limit`.
    task<int> leader(std::chrono::milliseconds limit = 10s) {
        auto deadline = steady_now() + limit;
        while (steady_now() < deadline) {
            for (int i = 0; i < capacity; ++i) {
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
    bool up(int i) const { return _replicas[static_cast<size_t>(i)].raft != nullptr; }
    void set_disk_fault(int i, disk_fault_fn f) { _faults[static_cast<size_t>(i)] = std::move(f); }

private:
    loopback_net _net;
    replica _replicas[capacity];
    disk_fault_fn _faults[capacity];
};

template <typename F>
void on_shard(F body) {
    auto rc = smp::run(smp_config{.shards = 1}, [&]() -> task<int> { co_return co_await body(); });
    ASSERT_TRUE(rc);
    ASSERT_EQ(*rc, 0);
}


}  // namespace wharf::test
