#include "tests/sim/sim_checker.h"

#include <algorithm>

#include <fmt/format.h>

#include "tests/sim/sim_membership.h"

namespace wharf::sim {

namespace {

uint64_t mix(uint64_t x) {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

uint64_t entry_key(const sim_entry& e) {
    return mix(static_cast<uint64_t>(e.index.value()) * 0x100000001b3ULL ^
               static_cast<uint64_t>(e.term.value()));
}

// The hash of a prefix ending at e, from the hash of the prefix before it.
uint64_t chain(uint64_t prev, const sim_entry& e) {
    return mix(prev ^ mix(static_cast<uint64_t>(e.term.value())) ^ (e.id << 1));
}

std::string show(const sim_entry& e) {
    return fmt::format("(index {}, term {}, id {})", e.index.value(), e.term.value(), e.id);
}

}  // namespace

sim_checker::sim_checker(size_t nodes, raft_config initial)
    : _seen(nodes), _initial(std::move(initial)) {}

std::optional<std::string> sim_checker::check(sim_world& w) {
    for (auto& n : w.nodes()) {
        auto& seen = _seen[static_cast<size_t>(n.number)];
        if (seen.incarnation != n.incarnation) {
            seen = replica_seen{};
            seen.incarnation = n.incarnation;
            n.changed_from = raft_index(0);
        }
        if (!n.up) continue;
        // Snapshots first: the hashes of a compacted log start from the prefix its point ends.
        if (auto v = check_snapshot(n)) return v;
        if (auto v = check_log_matching(n, seen)) return v;
        if (auto v = check_commit(n, seen)) return v;
        if (auto v = check_membership(n)) return v;
    }
    // Leaders after every commit is taken in, so a new leader is compared with all of them.
    for (const auto& n : w.nodes()) {
        if (!n.up) continue;
        if (auto v = check_leader(n, _seen[static_cast<size_t>(n.number)])) return v;
    }
    return check_durability(w);
}

std::optional<std::string> sim_checker::check_snapshot(const sim_world::node& n) const {
    // A snapshot point summarizes the log up to it, so it may only cover committed entries, and
    // must be the committed entry at its index. Compaction stays within the replica's commit and
    // a leader's snapshot within its own, both of which this checker took in at earlier steps
    // (sim_world compacts first in a step), so a point past the committed log is a violation.
    // A point on the disk was in the log before (a crash keeps a prefix of the log's changes).
    for (const sim_log* log : {&n.log, &n.durable_log}) {
        const sim_entry& point = log->snapshot();
        if (point.index == raft_index(0)) continue;
        const char* where = log == &n.log ? "log" : "disk";
        auto at = static_cast<size_t>(point.index.value());
        if (at > _committed.size()) {
            return fmt::format("snapshot: replica {}'s {} has a snapshot at {}, past the "
                               "committed log's end {}",
                               n.number, where, show(point), _committed.size());
        }
        if (!same(point, _committed[at - 1])) {
            return fmt::format("snapshot: replica {}'s {} has a snapshot at {} where {} was "
                               "committed",
                               n.number, where, show(point), show(_committed[at - 1]));
        }
    }
    return std::nullopt;
}

std::optional<std::string> sim_checker::check_log_matching(sim_world::node& n,
                                                           replica_seen& seen) {
    const sim_entry& point = n.log.snapshot();
    raft_index from = std::max(n.changed_from, n.log.first_index());
    n.changed_from = raft_index::max();
    if (!same(point, seen.snapshot)) {
        // Compacted or installed: the hashes start again after the new point, from the
        // committed prefix it ends (check_snapshot found it committed).
        seen.snapshot = point;
        seen.snapshot_hash =
            point.index == raft_index(0)
                ? 0
                : _committed_hash[static_cast<size_t>(point.index.value()) - 1];
        seen.prefix_hash.clear();
        from = n.log.first_index();
    }
    seen.prefix_hash.resize(static_cast<size_t>(std::min(from, n.log.last_index() + 1) -
                                                n.log.first_index()));
    for (raft_index i = from; i <= n.log.last_index(); ++i) {
        const sim_entry& e = *n.log.at(i);
        if (e.index != i) {
            return fmt::format("replica {} holds {} at index {}", n.number, show(e), i);
        }
        uint64_t h = chain(seen.prefix_hash.empty() ? seen.snapshot_hash : seen.prefix_hash.back(),
                           e);
        seen.prefix_hash.push_back(h);
        auto [it, fresh] = _prefix_of_entry.emplace(entry_key(e), h);
        if (!fresh && it->second != h) {
            return fmt::format("log matching: replica {} holds {} after a prefix that differs "
                               "from another replica's entry of the same index and term",
                               n.number, show(e));
        }
    }
    return std::nullopt;
}

std::optional<std::string> sim_checker::add_committed(const sim_entry& e) {
    _committed_hash.push_back(chain(_committed_hash.empty() ? 0 : _committed_hash.back(), e));
    _committed.push_back(e);
    if (!is_config_id(e.id)) return std::nullopt;
    // Thesis 4.1: one voter at a time, so that the majorities of any two configurations in
    // force one after the other overlap.
    raft_config before = committed_config();
    raft_config next = config_of_id(e.id);
    _committed_configs.push_back(e.index);
    if (voters_apart(before, next) > 1) {
        return fmt::format("membership: committed {} at {} follows the committed {}, {} voters "
                           "apart",
                           next.to_string(), e.index.value(), before.to_string(),
                           voters_apart(before, next));
    }
    return std::nullopt;
}

const sim_entry* sim_checker::committed_config_at(raft_index i) const {
    auto it = std::upper_bound(_committed_configs.begin(), _committed_configs.end(), i);
    if (it == _committed_configs.begin()) return nullptr;
    return &_committed[static_cast<size_t>((it - 1)->value()) - 1];
}

raft_config sim_checker::committed_config() const {
    if (_committed_configs.empty()) return _initial;
    return config_of_id(_committed[static_cast<size_t>(_committed_configs.back().value()) - 1].id);
}

std::optional<std::string> sim_checker::check_commit(const sim_world::node& n,
                                                     replica_seen& seen) {
    raft_index c = n.machine->commit_index();
    if (c < seen.commit) {
        return fmt::format("replica {}'s commit index went back from {} to {}", n.number,
                           seen.commit.value(), c.value());
    }
    seen.commit = c;
    auto len = static_cast<size_t>(c.value());
    if (len == 0) return std::nullopt;
    if (c > n.log.last_index()) {
        return fmt::format("replica {} commits index {} beyond its log (last index {})",
                           n.number, c, n.log.last_index());
    }
    // By log matching (checked above), one equal entry stands for the whole prefix; up to the
    // snapshot point, the point stands for it (check_snapshot).
    size_t common = std::min(len, _committed.size());
    raft_index at(static_cast<int64_t>(common));
    if (common > 0 && at > n.log.snapshot_index() && !same(*n.log.at(at), _committed[common - 1])) {
        return fmt::format("state machine safety: replica {} committed {} where {} was committed",
                           n.number, show(*n.log.at(at)), show(_committed[common - 1]));
    }
    if (len <= _committed.size()) return std::nullopt;
    for (size_t i = _committed.size(); i < len; ++i) {
        const sim_entry* e = n.log.at(raft_index(static_cast<int64_t>(i) + 1));
        if (!e) {
            // Not raft's fault: the simulator let a replica compact (or a leader send a
            // snapshot) past what any replica had shown committed, so the checker cannot know
            // the entries.
            return fmt::format("simulator: replica {} commits {} but holds only from {}, and "
                               "the checker knows the committed log up to {} only",
                               n.number, c, n.log.first_index(), _committed.size());
        }
        if (auto v = add_committed(*e)) return fmt::format("replica {}: {}", n.number, *v);
    }
    // A commit index first grows on a leader (followers and restarts learn theirs from one):
    // what it counted with is its membership in force, when that is later than what committed.
    const config_entry& in_force = n.machine->config_entry_in_force();
    _counted_with.reset();
    if (n.machine->is_leader() && in_force.index > c) _counted_with = in_force.config;
    return std::nullopt;
}

std::optional<std::string> sim_checker::check_leader(const sim_world::node& n,
                                                     replica_seen& seen) {
    const auto& m = *n.machine;
    if (!m.is_leader()) return std::nullopt;
    auto [it, fresh] = _leader_of_term.emplace(m.term(), n.number);
    if (it->second != n.number) {
        return fmt::format("election safety: replicas {} and {} both lead term {}", it->second,
                           n.number, m.term().value());
    }
    if (seen.led_term != m.term()) {
        seen.led_term = m.term();
        seen.visible = raft_index(0);
        // Leader completeness: everything committed so far (before this term) is here.
        // A snapshot point at or past it stands for it (check_snapshot).
        raft_index at(static_cast<int64_t>(_committed.size()));
        if (!_committed.empty() && at > n.log.snapshot_index()) {
            const auto& last = _committed.back();
            const sim_entry* held = n.log.at(at);
            if (!held || !same(*held, last)) {
                return fmt::format("leader completeness: replica {} leads term {} without the "
                                   "committed entry {}",
                                   n.number, m.term().value(), show(last));
            }
        }
    }
    auto visible = m.leader_commit();
    if (!visible) return std::nullopt;
    if (*visible < seen.visible) {
        return fmt::format("replica {} showed commit {} after {} in term {}", n.number,
                           visible->value(), seen.visible.value(), m.term().value());
    }
    if (seen.visible == raft_index(0)) {
        // The first commit this leader shows is at least what earlier terms' leaders showed.
        for (const auto& [term, shown] : _visible_by_term) {
            if (term < m.term() && shown > *visible) {
                return fmt::format("high watermark went back: replica {} shows {} in term {} "
                                   "after {} in term {}",
                                   n.number, visible->value(), m.term().value(), shown.value(),
                                   term.value());
            }
        }
    }
    seen.visible = *visible;
    auto& shown = _visible_by_term[m.term()];
    shown = std::max(shown, *visible);
    return std::nullopt;
}

std::optional<std::string> sim_checker::check_membership(const sim_world::node& n) const {
    // Thesis 4.1: a replica uses the latest configuration in its log, committed or not, from
    // the moment it appends it. A configuration the log no longer shows as an entry counts when
    // it is committed: under the snapshot point, or the committed base of the history a start
    // or an install left (raft_machine keeps the first entry of its history without its entry).
    const config_entry& f = n.machine->config_entry_in_force();
    raft_index latest{0};
    if (const sim_entry* e = n.log.last_config()) latest = e->index;
    if (const sim_entry* c = committed_config_at(n.log.snapshot_index())) {
        latest = std::max(latest, c->index);
    }
    auto show_force = [&] {
        return fmt::format("{} (entry {}, term {})", f.config.to_string(), f.index.value(),
                           f.term.value());
    };
    if (f.index < latest) {
        return fmt::format("membership: replica {} uses {} but its log holds a later "
                           "configuration at {}",
                           n.number, show_force(), latest.value());
    }
    if (f.index == raft_index(0)) {
        if (f.config == _initial) return std::nullopt;
        return fmt::format("membership: replica {} uses {}, not the initial {}", n.number,
                           show_force(), _initial.to_string());
    }
    if (const sim_entry* held = n.log.at(f.index)) {
        if (is_config_id(held->id) && held->term == f.term && config_of_id(held->id) == f.config) {
            return std::nullopt;
        }
        return fmt::format("membership: replica {} uses {} but its log holds {} there",
                           n.number, show_force(), show(*held));
    }
    auto at = static_cast<size_t>(f.index.value());
    if (at > _committed.size() || !is_config_id(_committed[at - 1].id) ||
        _committed[at - 1].term != f.term || config_of_id(_committed[at - 1].id) != f.config) {
        return fmt::format("membership: replica {} uses {}, which its log (entries {}..{}) does "
                           "not hold and which is not the committed entry there",
                           n.number, show_force(), n.log.first_index().value(),
                           n.log.last_index().value());
    }
    return std::nullopt;
}

std::optional<std::string> sim_checker::check_durability(const sim_world& w) const {
    // Which majority must hold the last committed entry L. A leader commits L once the voters
    // of the configuration in force in its log hold it durably (raft_machine::maybe_commit), and
    // committed copies never go (truncations cut only uncommitted entries, compaction and
    // installs keep them under a snapshot point, a flip's loss is counted below). That
    // configuration is either the latest committed one Cc (its entry at or before L: the
    // committed log up to L is the leader's) or the one after it in the leader's log, C', whose
    // entry follows L: a leader proposes a change only once the one before has committed, so
    // C' is one voter away from Cc. So L is on a majority of Cc's voters or of C''s. That is
    // also what keeps L: with C' = Cc plus a voter, a majority of C' holds at least half of Cc
    // and meets every majority of Cc; with C' = Cc less a voter, a majority of C' is one of Cc.
    // A plain "majority of Cc" would be wrong: Cc = {1,2,3,4} growing to C' = {1,..,5} commits
    // L on {1,2,5}, two of Cc's four.
    if (_committed.empty()) return std::nullopt;
    const auto& last = _committed.back();
    std::vector<bool> holds(w.nodes().size(), false);
    for (const auto& n : w.nodes()) {
        // Under the disk's snapshot point (committed, check_snapshot) or as an entry.
        const sim_entry* held = n.durable_log.at(last.index);
        // A copy a bit flip destroyed on a replica still repairing counts (sim_world.h, `lost`):
        // the protocol made it durable there, and repair keeps it safe as long as the other
        // replicas, intact, hold the rest of a quorum.
        bool lost = std::any_of(n.lost.begin(), n.lost.end(),
                                [&](const sim_entry& e) { return same(e, last); });
        if (last.index <= n.durable_log.snapshot_index() || (held && same(*held, last)) || lost) {
            holds[static_cast<size_t>(n.number)] = true;
        }
    }
    raft_config cc = committed_config();
    if (_counted_with && voters_apart(cc, *_counted_with) > 1) {
        return fmt::format("membership: a leader committed {} counting {}, more than one voter "
                           "away from the committed {}",
                           show(last), _counted_with->to_string(), cc.to_string());
    }
    size_t holders = voters_holding(cc, holds);
    if (holders >= majority(cc)) return std::nullopt;
    if (_counted_with && voters_holding(*_counted_with, holds) >= majority(*_counted_with)) {
        return std::nullopt;
    }
    return fmt::format("durability: committed {} is on the disk of {} of the {} voters of {}, "
                       "fewer than a majority{}",
                       show(last), holders, cc.voters.size(), cc.to_string(),
                       _counted_with ? fmt::format(", and on {} of {}",
                                                   voters_holding(*_counted_with, holds),
                                                   _counted_with->to_string())
                                     : std::string());
}

std::optional<std::string> sim_checker::check_acknowledged(const sim_world& w) const {
    for (const auto& p : w.proposals()) {
        if (!p.acked) continue;
        auto at = static_cast<size_t>(p.index.value() - 1);
        if (at >= _committed.size() || _committed[at].id != p.id) {
            return fmt::format("acknowledged proposal {} (index {}, term {}) is not in the "
                               "committed log",
                               p.id, p.index.value(), p.term.value());
        }
    }
    return std::nullopt;
}

}  // namespace wharf::sim
