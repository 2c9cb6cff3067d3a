#include "core/metrics/scrape.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <utility>

#include "reactor/smp.h"
#include "reactor/submit_to.h"
#include "reactor/when_all.h"

namespace wharf::metrics {

namespace {

// The process's start, close enough: static initialization runs before main.
const double process_start_seconds =
    std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();

// Resident memory from /proc/self/statm: a read of kernel memory that cannot block on a disk,
// once per scrape on shard 0.
double resident_bytes() {
    int fd = ::open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    char buf[128] = {};
    ssize_t n = ::read(fd, buf, sizeof(buf) - 1);
    ::close(fd);
    if (n <= 0) return 0;
    unsigned long size_pages = 0;
    unsigned long resident_pages = 0;
    if (std::sscanf(buf, "%lu %lu", &size_pages, &resident_pages) != 2) return 0;
    return static_cast<double>(resident_pages) * static_cast<double>(::sysconf(_SC_PAGESIZE));
}

metric_families process_families() {
    metric_families out;
    metric_family rss("process_resident_memory_bytes", "Resident memory of the broker process",
                      metric_type::gauge);
    rss.add({}, resident_bytes());
    out.push_back(std::move(rss));
    metric_family start("process_start_time_seconds",
                        "Start of the broker process, in seconds since the Unix epoch",
                        metric_type::gauge);
    start.add({}, process_start_seconds);
    out.push_back(std::move(start));
    metric_family shards("wharf_shards", "Shards (reactor threads) of the broker",
                         metric_type::gauge);
    shards.add({}, static_cast<double>(smp::count()));
    out.push_back(std::move(shards));
    return out;
}

template <typename T, typename F>
task<std::vector<T>> ask_every_shard(F fn) {
    std::vector<task<T>> asks;
    for (unsigned k = 0; k < smp::count(); ++k) asks.push_back(submit_to(shard_id(k), fn));
    co_return co_await when_all(std::move(asks));
}

}  // namespace

metric_family consumer_lag_family(const std::vector<group_offset_row>& offsets,
                                  const std::vector<partition_row>& partitions) {
    std::map<std::pair<std::string_view, int32_t>, int64_t> hwm;
    for (const auto& p : partitions) {
        if (p.high_watermark >= 0) hwm[{p.topic, p.partition}] = p.high_watermark;
    }
    metric_family lag("wharf_consumer_group_lag",
                      "Messages between a consumer group's committed offset and the partition's "
                      "high watermark",
                      metric_type::gauge);
    for (const auto& o : offsets) {
        auto it = hwm.find({o.topic, o.partition});
        if (it == hwm.end()) continue;
        lag.add(
            {{"group", o.group}, {"topic", o.topic}, {"partition", std::to_string(o.partition)}},
            static_cast<double>(std::max<int64_t>(0, it->second - o.committed_offset)));
    }
    return lag;
}

task<std::string> scrape_prometheus(metric_families extra) {
    auto collect = [] { return local_scrape(); };
    auto reports = co_await ask_every_shard<shard_scrape>(collect);
    std::vector<metric_families> parts;
    parts.push_back(process_families());
    std::vector<partition_row> partitions;
    std::vector<group_offset_row> offsets;
    for (auto& r : reports) {
        parts.push_back(std::move(r.families));
        std::move(r.partitions.begin(), r.partitions.end(), std::back_inserter(partitions));
        std::move(r.offsets.begin(), r.offsets.end(), std::back_inserter(offsets));
    }
    metric_families lag;
    lag.push_back(consumer_lag_family(offsets, partitions));
    parts.push_back(std::move(lag));
    parts.push_back(std::move(extra));
    std::string text;
    write_prometheus(merge_families(std::move(parts)), text);
    co_return text;
}

task<std::vector<shard_summary>> gather_shard_summaries() {
    auto fn = [] { return local_shard_summary(); };
    co_return co_await ask_every_shard<shard_summary>(fn);
}

task<std::vector<partition_row>> gather_partitions() {
    auto fn = [] { return local_partitions(); };
    auto per_shard = co_await ask_every_shard<std::vector<partition_row>>(fn);
    std::vector<partition_row> all;
    for (auto& rows : per_shard) std::move(rows.begin(), rows.end(), std::back_inserter(all));
    std::sort(all.begin(), all.end(), [](const partition_row& a, const partition_row& b) {
        return std::tie(a.topic, a.partition) < std::tie(b.topic, b.partition);
    });
    co_return all;
}

}  // namespace wharf::metrics
