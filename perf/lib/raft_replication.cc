#include "perf/lib/raft_replication.h"

#include <fmt/core.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <variant>
#include <vector>

#include "core/raft_transport/config.h"
#include "core/raft_transport/listener.h"
#include "core/raft_transport/peer_transport.h"
#include "log/record_batch.h"
#include "log/shard_log.h"
#include "raft/consensus.h"
#include "raft/messages.h"
#include "raft/transport.h"
#include "reactor/clock.h"
#include "reactor/iobuf.h"
#include "reactor/smp.h"
#include "reactor/task.h"
#include "reactor/timer.h"
#include "reactor/when_all.h"

namespace wharf::perf {
namespace {

using namespace std::chrono_literals;

// Polling periods, named: GCC 12 miscompiles class temporaries inside co_await expressions.
constexpr std::chrono::nanoseconds leader_poll = 5ms;
constexpr std::chrono::nanoseconds watchdog_poll = 20ms;
constexpr std::chrono::nanoseconds max_sleep_slice = 50ms;

// The batch every call replicates: random values (nothing compresses, but random keeps it
// honest), uncompressed, built once as a producer would send it. The log stamps its own copy of
// the 61-byte header, so one buffer serves every call (shard_log.cc, stamp()).
std::vector<std::byte> make_batch(const replication_options& o) {
    std::mt19937_64 rng(42);
    std::vector<std::string> values(o.records_per_batch, std::string(o.record_bytes, '\0'));
    for (auto& v : values) {
        for (auto& c : v) c = static_cast<char>(rng());
    }
    std::vector<record_to_build> records(o.records_per_batch);
    for (size_t i = 0; i < records.size(); ++i) {
        records[i].value = values[i];
        records[i].timestamp_delta = static_cast<int64_t>(i);
    }
    return build_batch(kafka_offset(0), wall_now().value(), records);
}

// User + system CPU seconds of the whole process (every thread, io_uring's workers included).
double process_cpu_seconds() {
    rusage u{};
    ::getrusage(RUSAGE_SELF, &u);
    auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
    return s(u.ru_utime) + s(u.ru_stime);
}

// What a replica's group sent, counted on its way into the transport: how the leader packs
// entries into append requests, and how often followers answer.
struct message_counts {
    uint64_t append_requests = 0;
    uint64_t empty_append_requests = 0;
    uint64_t appended_entries = 0;
    uint64_t append_replies = 0;
};

// Counts, then hands every message to the real transport unchanged (send never suspends).
class counting_transport final : public raft_transport {
public:
    explicit counting_transport(raft_transport& inner) : _inner(inner) {}
    void send(raft_message m) override {
        if (const auto* a = std::get_if<append_request>(&m.body)) {
            ++_counts.append_requests;
            if (a->entries.empty()) ++_counts.empty_append_requests;
            _counts.appended_entries += a->entries.size();
        } else if (std::holds_alternative<append_reply>(m.body)) {
            ++_counts.append_replies;
        }
        _inner.send(std::move(m));
    }
    const message_counts& counts() const noexcept { return _counts; }

private:
    raft_transport& _inner;
    message_counts _counts;
};

// One replica: its log, its raft group and, in a group of three, its broker's listener and
// transport.
struct replica {
    std::string dir;
    std::unique_ptr<shard_log> log;
    std::unique_ptr<raft_rpc::rpc_listener> listener;
    std::unique_ptr<raft_rpc::peer_transport> transport;
    std::unique_ptr<counting_transport> counter;
    std::unique_ptr<consensus> raft;
};

// The counters read at both ends of the measured window.
struct window_mark {
    steady_time at;
    double cpu_seconds = 0;
    uint64_t syncs = 0;
    uint64_t leader_syncs = 0;
    uint64_t leader_flushes = 0;
    uint64_t leader_group_entries = 0;
    uint64_t leader_entry_reads = 0;
    uint64_t leader_entries_read = 0;
    raft_rpc::peer_transport_stats rpc;
    message_counts leader_sent;
    uint64_t follower_replies = 0;
};

// The calls in flight and what they acknowledged in the window.
struct workload {
    consensus& leader;
    const iobuf& batch;
    uint32_t partitions;
    histogram& latency_us;
    uint64_t next_partition = 0;
    bool measuring = false;  // set at the window's start ...
    bool ended = false;      // ... and at its end
    uint64_t acknowledged = 0;
    size_t workers_done = 0;
    std::string error;
};

class replication_run {
public:
    replication_run(const replication_options& o, int replicas, std::string root)
        : _o(o), _root(std::move(root)), _nodes(static_cast<size_t>(replicas)) {}

