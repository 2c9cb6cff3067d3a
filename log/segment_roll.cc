// Closing the active segment and starting the next one (DESIGN.md section 4). Runs inside a group
// commit, before its write: the segment being closed is then complete and durable, and the
// partitions' durable state is exactly their state at its end, which its index file records.

#include <fcntl.h>

#include <algorithm>

#include "log/durable_file.h"
#include "log/errc.h"
#include "log/shard_log.h"
#include "reactor/clock.h"
#include "reactor/logger.h"

namespace wharf {

namespace {

// The batches of `seg` for one partition: the tail of its index whose segment is seg's.
void collect_batches(partition_id p, const partition_index& index, uint32_t seq,
                     std::vector<index_file_batch>& out) {
    size_t i = index.size();
    while (i > 0 && index[i - 1].segment == seq) --i;
    for (; i < index.size(); ++i) out.push_back(index_file_batch{p, index[i]});
}

}  // namespace

std::vector<partition_state_row> shard_log::state_rows() const {
    std::vector<partition_state_row> rows;
    rows.reserve(_partitions.size());
    for (const auto& [p, ps] : _partitions) {
        if (ps->end_offset.value() == 0 && ps->start_offset.value() == 0) continue;
        rows.push_back(partition_state_row{p, ps->start_offset, ps->end_offset,
                                           ps->index.max_timestamp()});
    }
    std::sort(rows.begin(), rows.end(),
              [](const auto& a, const auto& b) { return a.partition < b.partition; });
    return rows;
}

task<status> shard_log::maybe_roll() {
    const segment& active = *_segments.back();
    if (active.empty()) co_return status{};
    bool full = active.size_bytes() >= _cfg.segment_bytes;
    bool old = steady_now() - active.created() >= _cfg.segment_ms;
    if (!full && !old) co_return status{};
    co_return co_await roll();
}

task<status> shard_log::roll() {
    segment& old = *_segments.back();
    index_file_data d;
    d.kind = index_file_kind::segment_index;
    d.base_index = old.base_index();
    d.last_index = old.last_index();
    d.segment_bytes = old.size_bytes();
    d.terms = old.term_runs();
    d.partitions = state_rows();
    auto& touched = old.partitions();
    std::sort(touched.begin(), touched.end());
    touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
    for (partition_id p : touched) {
        if (const auto* ps = find_partition(p)) collect_batches(p, ps->index, old.seq(), d.batches);
    }
    auto bytes = encode_index_file(d);
    if (auto w = co_await write_file_durably(_dir, index_file_name(old.base_index()), bytes); !w) {
        co_return w;
    }

    raft_index base = old.last_index() + 1;
    std::string path = _dir + "/" + segment_file_name(base);
    auto f = co_await file::open(path, O_RDWR | O_CREAT | O_TRUNC);
    if (!f) {
        // The old segment stays active; its index file would be stale once it grows.
        (void)co_await remove_file(old.index_path());
        co_return f.error();
    }
    // Entries written to the new file must not outlive its name: make the name durable first.
    if (auto s = co_await sync_directory(_dir); !s) {
        _failed = true;
        co_return s;
    }
    old.mark_closed();
    note_segment_closed(old);
    // The closed segment keeps no list of partitions: nothing reads it any more.
    std::vector<partition_id>().swap(touched);
    _segments.push_back(std::make_shared<segment>(_next_seq++, base, _dir, std::move(*f), 0));
    ++_stats.rolls;
    shard_logger().debug("log {}: rolled to segment {}", _dir, segment_file_name(base));
    co_return status{};
}

}  // namespace wharf
