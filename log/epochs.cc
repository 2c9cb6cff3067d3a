// The leader epochs of a partition (shard_log::end_offset_for_epoch): what Kafka keeps in each
// partition's leader epoch cache, found here in the batches themselves. Consensus stamps every
// batch with the raft term of the leader that appended it, and followers store the leader's
// batches as they are, so a partition's epochs never decrease along its offsets and "where did
// epoch E end" is a binary search over its batch index, reading the epoch field of a few batches.
// The last batch's epoch is kept in memory from every append, so the common question (the epoch
// a consumer last read, which is usually the last one written) reads nothing.

#include <algorithm>
#include <array>

#include "log/batch_layout.h"
#include "log/errc.h"
#include "log/shard_log.h"

namespace wharf {

namespace {

bool same_batch(const batch_entry& a, const batch_entry& b) noexcept {
    return a.base_offset == b.base_offset && a.segment == b.segment && a.position == b.position;
}

}  // namespace

int32_t shard_log::leader_epoch_of(const iobuf& batch) {
    std::array<std::byte, sizeof(int32_t)> raw{};
    batch.copy_to(batch_layout::partition_leader_epoch, raw.data(), raw.size());
    return batch_layout::get<int32_t>(raw, 0);
}

task<result<int32_t>> shard_log::batch_epoch(partition_id p, batch_entry e) {
    auto bytes = co_await read_batch(p, e);
    if (!bytes) co_return bytes.error();
    co_return leader_epoch_of(*bytes);
}

task<result<epoch_end>> shard_log::end_offset_for_epoch(partition_id p, int32_t epoch) {
    auto hold = _gate.hold();
    if (!hold) co_return log_errc::shutting_down;
    check_shard();
    // A truncation under the search removes the batches it holds on to: search again. (Only a
    // follower truncates, and epochs are asked of leaders, so once is plenty.)
    for (int attempt = 0;; ++attempt) {
        auto r = co_await search_epoch(p, epoch);
        if (r || r.error() != log_errc::offset_out_of_range || attempt == 2) co_return r;
    }
}

task<result<epoch_end>> shard_log::search_epoch(partition_id p, int32_t epoch) {
    const partition_state* ps = find_partition(p);
    if (ps == nullptr) co_return log_errc::partition_unknown;
    if (ps->index.empty()) co_return epoch_end{epoch, ps->end_offset};
    const batch_entry last = ps->index.back();
    int32_t last_epoch = ps->last_epoch;
    if (last_epoch == partition_state::unknown_epoch) {
        auto e = co_await batch_epoch(p, last);
        if (!e) co_return e.error();
        last_epoch = *e;
        partition_state* now = find_partition(p);
        if (now == nullptr) co_return log_errc::partition_unknown;
        if (!now->index.empty() && same_batch(now->index.back(), last)) now->last_epoch = *e;
    }
    if (last_epoch <= epoch) {
        ps = find_partition(p);  // the read above may have let it go (a deleted topic)
        if (ps == nullptr) co_return log_errc::partition_unknown;
        co_return epoch_end{last_epoch, ps->end_offset};
    }

    // `above` holds a later epoch than the one asked for; `below`, when known, one at or before
    // it (`floor`). The first batch of a later epoch lies after `below`, at or before `above`.
    batch_entry above = last;
    std::optional<batch_entry> below;
    int32_t floor = epoch;
    for (;;) {
        ps = find_partition(p);
        if (ps == nullptr) co_return log_errc::partition_unknown;
        const partition_index& index = ps->index;
        size_t hi = index.find_offset(above.base());
        if (hi == index.size() || !same_batch(index[hi], above)) {
            co_return log_errc::offset_out_of_range;
        }
        size_t first = 0;
        if (below) {
            // Retention may have dropped it since, and every batch before it with it.
            size_t lo = index.find_offset(below->base());
            if (lo < index.size() && same_batch(index[lo], *below)) first = lo + 1;
        }
        if (first >= hi) {
            co_return epoch_end{floor, std::max(above.base(), ps->start_offset)};
        }
        const batch_entry mid = index[first + (hi - first) / 2];
        auto e = co_await batch_epoch(p, mid);
        if (!e) co_return e.error();
        if (*e > epoch) {
            above = mid;
        } else {
            below = mid;
            floor = *e;
        }
    }
}

}  // namespace wharf
