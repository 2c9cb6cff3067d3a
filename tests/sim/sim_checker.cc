#include "tests/sim/sim_checker.h"

#include <algorithm>

#include <fmt/format.h>

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

bool same(const sim_entry& a, const sim_entry& b) {
    return a.index == b.index && a.term == b.term && a.id == b.id;
}

std::string show(const sim_entry& e) {
    return fmt::format("(index {}, term {}, id {})", e.index.value(), e.term.value(), e.id);
}

}  // namespace

sim_checker::sim_checker(size_t nodes) : _seen(nodes) {}

std::optional<std::string> sim_checker::check(sim_world& w) {
    for (auto& n : w.nodes()) {
        auto& seen = _seen[static_cast<size_t>(n.number)];
        if (seen.incarnation != n.incarnation) {
            seen = replica_seen{};
            seen.incarnation = n.incarnation;
            n.changed_from = 0;
        }
        if (!n.up) continue;
        if (auto v = check_log_matching(n, seen)) return v;
        if (auto v = check_commit(n, seen)) return v;
    }
    // Leaders after every commit is taken in, so a new leader is compared with all of them.
    for (const auto& n : w.nodes()) {
        if (!n.up) continue;
        if (auto v = check_leader(n, _seen[static_cast<size_t>(n.number)])) return v;
    }
    return check_durability(w);
}

std::optional<std::string> sim_checker::check_log_matching(sim_world::node& n,
                                                           replica_seen& seen) {
    size_t from = std::min(n.changed_from, n.log.size());
    n.changed_from = SIZE_MAX;
    seen.prefix_hash.resize(from);
    for (size_t i = from; i < n.log.size(); ++i) {
        const auto& e = n.log[i];
        if (e.index.value() != static_cast<int64_t>(i) + 1) {
            return fmt::format("replica {} holds {} at position {}", n.number, show(e), i + 1);
        }
        uint64_t prev = i == 0 ? 0 : seen.prefix_hash[i - 1];
        uint64_t h = mix(prev ^ mix(static_cast<uint64_t>(e.term.value())) ^ (e.id << 1));
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
    if (len > n.log.size()) {
        return fmt::format("replica {} commits index {} beyond its log ({} entries)", n.number,
                           c.value(), n.log.size());
    }
    // By log matching (checked above), one equal entry stands for the whole prefix.
    size_t common = std::min(len, _committed.size());
    if (common > 0 && !same(n.log[common - 1], _committed[common - 1])) {
        return fmt::format("state machine safety: replica {} committed {} where {} was committed",
                           n.number, show(n.log[common - 1]), show(_committed[common - 1]));
    }
    for (size_t i = _committed.size(); i < len; ++i) _committed.push_back(n.log[i]);
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
        if (!_committed.empty()) {
            const auto& last = _committed.back();
            size_t at = _committed.size() - 1;
            if (n.log.size() <= at || !same(n.log[at], last)) {
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

std::optional<std::string> sim_checker::check_durability(const sim_world& w) const {
    if (_committed.empty()) return std::nullopt;
    const auto& last = _committed.back();
    size_t at = _committed.size() - 1;
    int holders = 0;
    for (const auto& n : w.nodes()) {
        if (n.durable_log.size() > at && same(n.durable_log[at], last)) ++holders;
    }
    int quorum = w.params().nodes / 2 + 1;
    if (holders < quorum) {
        return fmt::format("durability: committed {} is on the disk of {} replicas, fewer than a "
                           "quorum of {}",
                           show(last), holders, quorum);
    }
    return std::nullopt;
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
