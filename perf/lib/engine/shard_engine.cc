#include "perf/lib/engine/shard_engine.h"

#include <fmt/format.h>

#include "reactor/reactor.h"
#include "reactor/spawn.h"
#include "reactor/timer.h"

namespace wharf::perf::shard_engine {

namespace {

struct engine {
    explicit engine(setup s)
        : cfg(std::move(s)),
          stats(cfg.topic_names.size() * static_cast<size_t>(cfg.partitions), cfg.groups) {}

    setup cfg;
    shard_stats stats;
    bool stop_producers = false;
    bool stop_consumers = false;
    std::vector<std::unique_ptr<kafka::client::kafka_client>> producer_clients;
    std::vector<std::unique_ptr<producer>> producers;
    std::vector<std::unique_ptr<consumer>> consumers;
    std::vector<size_t> consumer_groups;
    size_t producers_running = 0;
    size_t consumers_running = 0;
    std::vector<std::string> failures;
    event finished;
};

thread_local std::unique_ptr<engine> t_engine;

engine& local() {
    WHARF_ASSERT(t_engine != nullptr, "no bench engine on this shard");
    return *t_engine;
}

// Free functions rather than lambdas: a coroutine lambda's captures die with the lambda object,
// before the detached coroutine ends.
task<void> run_producer(engine* e, producer* p, std::string name) {
    auto r = co_await p->run(e->stop_producers);
    if (!r) e->failures.push_back(fmt::format("{}: {}", name, r.error().message()));
    --e->producers_running;
    e->finished.notify_all();
}

task<void> run_consumer(engine* e, consumer* c, std::string name) {
    auto r = co_await c->run(e->stop_consumers);
    if (!r) e->failures.push_back(fmt::format("{}: {}", name, r.error().message()));
    --e->consumers_running;
    e->finished.notify_all();
}

std::string client_name(const char* role, size_t index) {
    return fmt::format("wharf-bench-{}-{}-shard{}", role, index, reactor::local().id().value());
}

}  // namespace

void install(setup s) {
    WHARF_ASSERT(t_engine == nullptr, "a bench engine is installed already");
    t_engine = std::make_unique<engine>(std::move(s));
}

task<std::vector<std::string>> start_producers(std::vector<producer_config> cfgs) {
    engine& e = local();
    std::vector<std::string> failed;
    for (producer_config& cfg : cfgs) {
        std::string name = client_name("producer", e.producers.size());
        auto c = std::make_unique<kafka::client::kafka_client>(e.cfg.bootstrap, name);
        auto started = co_await c->start();
        if (!started) {
            failed.push_back(fmt::format("{}: {}", name, started.error().message()));
            co_await c->close();
            continue;
        }
        auto p = std::make_unique<producer>(*c, std::move(cfg), e.stats);
        producer* raw = p.get();
        e.producer_clients.push_back(std::move(c));
        e.producers.push_back(std::move(p));
        ++e.producers_running;
        spawn(run_producer(&e, raw, std::move(name)), "bench producer");
    }
    co_return failed;
}

void start_consumers(std::vector<consumer_config> cfgs) {
    engine& e = local();
    for (consumer_config& cfg : cfgs) {
        std::string name = client_name("consumer", e.consumers.size());
        size_t group = cfg.group_index;
        auto c = std::make_unique<consumer>(e.cfg.bootstrap, name, std::move(cfg), e.stats);
        consumer* raw = c.get();
        e.consumers.push_back(std::move(c));
        e.consumer_groups.push_back(group);
        ++e.consumers_running;
        spawn(run_consumer(&e, raw, std::move(name)), "bench consumer");
    }
}

std::vector<member_status> consumer_status() {
    engine& e = local();
    std::vector<member_status> out;
    for (size_t i = 0; i < e.consumers.size(); ++i) {
        out.push_back(
            {e.consumer_groups[i], e.consumers[i]->generation(), e.consumers[i]->assigned()});
    }
    return out;
}

interval_snapshot take_interval() {
    return local().stats.take_interval();
}

void set_measuring(bool on) {
    local().stats.measuring = on;
}

void stop_producers() {
    local().stop_producers = true;
}

void stop_consumers() {
    local().stop_consumers = true;
}

size_t producers_running() {
    return local().producers_running;
}

size_t consumers_running() {
    return local().consumers_running;
}

std::vector<std::string> take_failures() {
    return std::exchange(local().failures, {});
}

final_counts collect() {
    engine& e = local();
    final_counts f;
    f.produce.merge(e.stats.run_produce());
    f.e2e.merge(e.stats.run_e2e());
    f.acked = e.stats.acked_per_partition();
    f.consumed = e.stats.consumed_per_partition();
    return f;
}

std::vector<uint64_t> acked() {
    return local().stats.acked_per_partition();
}

std::vector<uint64_t> consumed() {
    return local().stats.consumed_per_partition();
}

task<void> uninstall() {
    engine& e = local();
    e.stop_producers = true;
    e.stop_consumers = true;
    while (e.producers_running > 0 || e.consumers_running > 0) co_await e.finished.wait();
    for (auto& c : e.producer_clients) co_await c->close();
    t_engine.reset();
}

}  // namespace wharf::perf::shard_engine
