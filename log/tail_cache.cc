#include "log/tail_cache.h"

#include <algorithm>

#include "reactor/base/assert.h"

namespace wharf {

void tail_cache::insert(partition_id p, kafka_offset base, kafka_offset last, iobuf batch) {
    auto& r = _runs[p];
    WHARF_ASSERT(r.empty() || r.batches.back().last < base,
                 "batch {} cached after batch ending at {} of partition {}", base,
                 r.batches.back().last, p);
    if (batch.size() > _budget) {
        // Caching it would evict everything and still not fit; dropping the partition's run keeps
        // the cached batches of p contiguous.
        while (!r.empty()) pop_front(r);
        _runs.erase(p);
        return;
    }
    while (_bytes + batch.size() > _budget) evict_oldest();
    _bytes += batch.size();
    ++_batches;
    // evict_oldest may have erased p's run; look it up again.
    uint64_t seq = _next_seq++;
    _runs[p].batches.push_back(cached_batch{base, last, seq, std::move(batch)});
    _fifo.push_back(fifo_record{p, seq});
    // Records of batches that retention or a truncation dropped wait for the front; bound how
    // many pile up.
    if (_fifo.size() > 2 * _batches + 1024) {
        std::erase_if(_fifo, [this](const fifo_record& f) { return !holds(f); });
    }
}

void tail_cache::set_budget(size_t budget_bytes) {
    _budget = budget_bytes;
    while (_bytes > _budget) evict_oldest();
}

bool tail_cache::holds(const fifo_record& f) const {
    auto it = _runs.find(f.partition);
    if (it == _runs.end()) return false;
    const run& r = it->second;
    // A run's batches are in insertion order, so their seqs increase.
    auto first = r.batches.begin() + static_cast<ptrdiff_t>(r.head);
    auto pos = std::partition_point(first, r.batches.end(),
                                    [&f](const cached_batch& b) { return b.seq < f.seq; });
    return pos != r.batches.end() && pos->seq == f.seq;
}

std::optional<iobuf> tail_cache::find(partition_id p, kafka_offset base) const {
    auto it = _runs.find(p);
    if (it == _runs.end()) return std::nullopt;
    const run& r = it->second;
    auto first = r.batches.begin() + static_cast<ptrdiff_t>(r.head);
    auto pos = std::partition_point(first, r.batches.end(),
                                    [base](const cached_batch& b) { return b.base < base; });
    if (pos == r.batches.end() || pos->base != base) return std::nullopt;
    return pos->bytes.share();
}

void tail_cache::drop_before(partition_id p, kafka_offset start) {
    auto it = _runs.find(p);
    if (it == _runs.end()) return;
    run& r = it->second;
    while (!r.empty() && r.front().last < start) pop_front(r);
    if (r.empty()) _runs.erase(it);
}

void tail_cache::drop_from(partition_id p, kafka_offset end) {
    auto it = _runs.find(p);
    if (it == _runs.end()) return;
    run& r = it->second;
    while (!r.empty() && r.batches.back().last >= end) {
        _bytes -= r.batches.back().bytes.size();
        --_batches;
        r.batches.pop_back();
    }
    if (r.empty()) _runs.erase(it);
}

void tail_cache::clear() {
    _runs.clear();
    _fifo.clear();
    _bytes = 0;
    _batches = 0;
}

void tail_cache::evict_oldest() {
    while (!_fifo.empty()) {
        fifo_record f = _fifo.front();
        _fifo.pop_front();
        auto it = _runs.find(f.partition);
        if (it == _runs.end() || it->second.empty() || it->second.front().seq != f.seq) {
            continue;  // dropped by retention or a truncation already
        }
        pop_front(it->second);
        if (it->second.empty()) _runs.erase(it);
        return;
    }
    WHARF_ASSERT(_bytes == 0, "tail cache holds {} bytes but has nothing to evict", _bytes);
}

void tail_cache::pop_front(run& r) {
    auto& b = r.front();
    _bytes -= b.bytes.size();
    --_batches;
    b.bytes.clear();
    ++r.head;
    compact(r);
}

void tail_cache::compact(run& r) {
    if (r.head == r.batches.size()) {
        r.batches.clear();
        r.head = 0;
    } else if (r.head >= 16 && r.head * 2 >= r.batches.size()) {
        r.batches.erase(r.batches.begin(), r.batches.begin() + static_cast<ptrdiff_t>(r.head));
        r.head = 0;
    }
}

}  // namespace wharf
