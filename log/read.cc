// Reads of one partition's batches (DESIGN.md section 4): the batch index says exactly which
// entries to read, the tail cache serves the recent ones, and the rest are read from their
// segments, one read per run of physically adjacent batches. A read never touches bytes of
// another partition, and it verifies every entry checksum it reads from disk.

#include <sys/uio.h>

#include <algorithm>

#include "log/durable_file.h"
#include "log/errc.h"
#include "log/record_batch.h"
#include "log/shard_log.h"
#include "reactor/logger.h"

namespace wharf {

struct shard_log::read_plan {
    struct item {
        batch_entry entry;
        iobuf bytes;
        bool have = false;
    };
    // A run of adjacent batches of one segment: items [first, first + count).
    struct disk_run {
        std::shared_ptr<segment> seg;
        size_t first = 0;
        size_t count = 0;
        uint64_t position = 0;
        uint64_t bytes = 0;
    };
    std::vector<item> items;
    std::vector<disk_run> runs;
    // shard_log::_truncations when the plan was made: a truncation may cut what it reads.
    uint64_t truncations = 0;
};

namespace {

uint64_t entry_end(const batch_entry& e) {
    return uint64_t{e.position} + entry_header_bytes + e.batch_bytes;
}

// Checks one entry read back against what the index says it is, header and checksum.
bool entry_matches(const iobuf& buf, size_t at, const batch_entry& e, partition_id p) {
    entry_header_buffer head;
    buf.copy_to(at, head.data(), head.size());
    if (!entry_header_plausible(head)) return false;
    entry_header h = decode_entry_header(head);
    if (h.type != entry_type::data || h.partition != p || h.payload_bytes != e.batch_bytes) {
        return false;
    }
    iobuf payload = buf.share(at + entry_header_bytes, e.batch_bytes);
    if (entry_checksum(head, payload) != h.checksum) return false;
    // The batch CRC was checked when the batch was produced; the entry checksum proves the disk
    // returned what was written, so a bad CRC here is a bug of the write path.
    WHARF_VERIFY_ASSERT(batch_crc_matches(payload.linearize(0, payload.size())),
                        "batch at offset {} of partition {} stored with a bad CRC", e.base_offset,
                        p);
    return true;
}

}  // namespace

task<result<iobuf>> shard_log::read(partition_id p, kafka_offset from, size_t max_bytes) {
    auto hold = _gate.hold();
    if (!hold) co_return log_errc::shutting_down;
    check_shard();
    ++_stats.reads;
    const partition_state* ps = find_partition(p);
    if (ps == nullptr) co_return log_errc::partition_unknown;
    if (from < ps->start_offset || from > ps->end_offset) co_return log_errc::offset_out_of_range;

    // Plan synchronously: the index may change while the disk reads are in flight.
    read_plan plan;
    plan.truncations = _truncations;
    size_t total = 0;
    for (size_t i = ps->index.find_offset(from); i < ps->index.size(); ++i) {
        const batch_entry& e = ps->index[i];
        if (!plan.items.empty() && total + e.batch_bytes > max_bytes) break;
        read_plan::item it{e, iobuf(), false};
        if (auto cached = _cache.find(p, e.base())) {
            it.bytes = std::move(*cached);
            it.have = true;
            ++_stats.cache_batches;
        }
        total += e.batch_bytes;
        plan.items.push_back(std::move(it));
        if (total >= max_bytes) break;
    }
    if (auto s = co_await read_from_disk(p, plan); !s) co_return s.error();
    // A truncation or a snapshot install while the disk reads were in flight may have removed
    // batches they read from files still open: only batches the partition still holds go out.
    if (_truncations != plan.truncations && !still_indexed(p, plan)) {
        co_return log_errc::offset_out_of_range;
    }
    iobuf out;
    for (auto& it : plan.items) out.append(std::move(it.bytes));
    co_return out;
}

task<result<iobuf>> shard_log::read_batch(partition_id p, batch_entry e) {
    read_plan plan;
    plan.truncations = _truncations;
    read_plan::item it{e, iobuf(), false};
    if (auto cached = _cache.find(p, e.base())) {
        it.bytes = std::move(*cached);
        it.have = true;
    }
    plan.items.push_back(std::move(it));
    if (auto s = co_await read_from_disk(p, plan); !s) co_return s.error();
    if (_truncations != plan.truncations && !still_indexed(p, plan)) {
        co_return log_errc::offset_out_of_range;
    }
    co_return std::move(plan.items.front().bytes);
}

bool shard_log::still_indexed(partition_id p, const read_plan& plan) const {
    const partition_state* ps = find_partition(p);
    if (ps == nullptr) return false;
    for (const auto& it : plan.items) {
        size_t i = ps->index.find_offset(it.entry.base());
        if (i == ps->index.size()) return false;
        const batch_entry& e = ps->index[i];
        if (e.base_offset != it.entry.base_offset || e.segment != it.entry.segment ||
            e.position != it.entry.position || e.batch_bytes != it.entry.batch_bytes) {
            return false;
        }
    }
    return true;
}

task<status> shard_log::read_from_disk(partition_id p, read_plan& plan) {
    for (size_t i = 0; i < plan.items.size(); ++i) {
        const auto& it = plan.items[i];
        if (it.have) continue;
        auto& runs = plan.runs;
        bool extends = !runs.empty() && runs.back().first + runs.back().count == i &&
                       runs.back().seg->seq() == it.entry.segment &&
                       runs.back().position + runs.back().bytes == it.entry.position;
        if (extends) {
            ++runs.back().count;
            runs.back().bytes = entry_end(it.entry) - runs.back().position;
            continue;
        }
        auto seg = segment_by_seq(it.entry.segment);
        WHARF_ASSERT(seg, "indexed batch {} of partition {} in segment {} that is gone",
                     it.entry.base_offset, p, it.entry.segment);
        runs.push_back(read_plan::disk_run{std::move(seg), i, 1, it.entry.position,
                                           entry_end(it.entry) - it.entry.position});
    }
    for (auto& run : plan.runs) {
        iobuf buf;
        auto reserved = buf.reserve(run.bytes);
        // Clip the reservation to the run: a byte more could belong to another partition.
        std::vector<iovec> iov;
        uint64_t left = run.bytes;
        for (const iovec& v : reserved) {
            if (left == 0) break;
            size_t n = std::min<uint64_t>(v.iov_len, left);
            iov.push_back(iovec{v.iov_base, n});
            left -= n;
        }
        auto got = co_await run.seg->handle().read_at(iov, run.position);
        buf.commit(got ? std::min<size_t>(*got, run.bytes) : 0);
        if (!got) {
            shard_logger().error("log {}: read of {} bytes at {} of {} failed: {}", _dir, run.bytes,
                                 run.position, run.seg->path(), got.error().message());
            co_return as_log_error(got.error());
        }
        ++_stats.disk_reads;
        _stats.disk_read_bytes += *got;
        size_t at = 0;
        for (size_t k = run.first; k < run.first + run.count; ++k) {
            auto& it = plan.items[k];
            if (*got < at + entry_header_bytes + it.entry.batch_bytes ||
                !entry_matches(buf, at, it.entry, p)) {
                // A raft truncation removed the batch while it was read: it is no longer in the
                // partition, which is no damage.
                if (_truncations != plan.truncations) co_return log_errc::offset_out_of_range;
                shard_logger().error("log {}: entry at byte {} of {} (partition {}, offset {}) "
                                     "does not match its index or checksum",
                                     _dir, run.position + at, run.seg->path(), p,
                                     it.entry.base_offset);
                co_return log_errc::corrupt_entry;
            }
            it.bytes = buf.share(at + entry_header_bytes, it.entry.batch_bytes);
            it.have = true;
            ++_stats.disk_batches;
            at += entry_header_bytes + it.entry.batch_bytes;
        }
    }
    co_return status{};
}

}  // namespace wharf
