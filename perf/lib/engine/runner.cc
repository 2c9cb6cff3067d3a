#include "perf/lib/engine/runner.h"

#include <fmt/format.h>
#include <sys/resource.h>

#include <ctime>
#include <iostream>
#include <random>

#include "log/compression.h"
#include "net/kafka/client/admin.h"
#include "perf/lib/engine/shard_engine.h"
#include "perf/lib/engine/stamp.h"
#include "reactor/smp.h"
#include "reactor/submit_to.h"
#include "reactor/timer.h"

namespace wharf::perf {

namespace {

using clock_type = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr auto tick = 1s;
constexpr auto poll = 100ms;
constexpr auto admin_timeout = 60s;

double seconds(clock_type::duration d) {
    return std::chrono::duration<double>(d).count();
}

double cpu_seconds() {
    rusage u{};
    ::getrusage(RUSAGE_SELF, &u);
    auto tv = [](timeval t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
    return tv(u.ru_utime) + tv(u.ru_stime);
}

std::string iso_now() {
    std::time_t t = std::time(nullptr);
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

// Runs fn on every shard and returns the results in shard order.
template <typename F>
auto on_every_shard(F fn) -> task<std::vector<detail::submit_result_t<F>>> {
    std::vector<detail::submit_result_t<F>> out;
    for (unsigned k = 0; k < smp::count(); ++k) {
        F copy = fn;
        out.push_back(co_await submit_to(shard_id(k), std::move(copy)));
    }
    co_return out;
}

template <typename F>
task<void> on_every_shard_void(F fn) {
    for (unsigned k = 0; k < smp::count(); ++k) {
        F copy = fn;
        co_await submit_to(shard_id(k), std::move(copy));
    }
}

std::vector<uint64_t> sum_vectors(const std::vector<std::vector<uint64_t>>& parts) {
    std::vector<uint64_t> out;
    for (const auto& v : parts) {
        if (out.size() < v.size()) out.resize(v.size(), 0);
        for (size_t i = 0; i < v.size(); ++i) out[i] += v[i];
    }
    return out;
}

// The state of a run on shard 0, across the phases of run_benchmark.
struct run_state {
    const run_options& opts;
    run_outcome out;
    uint64_t nonce = 0;
    std::vector<std::string> topics;
    size_t groups = 0;
    size_t partitions_total = 0;
    clock_type::time_point start;
    counters last_totals;
    clock_type::time_point last_tick;

    explicit run_state(const run_options& o) : opts(o) {}
};

std::vector<producer_config> producers_for_shard(const run_state& st, unsigned shard) {
    const workload& w = st.opts.load;
    std::vector<producer_config> out;
    auto count = static_cast<size_t>(w.producers);
    for (size_t i = shard; i < count; i += smp::count()) {
        producer_config cfg;
        cfg.topic_names = st.topics;
        if (count >= st.topics.size()) {
            cfg.topics = {i % st.topics.size()};
        } else {
            for (size_t t = i; t < st.topics.size(); t += count) cfg.topics.push_back(t);
        }
        cfg.partitions = w.partitions;
        cfg.message_sizes = w.message_sizes;
        cfg.keys = w.keys;
        cfg.rate_per_s = w.rate_per_s / static_cast<double>(count);
        cfg.acks = st.opts.acks;
        cfg.compression = st.opts.compression;
        cfg.batch_bytes = st.opts.batch_bytes;
        cfg.linger = st.opts.linger;
        cfg.max_in_flight = st.opts.max_in_flight;
        cfg.idempotence = st.opts.idempotence;
        cfg.nonce = st.nonce;
        cfg.seed = st.nonce + i;
        out.push_back(std::move(cfg));
    }
    return out;
}

std::vector<consumer_config> consumers_for_shard(const run_state& st, unsigned shard,
                                                 bool from_beginning) {
    const workload& w = st.opts.load;
    std::vector<consumer_config> out;
    auto per_group = static_cast<size_t>(w.consumers_per_group);
    for (size_t i = shard; i < st.groups * per_group; i += smp::count()) {
        consumer_config cfg;
        cfg.topic_names = st.topics;
        cfg.partitions = w.partitions;
        cfg.group_index = i / per_group;
        cfg.group_id =
            fmt::format("{}-{:x}-group-{}", st.opts.topic_prefix, st.nonce, cfg.group_index);
        cfg.from_beginning = from_beginning;
        cfg.nonce = st.nonce;
        cfg.fetch_max_bytes = st.opts.fetch_max_bytes;
        cfg.partition_max_bytes = st.opts.partition_max_bytes;
        out.push_back(std::move(cfg));
    }
    return out;
}

task<std::vector<std::string>> start_producers(run_state& st) {
    std::vector<std::string> failed;
    for (unsigned k = 0; k < smp::count(); ++k) {
        std::vector<producer_config> cfgs = producers_for_shard(st, k);
        auto fn = [c = std::move(cfgs)]() mutable {
            return shard_engine::start_producers(std::move(c));
        };
        auto f = co_await submit_to(shard_id(k), std::move(fn));
        failed.insert(failed.end(), f.begin(), f.end());
    }
    co_return failed;
}

task<void> start_consumers(run_state& st, bool from_beginning) {
    for (unsigned k = 0; k < smp::count(); ++k) {
        std::vector<consumer_config> cfgs = consumers_for_shard(st, k, from_beginning);
        auto fn = [c = std::move(cfgs)]() mutable { shard_engine::start_consumers(std::move(c)); };
        co_await submit_to(shard_id(k), std::move(fn));
    }
}

// True once every group has all its members in one generation and every partition assigned.
task<bool> groups_stable(run_state& st) {
    auto status = co_await on_every_shard([] { return shard_engine::consumer_status(); });
    auto per_group = static_cast<size_t>(st.opts.load.consumers_per_group);
    std::vector<std::vector<shard_engine::member_status>> by_group(st.groups);
    for (const auto& shard : status) {
        for (const auto& m : shard) by_group[m.group].push_back(m);
    }
    for (const auto& members : by_group) {
        if (members.size() != per_group) co_return false;
        size_t assigned = 0;
        for (const auto& m : members) {
            if (m.generation < 0 || m.generation != members.front().generation) co_return false;
            assigned += m.assigned;
        }
        if (assigned != st.partitions_total) co_return false;
    }
    co_return true;
}

task<bool> wait_groups_stable(run_state& st) {
    auto deadline = clock_type::now() + st.opts.ready_timeout;
    while (clock_type::now() < deadline) {
        if (co_await groups_stable(st)) co_return true;
        auto failures = co_await on_every_shard([] { return shard_engine::take_failures(); });
        for (auto& f : failures) {
            if (!f.empty()) {
                st.out.failures.insert(st.out.failures.end(), f.begin(), f.end());
                co_return false;
            }
        }
        co_await sleep_for(poll);
    }
    st.out.failures.push_back("consumer groups did not become stable within the ready timeout");
    co_return false;
}

task<interval_snapshot> snapshot_all() {
    auto parts = co_await on_every_shard([] { return shard_engine::take_interval(); });
    interval_snapshot total;
    for (const auto& p : parts) total.merge(p);
    co_return total;
}

// One progress interval: the sample since the last one, printed unless quiet.
task<interval_sample> take_sample(run_state& st, bool warmup) {
    interval_snapshot snap = co_await snapshot_all();
    auto now = clock_type::now();
    double dt = std::max(seconds(now - st.last_tick), 1e-3);
    counters d = snap.totals - st.last_totals;
    interval_sample s;
    s.t_s = seconds(now - st.start);
    s.warmup = warmup;
    s.produce_msgs_per_s = static_cast<double>(d.produced_msgs) / dt;
    s.produce_mb_per_s = static_cast<double>(d.produced_bytes) / dt / 1e6;
    s.consume_msgs_per_s = static_cast<double>(d.consumed_msgs) / dt;
    s.consume_mb_per_s = static_cast<double>(d.consumed_bytes) / dt / 1e6;
    s.produce_p50_us = snap.produce.percentile(50);
    s.produce_p99_us = snap.produce.percentile(99);
    s.e2e_p50_us = snap.e2e.percentile(50);
    s.e2e_p99_us = snap.e2e.percentile(99);
    s.backlog_msgs = static_cast<int64_t>(snap.totals.produced_msgs * st.groups) -
                     static_cast<int64_t>(snap.totals.consumed_msgs);
    s.errors = d.produce_errors;
    st.last_totals = snap.totals;
    st.last_tick = now;
    if (!st.opts.quiet) std::cerr << progress_line(s) << std::endl;
    co_return s;
}

// Moves the failures every shard reported so far into the outcome; true when there were any.
task<bool> collect_failures(run_state& st) {
    auto failures = co_await on_every_shard([] { return shard_engine::take_failures(); });
    bool any = false;
    for (auto& f : failures) {
        any = any || !f.empty();
        st.out.failures.insert(st.out.failures.end(), f.begin(), f.end());
    }
    co_return any;
}

// Produces until the backlog is acknowledged (catch-up runs). Gives up (false, the reason in
// the outcome's failures) when a shard reports a failure, or when nothing more was acknowledged
// for the ready timeout (every batch failing, or a broker that stopped answering).
task<bool> produce_backlog(run_state& st) {
    uint64_t target = st.opts.load.backlog_bytes;
    uint64_t progress_bytes = st.last_totals.produced_bytes;
    auto progress_at = clock_type::now();
    while (st.last_totals.produced_bytes < target) {
        co_await sleep_for(tick);
        interval_sample s = co_await take_sample(st, true);
        st.out.result.timeline.push_back(s);
        bool failed = co_await collect_failures(st);
        if (failed) {
            st.out.failures.push_back(
                fmt::format("backlog: gave up after {} of {} bytes acknowledged",
                            st.last_totals.produced_bytes, target));
            co_return false;
        }
        if (st.last_totals.produced_bytes > progress_bytes) {
            progress_bytes = st.last_totals.produced_bytes;
            progress_at = st.last_tick;
        } else if (st.last_tick - progress_at >= st.opts.ready_timeout) {
            st.out.failures.push_back(fmt::format(
                "backlog: nothing acknowledged for {} s ({} of {} bytes, {} produce errors)",
                st.opts.ready_timeout.count(), st.last_totals.produced_bytes, target,
                st.last_totals.produce_errors));
            co_return false;
        }
    }
    co_return true;
}

task<void> drain(run_state& st) {
    auto deadline = clock_type::now() + st.opts.drain_timeout;
    while (true) {
        auto acked = sum_vectors(co_await on_every_shard([] { return shard_engine::acked(); }));
        auto consumed =
            sum_vectors(co_await on_every_shard([] { return shard_engine::consumed(); }));
        delivery d = check_delivery(acked, consumed, st.groups);
        if (d.missing == 0) co_return;
        if (clock_type::now() >= deadline) {
            st.out.failures.push_back(
                fmt::format("drain: {} acknowledged records not consumed after {} s", d.missing,
                            st.opts.drain_timeout.count()));
            co_return;
        }
        co_await sleep_for(poll);
    }
}

void fill_settings(run_state& st) {
    const workload& w = st.opts.load;
    auto& s = st.out.result.settings;
    std::string sizes;
    for (uint32_t m : w.message_sizes) {
        if (!sizes.empty()) sizes += ',';
        sizes += std::to_string(m);
    }
    s["topics"] = std::to_string(w.topics);
    s["partitions"] = std::to_string(w.partitions);
    s["message_sizes"] = sizes;
    s["key_distribution"] = std::string(w.keys == key_distribution::none     ? "none"
                                        : w.keys == key_distribution::random ? "random"
                                                                             : "round-robin");
    s["producers"] = std::to_string(w.producers);
    s["rate"] = w.rate_per_s > 0 ? fmt::format("{}", w.rate_per_s) : std::string("unlimited");
    s["groups"] = std::to_string(st.groups);
    s["consumers_per_group"] = std::to_string(w.consumers_per_group);
    s["duration"] = fmt::format("{}s", w.duration.count() / 1e6);
    s["warmup"] = fmt::format("{}s", w.warmup.count() / 1e6);
    s["backlog_bytes"] = std::to_string(w.backlog_bytes);
    s["smp"] = std::to_string(st.opts.smp);
    s["acks"] = st.opts.acks == -1 ? std::string("all") : std::to_string(st.opts.acks);
    s["compression"] = std::string(codec_name(st.opts.compression));
    s["batch_bytes"] = std::to_string(st.opts.batch_bytes);
    s["linger"] = fmt::format("{}ms", st.opts.linger.count() / 1e3);
    s["max_in_flight"] = std::to_string(st.opts.max_in_flight);
    s["idempotence"] = std::string(st.opts.idempotence ? "true" : "false");
    s["fetch_max_bytes"] = std::to_string(st.opts.fetch_max_bytes);
    s["partition_max_bytes"] = std::to_string(st.opts.partition_max_bytes);
}

// Phases 2-4 once the topics exist.
task<void> run_load(run_state& st) {
    const workload& w = st.opts.load;
    bool backlog = w.backlog_bytes > 0;
    bool consumers = st.groups > 0;
    if (consumers && !backlog) {
        co_await start_consumers(st, false);
        if (!co_await wait_groups_stable(st)) co_return;
    }
    st.start = st.last_tick = clock_type::now();
    auto failed = co_await start_producers(st);
    if (!failed.empty()) {
        st.out.failures.insert(st.out.failures.end(), failed.begin(), failed.end());
        co_return;
    }
    if (backlog) {
        bool produced = co_await produce_backlog(st);
        if (!produced) co_return;
        if (consumers) {
            co_await start_consumers(st, true);
            if (!co_await wait_groups_stable(st)) co_return;
        }
    }
    auto phase_start = clock_type::now();
    auto measure_from = phase_start + w.warmup;
    auto end = measure_from + w.duration;
    bool measuring = false;
    double cpu_at_start = 0;
    counters at_start;
    clock_type::time_point measured_since = measure_from;
    while (true) {
        auto now = clock_type::now();
        if (!measuring && now >= measure_from) {
            co_await on_every_shard_void([] { shard_engine::set_measuring(true); });
            // The warm-up usually ends on a tick, whose sample then marks the start.
            if (clock_type::now() - st.last_tick > 100ms) {
                interval_sample s = co_await take_sample(st, true);
                st.out.result.timeline.push_back(s);
            }
            // The totals baseline is the last sample's, so the window starts at that sample too.
            at_start = st.last_totals;
            cpu_at_start = cpu_seconds();
            measured_since = st.last_tick;
            measuring = true;
        }
        if (now >= end) break;
        auto next = std::min(st.last_tick + tick, measuring ? end : measure_from);
        co_await sleep_for(next - clock_type::now());
        if (clock_type::now() >= st.last_tick + tick) {
            interval_sample s = co_await take_sample(st, !measuring);
            st.out.result.timeline.push_back(s);
        }
    }
    // The window ends now: what was acknowledged by now counts; requests still in flight finish
    // (their records count for the delivery check and latencies, not for throughput).
    if (clock_type::now() - st.last_tick > 100ms) {
        interval_sample s = co_await take_sample(st, false);
        st.out.result.timeline.push_back(s);
    }
    run_result& r = st.out.result;
    r.measured_s = seconds(st.last_tick - measured_since);
    counters d = st.last_totals - at_start;
    r.tool_cpu_cores = (cpu_seconds() - cpu_at_start) / std::max(r.measured_s, 1e-3);
    co_await on_every_shard_void([] { shard_engine::stop_producers(); });
    while (true) {
        auto running = co_await on_every_shard([] { return shard_engine::producers_running(); });
        size_t n = 0;
        for (size_t r : running) n += r;
        if (n == 0) break;
        co_await sleep_for(10ms);
    }
    co_await on_every_shard_void([] { shard_engine::set_measuring(false); });
    interval_snapshot after = co_await snapshot_all();
    r.produced_msgs = d.produced_msgs;
    r.produced_bytes = d.produced_bytes;
    r.produce_errors = after.totals.produce_errors;
    double secs = std::max(r.measured_s, 1e-3);
    r.produce_msgs_per_s = static_cast<double>(d.produced_msgs) / secs;
    r.produce_mb_per_s = static_cast<double>(d.produced_bytes) / secs / 1e6;
    r.consumed_msgs = d.consumed_msgs;
    r.consumed_bytes = d.consumed_bytes;
    r.consume_msgs_per_s = static_cast<double>(d.consumed_msgs) / secs;
    r.consume_mb_per_s = static_cast<double>(d.consumed_bytes) / secs / 1e6;
    if (consumers) co_await drain(st);
}

task<void> collect_results(run_state& st) {
    auto finals = co_await on_every_shard([] { return shard_engine::collect(); });
    histogram produce = make_latency_histogram();
    histogram e2e = make_latency_histogram();
    std::vector<std::vector<uint64_t>> acked;
    std::vector<std::vector<uint64_t>> consumed;
    for (auto& f : finals) {
        produce.merge(f.produce);
        e2e.merge(f.e2e);
        acked.push_back(std::move(f.acked));
        consumed.push_back(std::move(f.consumed));
    }
    run_result& r = st.out.result;
    r.produce_latency = summarize(produce);
    r.e2e_latency = summarize(e2e);
    if (st.groups > 0) {
        delivery d = check_delivery(sum_vectors(acked), sum_vectors(consumed), st.groups);
        r.acked_total = d.acked_total;
        r.consumed_total = d.consumed_total;
        r.duplicates = d.duplicates;
        r.missing = d.missing;
        r.delivery_checked = st.opts.acks != 0;
        if (r.delivery_checked && (d.duplicates > 0 || d.missing > 0)) {
            st.out.failures.push_back(
                fmt::format("delivery check failed: {} duplicates, {} missing of {} acknowledged",
                            d.duplicates, d.missing, d.acked_total));
        }
    } else {
        for (uint64_t a : sum_vectors(acked)) r.acked_total += a;
    }
}

}  // namespace

std::string progress_line(const interval_sample& s) {
    return fmt::format(
        "{:7.1f}s  produce {:>10.0f} msg/s {:8.1f} MB/s p99 {:8.2f} ms | consume {:>10.0f} msg/s "
        "{:8.1f} MB/s e2e p99 {:8.2f} ms | backlog {:>9} | errors {}{}",
        s.t_s, s.produce_msgs_per_s, s.produce_mb_per_s, s.produce_p99_us / 1e3,
        s.consume_msgs_per_s, s.consume_mb_per_s, s.e2e_p99_us / 1e3, s.backlog_msgs, s.errors,
        s.warmup ? "  (warm-up)" : "");
}

task<run_outcome> run_benchmark(const run_options& opts) {
    run_state st(opts);
    const workload& w = opts.load;
    st.nonce = std::random_device()() | (uint64_t(std::random_device()()) << 32);
    st.groups = static_cast<size_t>(w.consumers_per_group > 0 ? w.consumer_groups : 0);
    st.partitions_total = static_cast<size_t>(w.topics) * static_cast<size_t>(w.partitions);
    for (int32_t t = 0; t < w.topics; ++t) {
        st.topics.push_back(fmt::format("{}-{:06x}-{}", opts.topic_prefix, st.nonce & 0xffffff, t));
    }
    run_result& r = st.out.result;
    r.label = opts.label.empty() ? w.name : opts.label;
    r.workload_name = w.name;
    r.workload_file = opts.workload_file;
    r.brokers = opts.brokers_text;
    r.git_rev = opts.git_rev;
    r.started_at = iso_now();
    r.co_corrected = w.rate_per_s > 0;
    fill_settings(st);

    kafka::client::kafka_client admin(opts.bootstrap, "wharf-bench-admin");
    auto started = co_await admin.start();
    if (!started) {
        st.out.failures.push_back(
            fmt::format("cannot reach {}: {}", opts.brokers_text, started.error().message()));
        co_return std::move(st.out);
    }
    std::vector<kafka::client::topic_spec> specs;
    for (const std::string& t : st.topics) specs.push_back({t, w.partitions, -1});
    auto created = co_await kafka::client::create_topics(admin, specs, admin_timeout);
    if (!created) {
        st.out.failures.push_back(
            fmt::format("creating {} topics: {}", specs.size(), created.error().message()));
        co_await admin.close();
        co_return std::move(st.out);
    }
    shard_engine::setup s{opts.bootstrap, st.topics, w.partitions, st.groups, st.nonce};
    // Named: a capturing lambda built inside a co_await expression is destroyed twice (GCC 12).
    auto install = [s] { shard_engine::install(s); };
    co_await on_every_shard_void(install);
    co_await run_load(st);
    co_await on_every_shard_void([] { shard_engine::stop_consumers(); });
    co_await collect_results(st);
    auto failures = co_await on_every_shard([] { return shard_engine::take_failures(); });
    for (auto& f : failures) st.out.failures.insert(st.out.failures.end(), f.begin(), f.end());
    co_await on_every_shard_void([] { return shard_engine::uninstall(); });
    if (!opts.keep_topics) {
        auto deleted = co_await kafka::client::delete_topics(admin, st.topics, admin_timeout);
        if (!deleted) {
            st.out.failures.push_back(
                fmt::format("deleting the topics: {}", deleted.error().message()));
        }
    }
    co_await admin.close();
    co_return std::move(st.out);
}

}  // namespace wharf::perf