    // The case from start to end; false with _error set when it failed.
    task<bool> run(replication_case& out);
    const std::string& error() const noexcept { return _error; }

private:
    task<bool> open_logs();
    task<bool> listen();
    task<bool> start_groups();
    task<int> wait_for_leader();
    task<bool> drive(int leader, replication_case& out);
    task<void> worker(workload& w);
    task<void> meter(workload& w, int leader, window_mark& begin, window_mark& end);
    task<void> watchdog(workload& w);
    task<void> shut_down();
    window_mark mark(int leader) const;
    bool fail(std::string why) {
        if (_error.empty()) _error = std::move(why);
        return false;
    }

    const replication_options& _o;
    std::string _root;
    std::vector<replica> _nodes;  // sized once: the handlers keep pointers into it
    std::string _error;
};

task<bool> replication_run::open_logs() {
    for (size_t i = 0; i < _nodes.size(); ++i) {
        replica& r = _nodes[i];
        r.dir = fmt::format("{}/node-{}", _root, i);
        log_config lc;
        lc.data_dir = r.dir;
        lc.shard = shard_id(0);
        lc.fsync = _o.fsync;
        std::string detail;
        auto opened = co_await shard_log::open(std::move(lc), &detail);
        if (!opened) {
            co_return fail(fmt::format("cannot open the log of node {} in {}: {} {}", i, r.dir,
                                       opened.error().message(), detail));
        }
        r.log = std::move(*opened);
        // Every replica holds every partition: a follower refuses entries of one it lacks.
        for (uint32_t p = 0; p < _o.partitions; ++p) {
            r.log->configure_partition(partition_id(p), partition_config{});
        }
    }
    co_return true;
}

// A group of three: one listener per node on a free loopback port, each delivering to its node,
// and one transport per node knowing the other two listeners.
task<bool> replication_run::listen() {
    raft_rpc::raft_transport_config base;
    for (size_t k = 0; k < base.cluster.bytes.size(); ++k) {
        base.cluster.bytes[k] = static_cast<uint8_t>(0x5a + k);
    }
    auto loopback = net::parse_address("127.0.0.1", 0);
    if (!loopback) co_return fail("cannot parse 127.0.0.1");
    base.listen_address = *loopback;
    // Each listener answers as its own node, so dialers can check whom they reached.
    base.verify_peer = raft_rpc::verify_peer_node::yes;
    std::vector<uint16_t> ports;
    for (size_t i = 0; i < _nodes.size(); ++i) {
        raft_rpc::raft_transport_config cfg = base;
        cfg.self = node_id(static_cast<int32_t>(i));
        auto l = co_await raft_rpc::rpc_listener::listen(cfg);
        if (!l) co_return fail(fmt::format("node {}: listen: {}", i, l.error().message()));
        replica* self = &_nodes[i];
        auto deliver = [self](raft_message m) {
            if (self->raft) self->raft->receive(std::move(m));
        };
        (*l)->local().set_handler(deliver);
        ports.push_back((*l)->port());
        self->listener = std::move(*l);
        self->listener->start();
    }
    for (size_t i = 0; i < _nodes.size(); ++i) {
        raft_rpc::raft_transport_config cfg = base;
        cfg.self = node_id(static_cast<int32_t>(i));
        raft_rpc::peer_addresses peers;
        for (size_t j = 0; j < _nodes.size(); ++j) {
            if (j == i) continue;
            auto a = net::parse_address("127.0.0.1", ports[j]);
            if (!a) co_return fail("cannot parse 127.0.0.1");
            peers.emplace(node_id(static_cast<int32_t>(j)), *a);
        }
        _nodes[i].transport = std::make_unique<raft_rpc::peer_transport>(cfg, std::move(peers));
        _nodes[i].counter = std::make_unique<counting_transport>(*_nodes[i].transport);
    }
    co_return true;
}

task<bool> replication_run::start_groups() {
    for (size_t i = 0; i < _nodes.size(); ++i) {
        replica& r = _nodes[i];
        group_config gc;
        gc.self = node_id(static_cast<int32_t>(i));
        for (size_t j = 0; j < _nodes.size(); ++j) {
            gc.voters.push_back(node_id(static_cast<int32_t>(j)));
        }
        auto started = co_await consensus::start(gc, *r.log, r.counter.get());
        if (!started) {
            co_return fail(
                fmt::format("node {}: consensus::start: {}", i, started.error().message()));
        }
        r.raft = std::move(*started);
    }
    co_return true;
}

// The node that leads and has committed an entry of its term, or -1 after election_timeout.
task<int> replication_run::wait_for_leader() {
    steady_time deadline = steady_now() + _o.election_timeout;
    while (true) {
        for (size_t i = 0; i < _nodes.size(); ++i) {
            const consensus& c = *_nodes[i].raft;
            if (c.is_leader() && c.machine().leader_commit()) co_return static_cast<int>(i);
        }
        if (steady_now() >= deadline) co_return -1;
        co_await sleep_for(leader_poll);
    }
}

window_mark replication_run::mark(int leader) const {
    window_mark m;
    m.at = steady_now();
    m.cpu_seconds = process_cpu_seconds();
    for (const replica& r : _nodes) m.syncs += r.log->stats().syncs;
    const replica& l = _nodes[static_cast<size_t>(leader)];
    m.leader_syncs = l.log->stats().syncs;
    m.leader_flushes = l.log->stats().flushes;
    m.leader_group_entries = l.log->stats().group_entries;
    m.leader_entry_reads = l.log->stats().entry_reads;
    m.leader_entries_read = l.log->stats().entries_read;
    if (l.transport) m.rpc = l.transport->stats();
    if (l.counter) m.leader_sent = l.counter->counts();
    for (const replica& r : _nodes) {
        if (&r != &l && r.counter) m.follower_replies += r.counter->counts().append_replies;
    }
    return m;
}

// One call outstanding at a time until the window ends; the first failure ends every worker.
task<void> replication_run::worker(workload& w) {
    while (w.error.empty() && !w.ended) {
        partition_id p(static_cast<uint32_t>(w.next_partition++ % w.partitions));
        steady_time t0 = steady_now();
        iobuf batch = w.batch.share();
        auto r = co_await w.leader.replicate_batch(p, std::move(batch));
        if (!r) {
            if (w.error.empty()) {
                w.error = fmt::format("replicate_batch to partition {} failed: {}", p,
                                      r.error().message());
            }
            break;
        }
        if (w.measuring && !w.ended) {
            auto us = std::chrono::duration_cast<std::chrono::microseconds>(steady_now() - t0);
            w.latency_us.record(static_cast<uint64_t>(us.count()));
            ++w.acknowledged;
        }
    }
    ++w.workers_done;
}

// Sleeps in short slices until t, so that a failure ends the wait early.
task<void> sleep_until(steady_time t, const workload& w) {
    while (w.error.empty()) {
        steady_time now = steady_now();
        if (now >= t) break;
        std::chrono::nanoseconds left =
            std::min<std::chrono::nanoseconds>(t - now, max_sleep_slice);
        bool slept = co_await sleep_for(left);
        if (!slept) break;
    }
}

task<void> replication_run::meter(workload& w, int leader, window_mark& begin, window_mark& end) {
    steady_time start = steady_now() + _o.warmup;
    co_await sleep_until(start, w);
    begin = mark(leader);
    w.measuring = true;
    steady_time stop = begin.at + _o.duration;
    co_await sleep_until(stop, w);
    end = mark(leader);
    w.ended = true;
}

// Calls still outstanding drain_timeout after the window's end fail the case: the leader is
// stopped, which settles them.
task<void> replication_run::watchdog(workload& w) {
    std::optional<steady_time> ended_at;
    while (w.workers_done < _o.inflight) {
        if (!ended_at && (w.ended || !w.error.empty())) ended_at = steady_now();
        if (ended_at && steady_now() - *ended_at > _o.drain_timeout) {
            if (w.error.empty()) {
                w.error = fmt::format(
                    "{} replicate_batch calls did not return within {} ms of "
                    "the end",
                    _o.inflight - w.workers_done, _o.drain_timeout.count());
            }
            co_await w.leader.stop();
            break;
        }
        co_await sleep_for(watchdog_poll);
    }
}

task<bool> replication_run::drive(int leader, replication_case& out) {
    const std::vector<std::byte> bytes = make_batch(_o);
    // Made on the shard: iobuf chunks belong to the shard that allocated them.
    const iobuf batch = iobuf::copy_of(bytes.data(), bytes.size());
    workload w{*_nodes[static_cast<size_t>(leader)].raft, batch, _o.partitions, out.latency_us};
    window_mark begin, end;
    std::vector<task<void>> tasks;
    for (size_t i = 0; i < _o.inflight; ++i) tasks.push_back(worker(w));
    tasks.push_back(meter(w, leader, begin, end));
    tasks.push_back(watchdog(w));
    co_await when_all(std::move(tasks));
    if (!w.error.empty()) co_return fail(w.error);
    if (w.acknowledged == 0)
        co_return fail("no replicate_batch call was acknowledged in the window");

    out.leader = leader;
    out.seconds = std::chrono::duration<double>(end.at - begin.at).count();
    out.batches = w.acknowledged;
    out.payload_bytes = w.acknowledged * _o.records_per_batch * _o.record_bytes;
    out.batch_bytes = w.acknowledged * bytes.size();
    out.cpu_seconds = end.cpu_seconds - begin.cpu_seconds;
    out.syncs = end.syncs - begin.syncs;
    out.leader_syncs = end.leader_syncs - begin.leader_syncs;
    out.leader_flushes = end.leader_flushes - begin.leader_flushes;
    out.leader_group_entries = end.leader_group_entries - begin.leader_group_entries;
    out.leader_entry_reads = end.leader_entry_reads - begin.leader_entry_reads;
    out.leader_entries_read = end.leader_entries_read - begin.leader_entries_read;
    out.rpc_frames_out = end.rpc.frames_out - begin.rpc.frames_out;
    out.rpc_bytes_out = end.rpc.bytes_out - begin.rpc.bytes_out;
    out.rpc_send_calls = end.rpc.send_calls - begin.rpc.send_calls;
    out.append_requests = end.leader_sent.append_requests - begin.leader_sent.append_requests;
    out.empty_append_requests =
        end.leader_sent.empty_append_requests - begin.leader_sent.empty_append_requests;
    out.appended_entries = end.leader_sent.appended_entries - begin.leader_sent.appended_entries;
    out.follower_replies = end.follower_replies - begin.follower_replies;
    co_return true;
}

// Groups first (they still send), then transports, then listeners (after which no handler
// runs), then the groups are destroyed and the logs closed.
task<void> replication_run::shut_down() {
    for (replica& r : _nodes) {
        if (r.raft) co_await r.raft->stop();
    }
    for (replica& r : _nodes) {
        if (r.transport) co_await r.transport->stop();
    }
    for (replica& r : _nodes) {
        if (r.listener) co_await r.listener->stop();
    }
    for (replica& r : _nodes) {
        r.raft.reset();
        if (!r.log) continue;
        auto closed = co_await r.log->close();
        if (!closed)
            fail(fmt::format("closing the log in {}: {}", r.dir, closed.error().message()));
        r.log.reset();
    }
}

task<bool> replication_run::run(replication_case& out) {
    out.replicas = static_cast<int>(_nodes.size());
    out.transport = _nodes.size() > 1 ? "tcp" : "none";
    bool ok = co_await open_logs();
    if (ok && _nodes.size() > 1) ok = co_await listen();
    if (ok) ok = co_await start_groups();
    int leader = -1;
    if (ok) {
        leader = co_await wait_for_leader();
        if (leader < 0) {
            ok = fail(fmt::format("no leader elected within {} ms", _o.election_timeout.count()));
        }
    }
    if (ok) ok = co_await drive(leader, out);
    for (const replica& r : _nodes) {
        if (!r.transport) continue;
        const auto& s = r.transport->stats();
        for (uint64_t d : s.dropped) out.rpc_dropped += d;
        out.rpc_disconnects += s.disconnects;
    }
    co_await shut_down();
    co_return ok&& _error.empty();
}

double round3(double v) {
    return std::round(v * 1000.0) / 1000.0;
}

double ratio(double a, double b) {
    return b > 0 ? a / b : 0;
}

nlohmann::json case_json(const replication_case& c) {
    return {
        {"replicas", c.replicas},
        {"transport", c.transport},
        {"leader", c.leader},
        {"seconds", round3(c.seconds)},
        {"acknowledged_batches", c.batches},
        {"payload_bytes", c.payload_bytes},
        {"mb_per_s", round3(c.mb_per_s())},
        {"batches_per_s", round3(c.batches_per_s())},
        {"p50_us", c.latency_us.percentile(50)},
        {"p99_us", c.latency_us.percentile(99)},
        {"max_us", c.latency_us.max()},
        {"cpu_seconds", round3(c.cpu_seconds)},
        {"cpu_s_per_gb", round3(c.cpu_s_per_gb())},
        {"fsyncs_per_s", round3(c.syncs_per_s())},
        {"leader_fsyncs_per_s", round3(c.leader_syncs_per_s())},
        {"leader_entries_per_group", round3(c.leader_entries_per_group())},
        {"leader_entry_reads", c.leader_entry_reads},
        {"leader_entries_read", c.leader_entries_read},
        {"rpc_frames_out", c.rpc_frames_out},
        {"rpc_frames_per_batch", round3(c.rpc_frames_per_batch())},
        {"append_requests", c.append_requests},
        {"empty_append_requests", c.empty_append_requests},
        {"appended_entries", c.appended_entries},
        {"entries_per_append_request", round3(c.entries_per_append_request())},
        {"follower_replies", c.follower_replies},
        {"rpc_bytes_out", c.rpc_bytes_out},
        {"rpc_send_calls", c.rpc_send_calls},
        {"rpc_dropped", c.rpc_dropped},
        {"rpc_disconnects", c.rpc_disconnects},
    };
}

std::string case_row(const char* name, const replication_case& c) {
    return fmt::format(
        "{:<5} {:<5} {:>8.1f} {:>9.0f} {:>7.2f} {:>7.2f} {:>8.2f} {:>8.2f} {:>9.1f} {:>9.1f} "
        "{:>7.1f} {:>9.2f} {:>7.2f}\n",
        name, c.transport, c.mb_per_s(), c.batches_per_s(), c.latency_us.percentile(50) / 1e3,
        c.latency_us.percentile(99) / 1e3, c.latency_us.max() / 1e3, c.cpu_s_per_gb(),
        c.syncs_per_s(), c.leader_syncs_per_s(), c.leader_entries_per_group(),
        c.append_requests_per_batch(), c.entries_per_append_request());
}

}  // namespace

bool run_replication_case(const replication_options& o, int replicas, replication_case& out,
                          std::string& error) {
    if (replicas != 1 && replicas != 3) {
        error = fmt::format("{} replicas: only 1 and 3 are measured", replicas);
        return false;
    }
    if (o.inflight == 0 || o.partitions == 0 || o.records_per_batch == 0) {
        error = "inflight, partitions and records per batch must be at least 1";
        return false;
    }
    // mkdtemp(3) replaces the template's six trailing X characters.
    std::string tmpl = o.dir + "/wharf-raft-bench-" + std::string(6, 'X');
    if (::mkdtemp(tmpl.data()) == nullptr) {
        error = fmt::format("cannot create a directory under {}: {}", o.dir, std::strerror(errno));
        return false;
    }
    replication_run run(o, replicas, tmpl);
    auto main_fn = [&run, &out]() -> task<int> {
        bool ok = co_await run.run(out);
        co_return ok ? 0 : 1;
    };
    auto rc = smp::run(smp_config{.shards = 1}, main_fn);
    std::error_code ec;
    std::filesystem::remove_all(tmpl, ec);
    if (!rc) {
        error = fmt::format("cannot start the reactor: {}", rc.error().message());
        return false;
    }
    if (*rc != 0) {
        error = run.error().empty() ? "the case failed" : run.error();
        return false;
    }
    return true;
}

std::string replication_json(const replication_options& o, const replication_case& rf1,
                             const replication_case& rf3) {
    nlohmann::json j = {
        {"bench", "raft_replication"},
        {"fsync", o.fsync == fsync_policy::always ? "always" : "never"},
        {"record_bytes", o.record_bytes},
        {"records_per_batch", o.records_per_batch},
        {"inflight", o.inflight},
        {"partitions", o.partitions},
        {"warmup_s", round3(std::chrono::duration<double>(o.warmup).count())},
        {"duration_s", round3(std::chrono::duration<double>(o.duration).count())},
        {"rf1", case_json(rf1)},
        {"rf3", case_json(rf3)},
        {"rf3_over_rf1",
         {{"throughput", round3(ratio(rf3.mb_per_s(), rf1.mb_per_s()))},
          {"cpu_s_per_gb", round3(ratio(rf3.cpu_s_per_gb(), rf1.cpu_s_per_gb()))},
          {"p99_latency", round3(ratio(static_cast<double>(rf3.latency_us.percentile(99)),
                                       static_cast<double>(rf1.latency_us.percentile(99))))}}},
    };
    return j.dump();
}

std::string replication_report(const replication_options& o, const replication_case& rf1,
                               const replication_case& rf3) {
    std::string s;
    if (o.fsync == fsync_policy::never) {
        s += "WARNING: fsync=never: no append waits for the disk; these figures are the CPU side "
             "alone and say nothing about durable replication.\n";
    }
    s += fmt::format(
        "fsync={}, {} partitions, {} replicate_batch calls in flight, batches of {} records x "
        "{} B, {:.1f} s warm-up + {:.1f} s measured per case, one shard, one disk\n",
        o.fsync == fsync_policy::always ? "always" : "never", o.partitions, o.inflight,
        o.records_per_batch, o.record_bytes, std::chrono::duration<double>(o.warmup).count(),
        std::chrono::duration<double>(o.duration).count());
    s += "MB/s: 10^6 record-value bytes acknowledged (committed) per second. CPU s/GB: the "
         "process's user+system CPU seconds per 10^9 of them.\nfsync/s: all replicas' logs, then "
         "the leader's alone. ent/grp: entries per leader group commit. req/batch: append "
         "requests the leader sent per batch acknowledged; ent/req: entries per request.\n\n";
    s += fmt::format(
        "{:<5} {:<5} {:>8} {:>9} {:>7} {:>7} {:>8} {:>8} {:>9} {:>9} {:>7} {:>9} {:>7}\n", "case",
        "net", "MB/s", "batches/s", "p50 ms", "p99 ms", "max ms", "CPU s/GB", "fsync/s", "ldr fs/s",
        "ent/grp", "req/batch", "ent/req");
    s += case_row("RF=1", rf1);
    s += case_row("RF=3", rf3);
    s += fmt::format(
        "\nRF3/RF1: throughput {:.2f}, CPU per GB {:.2f}, p99 latency {:.2f} (RF=3 leader: node "
        "{}; rpc drops {}, disconnects {})\n"
        "RF=3 leader: {} append requests, {} of them empty, {:.2f} entries per non-empty one; "
        "followers sent {:.2f} replies per batch\n",
        ratio(rf3.mb_per_s(), rf1.mb_per_s()), ratio(rf3.cpu_s_per_gb(), rf1.cpu_s_per_gb()),
        ratio(static_cast<double>(rf3.latency_us.percentile(99)),
              static_cast<double>(rf1.latency_us.percentile(99))),
        rf3.leader, rf3.rpc_dropped, rf3.rpc_disconnects, rf3.append_requests,
        rf3.empty_append_requests,
        ratio(static_cast<double>(rf3.appended_entries),
              static_cast<double>(rf3.append_requests - rf3.empty_append_requests)),
        ratio(static_cast<double>(rf3.follower_replies), static_cast<double>(rf3.batches)));
    return s;
}

}  // namespace wharf::perf
