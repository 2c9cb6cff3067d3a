#pragma once

// Scraping the whole broker: every shard is asked at once (submit_to) for its report
// (shard_report.h), and the answers are put together on the calling shard — shard 0, where the
// admin API runs. Nothing is aggregated between scrapes; a scrape costs each shard one message
// and the time to copy its counters.

#include <string>
#include <vector>

#include "core/metrics/shard_report.h"
#include "reactor/metrics/metrics.h"
#include "reactor/task.h"

namespace wharf::metrics {

// The Prometheus text page: every shard's families merged, the consumer-group lag (committed
// offsets against the partitions' high watermarks, which may live on other shards), the
// process's own families, and `extra` (the caller's, such as the admin server's counters).
// REQUIRES: on a reactor thread of a running smp.
task<std::string> scrape_prometheus(metric_families extra);

// Every shard's summary, in shard order.
task<std::vector<shard_summary>> gather_shard_summaries();
// Every partition of the broker, sorted by topic and partition.
task<std::vector<partition_row>> gather_partitions();

// Lag per (group, topic, partition) with a known high watermark: max(0, hwm - committed).
metric_family consumer_lag_family(const std::vector<group_offset_row>& offsets,
                                  const std::vector<partition_row>& partitions);

}  // namespace wharf::metrics
