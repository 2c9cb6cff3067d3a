#include "reactor/smp.h"

#include <atomic>
#include <latch>
#include <memory>
#include <thread>

#include "reactor/cross_shard.h"
#include "reactor/logger.h"
#include "reactor/placement.h"
#include "reactor/probe.h"
#include "reactor/reactor.h"
#include "reactor/spawn.h"
#include "reactor/stall_detector.h"
#include "reactor/submit_to.h"
#include "reactor/when_all.h"

namespace wharf {

namespace {

std::atomic<unsigned> g_shard_count{0};
std::atomic<size_t> g_memory_per_shard{0};

// Runs the main task on shard 0, then stops every other shard and finally shard 0 itself.
task<void> run_main(std::function<task<int>()>& main_fn, int& exit_code) {
    try {
        exit_code = co_await main_fn();
    } catch (const std::exception& e) {
        shard_logger().error("main task failed: {}", e.what());
        exit_code = 1;
    } catch (...) {
        shard_logger().error("main task failed with an unknown exception");
        exit_code = 1;
    }
    std::vector<task<void>> stops;
    for (unsigned k = 1; k < smp::count(); ++k) {
        stops.push_back(submit_to(shard_id(k), [] { reactor::local().stop(); }));
    }
    co_await when_all(std::move(stops));
    reactor::local().stop();
}

void shard_thread(const smp_config& cfg, unsigned k, cross_shard_mesh& mesh, std::latch& started,
                  stall_detector* detector, std::function<task<int>()>* main_fn,
                  int* exit_code) {
    install_shard_logger(shard_id(k));
    if (!cfg.cpus.empty()) {
        auto pinned = pin_current_thread(cfg.cpus[k]);
        if (!pinned) {
            shard_logger().warn("could not pin to CPU {}: {}", cfg.cpus[k], pinned.error().message());
        }
    }
    reactor_config rc;
    rc.id = shard_id(k);
    rc.poll_us = cfg.poll_us;
    rc.ring_entries = cfg.ring_entries;
    reactor r(rc, &mesh);
    stall_detector::attachment watched(detector, r);
    // No shard may send before every shard's reactor is attached to the mesh.
    started.arrive_and_wait();
    if (k == 0) spawn(run_main(*main_fn, *exit_code), "smp main");
    r.run();
}

}  // namespace

unsigned smp::count() noexcept { return g_shard_count.load(std::memory_order_relaxed); }
size_t smp::memory_per_shard_bytes() noexcept {
    return g_memory_per_shard.load(std::memory_order_relaxed);
}

result<int> smp::run(const smp_config& cfg, std::function<task<int>()> main_fn) {
    WHARF_ASSERT(cfg.shards >= 1, "smp needs at least one shard");
    WHARF_ASSERT(cfg.cpus.empty() || cfg.cpus.size() == cfg.shards,
                 "{} CPUs given for {} shards", cfg.cpus.size(), cfg.shards);
    WHARF_ASSERT(count() == 0, "smp::run is not reentrant");
    auto missing = probe_kernel();
    if (!missing.empty()) {
        for (const auto& m : missing) {
            shard_logger().critical("this kernel lacks a feature Wharf needs: {}", m);
        }
        return std::make_error_code(std::errc::function_not_supported);
    }

    cross_shard_mesh mesh(cfg.shards, cfg.cross_ring_capacity);
    set_current_mesh(&mesh);
    g_shard_count.store(cfg.shards);
    g_memory_per_shard.store(cfg.memory_per_shard_bytes);

    std::unique_ptr<stall_detector> detector;
    if (cfg.stall_threshold.count() > 0) {
        detector = std::make_unique<stall_detector>(cfg.stall_threshold, cfg.shards);
    }
    int exit_code = 0;
    std::latch started(cfg.shards);
    std::vector<std::thread> threads;
    threads.reserve(cfg.shards);
    for (unsigned k = 0; k < cfg.shards; ++k) {
        threads.emplace_back(shard_thread, std::cref(cfg), k, std::ref(mesh), std::ref(started),
                             detector.get(), &main_fn, &exit_code);
    }
    for (auto& t : threads) t.join();
    detector.reset();

    set_current_mesh(nullptr);
    g_shard_count.store(0);
    return exit_code;
}

}  // namespace wharf
