#pragma once

// sim_log: the simulator's model of one replica's raft log (the contract of the shard log, not
// its files). It holds the entries after a snapshot point:
//
//   - compaction (the model of retention) drops a prefix the replica knows committed and durable
//     and keeps its last entry as the snapshot point, as the real log keeps its prefix
//     checkpoint;
//   - installing a leader's snapshot replaces the whole log by the leader's snapshot point.
//
// The point keeps the id of the proposal it ends with, which stands for the state it summarizes
// (the real checkpoint's partition offsets), so the checker can compare it with the committed
// log. A replica's world keeps two of these: what its log holds now and what its disk holds.

#include <cstdint>
#include <vector>

#include "raft/term_index.h"
#include "reactor/base/assert.h"
#include "reactor/base/ids.h"
#include "reactor/iobuf.h"

namespace wharf::sim {

struct sim_entry {
    raft_index index{0};
    term_id term{0};
    // The proposal's id (0 for a leader's no-op; a configuration entry's membership with
    // config_id_flag set, sim_membership.h).
    uint64_t id = 0;
};

inline constexpr uint64_t config_id_flag = uint64_t{1} << 63;

inline bool is_config_id(uint64_t id) {
    return (id & config_id_flag) != 0;
}

inline bool same(const sim_entry& a, const sim_entry& b) {
    return a.index == b.index && a.term == b.term && a.id == b.id;
}

// An entry's proposal id travels as its payload (8 bytes; none for a no-op), and a snapshot's
// data is the id of its point.
inline iobuf id_payload(uint64_t id) {
    return iobuf::copy_of(&id, sizeof id);
}

inline uint64_t payload_id(const iobuf& b) {
    uint64_t id = 0;
    WHARF_ASSERT(b.size() == sizeof id || b.empty(), "sim payload of {} bytes", b.size());
    if (b.empty()) return 0;
    b.copy_to(0, &id, sizeof id);
    return id;
}

class sim_log {
public:
    // The last entry removed, or an installed snapshot's point; (0, 0, 0) before any.
    const sim_entry& snapshot() const noexcept { return _snapshot; }
    raft_index snapshot_index() const noexcept { return _snapshot.index; }
    raft_index first_index() const noexcept { return _snapshot.index + 1; }
    raft_index last_index() const noexcept {
        return _snapshot.index + static_cast<int64_t>(_entries.size());
    }
    // The last entry held, or the snapshot point when none is.
    const sim_entry& last() const noexcept {
        return _entries.empty() ? _snapshot : _entries.back();
    }
    const std::vector<sim_entry>& entries() const noexcept { return _entries; }
    // The latest configuration entry held (the snapshot point when it is one and no entry
    // after it is); nullptr when none is (one compaction removed stays unknown here).
    const sim_entry* last_config() const noexcept {
        if (!_configs.empty()) return at(_configs.back());
        return is_config_id(_snapshot.id) ? &_snapshot : nullptr;
    }

    // The entry at i, or nullptr when the log does not hold it (compacted or past the end).
    const sim_entry* at(raft_index i) const noexcept {
        if (i < first_index() || i > last_index()) return nullptr;
        return &_entries[static_cast<size_t>(i - first_index())];
    }

    // REQUIRES: e.index == last_index() + 1.
    void append(const sim_entry& e) {
        WHARF_ASSERT(e.index == last_index() + 1, "sim log: appends {} after {}", e.index,
                     last_index());
        _entries.push_back(e);
        if (is_config_id(e.id)) _configs.push_back(e.index);
    }

    // Drops every entry after i (nothing when the log ends at or before i).
    // REQUIRES: i >= snapshot_index() (what compaction removed was committed).
    void truncate_after(raft_index i) {
        WHARF_ASSERT(i >= _snapshot.index, "sim log: truncates after {}, below its snapshot {}", i,
                     _snapshot.index);
        if (i < last_index()) _entries.resize(static_cast<size_t>(i - _snapshot.index));
        while (!_configs.empty() && _configs.back() > i) _configs.pop_back();
    }

    // Drops the entries up to i, which becomes the snapshot point.
    // REQUIRES: snapshot_index() < i <= last_index().
    void compact_through(raft_index i) {
        const sim_entry* point = at(i);
        WHARF_ASSERT(point, "sim log: compacts through {} outside {}..{}", i, first_index(),
                     last_index());
        auto removed = static_cast<long>(i - _snapshot.index);
        _snapshot = *point;
        _entries.erase(_entries.begin(), _entries.begin() + removed);
        std::erase_if(_configs, [&](raft_index c) { return c <= i; });
    }

    // The whole log becomes the snapshot point.
    void install(const sim_entry& point) {
        _snapshot = point;
        _entries.clear();
        _configs.clear();
    }

    // What the machine starts from: the snapshot point and the terms of the entries after it.
    term_index terms() const {
        term_index t(_snapshot.index, _snapshot.term);
        for (const auto& e : _entries) t.append(e.index, e.term);
        return t;
    }

private:
    sim_entry _snapshot;
    std::vector<sim_entry> _entries;
    // The indexes of the configuration entries in _entries, ascending.
    std::vector<raft_index> _configs;
};

}  // namespace wharf::sim
