#pragma once

// term_index: the term of every entry of a replica's log, kept as runs (the first index of each
// term), so raft can answer "term at index i" for the whole log in memory without touching the
// disk. Terms never decrease along a log, and a term changes only at elections, so the runs are
// few however long the log is.
//
// It covers the entries the replica has appended, durable or not, plus the snapshot point: the
// last entry retention removed (index and term), below which nothing is known.

#include <optional>
#include <vector>

#include "reactor/base/assert.h"
#include "reactor/base/ids.h"

namespace wharf {

class term_index {
public:
    term_index() = default;
    // An empty log whose entries start after (snapshot_index, snapshot_term).
    term_index(raft_index snapshot_index, term_id snapshot_term)
        : _snapshot_index(snapshot_index), _snapshot_term(snapshot_term),
          _last(snapshot_index) {}

    raft_index snapshot_index() const noexcept { return _snapshot_index; }
    raft_index first_index() const noexcept { return _snapshot_index + 1; }
    raft_index last_index() const noexcept { return _last; }
    term_id last_term() const noexcept {
        return _runs.empty() ? _snapshot_term : _runs.back().term;
    }

    // The term of the entry at i, the snapshot point included; nullopt outside.
    std::optional<term_id> term_at(raft_index i) const noexcept {
        if (i == _snapshot_index) return _snapshot_term;
        if (i < _snapshot_index || i > _last) return std::nullopt;
        // The last run starting at or before i (runs are few: a linear scan from the end finds
        // recent entries, which are the ones asked about, in one or two steps).
        for (auto it = _runs.rbegin(); it != _runs.rend(); ++it) {
            if (it->first <= i) return it->term;
        }
        WHARF_ASSERT(false, "term_index: no run holds index {}", i.value());
        return std::nullopt;
    }

    // The first index of the run holding i (the conflict hint of append replies).
    raft_index run_start(raft_index i) const noexcept {
        for (auto it = _runs.rbegin(); it != _runs.rend(); ++it) {
            if (it->first <= i) return it->first;
        }
        return first_index();
    }

    // REQUIRES: i == last_index() + 1 and t >= last_term().
    void append(raft_index i, term_id t) {
        WHARF_ASSERT(i == _last + 1, "term_index: append of {} after {}", i.value(),
                     _last.value());
        WHARF_ASSERT(t >= last_term(), "term_index: term {} after {}", t.value(),
                     last_term().value());
        if (_runs.empty() || _runs.back().term != t) _runs.push_back({i, t});
        _last = i;
    }

    // Appends the entries first..last, all of term t (a run read back from the log at start).
    // REQUIRES: first == last_index() + 1, first <= last, t >= last_term().
    void append_run(raft_index first, raft_index last, term_id t) {
        append(first, t);
        _last = last;
    }

    // Forgets every entry after i. REQUIRES: snapshot_index() <= i <= last_index().
    void truncate_after(raft_index i) {
        WHARF_ASSERT(i >= _snapshot_index && i <= _last, "term_index: truncate after {} ({}..{})",
                     i.value(), _snapshot_index.value(), _last.value());
        while (!_runs.empty() && _runs.back().first > i) _runs.pop_back();
        _last = i;
    }

    size_t run_count() const noexcept { return _runs.size(); }

private:
    struct run {
        raft_index first;
        term_id term;
    };
    raft_index _snapshot_index{0};
    term_id _snapshot_term{0};
    raft_index _last{0};
    std::vector<run> _runs;
};

}  // namespace wharf
