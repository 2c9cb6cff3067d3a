#include "tests/sim/sim_world.h"

#include <algorithm>
#include <utility>

#include "reactor/base/assert.h"
#include "tests/sim/sim_membership.h"

#include <fmt/format.h>

namespace wharf::sim {

namespace {

uint64_t mix(uint64_t x) {
    // splitmix64: independent streams from one seed.
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

raft_message copy_of(const raft_message& m) {
    raft_message c{m.from, m.to, {}};
    if (const auto* a = std::get_if<append_request>(&m.body)) {
        append_request r{a->term, a->prev_index, a->prev_term, a->leader_commit, {}};
        for (const auto& e : a->entries) r.entries.push_back(e.share());
        c.body = std::move(r);
    } else if (const auto* s = std::get_if<install_snapshot>(&m.body)) {
        c.body = install_snapshot{s->term, s->last_index, s->last_term, s->leader_commit,
                                  s->data.share(), s->config};
    } else {
        std::visit(
            [&](const auto& b) {
                using T = std::decay_t<decltype(b)>;
                if constexpr (!std::is_same_v<T, append_request> &&
                              !std::is_same_v<T, install_snapshot>) {
                    c.body = b;
                }
            },
            m.body);
    }
    return c;
}

}  // namespace

std::string describe(const raft_message& m) {
    std::string body = std::visit(
        [](const auto& b) -> std::string {
            using T = std::decay_t<decltype(b)>;
            if constexpr (std::is_same_v<T, vote_request>) {
                return fmt::format("{}vote request term {} last {}/{}", b.pre_vote ? "pre-" : "",
                                   b.term.value(), b.last_index.value(), b.last_term.value());
            } else if constexpr (std::is_same_v<T, vote_reply>) {
                return fmt::format("{}vote reply term {} {}", b.pre_vote ? "pre-" : "",
                                   b.term.value(), b.granted ? "granted" : "refused");
            } else if constexpr (std::is_same_v<T, append_request>) {
                return fmt::format("append term {} prev {}/{} commit {} entries {}..{}",
                                   b.term.value(), b.prev_index.value(), b.prev_term.value(),
                                   b.leader_commit.value(),
                                   b.entries.empty() ? 0 : b.entries.front().index.value(),
                                   b.entries.empty() ? 0 : b.entries.back().index.value());
            } else if constexpr (std::is_same_v<T, append_reply>) {
                return fmt::format("append reply term {} {} match {} last {}", b.term.value(),
                                   b.success ? "ok" : "refused", b.match_index.value(),
                                   b.last_index.value());
            } else if constexpr (std::is_same_v<T, install_snapshot>) {
                return fmt::format("snapshot term {} at {}/{} commit {}", b.term.value(),
                                   b.last_index.value(), b.last_term.value(),
                                   b.leader_commit.value());
            } else {
                return fmt::format("timeout-now term {}", b.term.value());
            }
        },
        m.body);
    return fmt::format("{} -> {}: {}", m.from.value(), m.to.value(), body);
}

world_params draw_params(uint64_t seed, int nodes_override, planted_bug bug, driver_bug driver) {
    std::mt19937_64 r(mix(seed ^ 0x5eedULL));
    auto pick = [&](double lo, double hi) {
        return lo + (hi - lo) * std::uniform_real_distribution<double>(0, 1)(r);
    };
    world_params p;
    p.nodes = nodes_override > 0 ? nodes_override : (r() % 3 == 0 ? 5 : 3);
    p.drop = pick(0, 0.2);
    p.duplicate = pick(0, 0.1);
    p.max_delay_ms = 1 + static_cast<int>(r() % 30);
    p.max_sync_ms = 1 + static_cast<int>(r() % 20);
    p.crash_per_ms = pick(0, 0.004);
    p.partition_per_ms = pick(0, 0.003);
    p.propose_per_ms = pick(0.05, 0.5);
    p.preferred = r() % 2 == 0 ? static_cast<int>(r() % static_cast<uint64_t>(p.nodes)) : -1;
    p.transfer_per_ms = pick(0, 0.002);
    p.send_only_durable = r() % 2 == 0;
    // Drawn last, so the draws above (and a seed's world when it never compacts) are what they
    // were before compaction existed.
    p.compact_per_ms = r() % 4 == 0 ? 0 : pick(0.001, 0.01);
    // After that, for the same reason: a seed without flips replays as it did before them.
    p.flip_per_crash = r() % 3 == 0 ? 0 : pick(0.1, 0.8);
    // Membership changes after that, for the same reason: a seed without them replays as it
    // did before them. The pool then has up to two replicas beyond the initial voters, and on
    // one seed in six the group starts as a single voter that grows.
    p.voters = p.nodes;
    p.churn_per_ms = r() % 2 == 0 ? 0 : pick(0.0005, 0.005);
    if (p.churn_per_ms > 0) {
        p.nodes += static_cast<int>(r() % 3);
        if (r() % 6 == 0) p.voters = 1;
    }
    p.bug = bug;
    p.driver = driver;
    return p;
}

std::string describe(const world_params& p) {
    return fmt::format("{} replicas, drop {:.3f}, duplicate {:.3f}, delay 1-{} ms, sync 1-{} ms, "
                       "crash {:.4f}/ms, partition {:.4f}/ms, propose {:.2f}/ms, "
                       "transfer {:.4f}/ms, compact {:.4f}/ms, flips {:.2f}/crash, "
                       "preferred leader {}{}{}",
                       p.nodes, p.drop, p.duplicate, p.max_delay_ms, p.max_sync_ms,
                       p.crash_per_ms, p.partition_per_ms, p.propose_per_ms, p.transfer_per_ms,
                       p.compact_per_ms, p.flip_per_crash,
                       p.preferred < 0 ? std::string("none") : std::to_string(p.preferred),
                       p.send_only_durable ? ", sends durable entries only" : "",
                       p.churn_per_ms <= 0
                           ? std::string()
                           : fmt::format(", {} initial voters, membership changes {:.4f}/ms",
                                         p.voters, p.churn_per_ms));
}

sim_world::sim_world(uint64_t seed, world_params params)
    : _seed(seed), _p(params), _rng(mix(seed)) {
    _nodes.resize(static_cast<size_t>(_p.nodes));
    _cut.assign(_nodes.size(), std::vector<bool>(_nodes.size(), false));
    for (size_t i = 0; i < _nodes.size(); ++i) {
        _nodes[i].number = static_cast<int>(i);
        _nodes[i].tick_phase = uniform(0, _p.tick_ms - 1);
        start_machine(_nodes[i]);
    }
}

bool sim_world::chance(double p) {
    return std::uniform_real_distribution<double>(0, 1)(_rng) < p;
}

int sim_world::uniform(int lo, int hi) {
    return std::uniform_int_distribution<int>(lo, hi)(_rng);
}

void sim_world::start_machine(node& n) {
    machine_config cfg;
    cfg.self = id_of(n.number);
    // Replicas beyond the initial voters start outside the group, with empty logs: a leader
    // adds them (as learners) when the operator asks.
    for (int i = 0; i < _p.voters; ++i) cfg.voters.push_back(id_of(i));
    cfg.seed = mix(_seed ^ (static_cast<uint64_t>(n.number) << 32) ^ n.incarnation);
    cfg.bug = _p.bug;
    if (_p.preferred >= 0) cfg.preferred_leader = id_of(_p.preferred);
    cfg.send_only_durable = _p.send_only_durable;
    cfg.max_append_bytes = 64;  // a few entries per request, so pipelining is exercised
    recover(n);
    cfg.repairing = n.repair_marker;
    // The log as recovered: the disk's snapshot point and the entries after it.
    n.log = n.durable_log;
    n.changed_from = raft_index(0);
    n.pending.clear();
    n.sync_at = -1;
    n.syncing = 0;
    n.machine = std::make_unique<raft_machine>(
        cfg, machine_start_state{n.durable_vote, n.durable_log.terms(), n.durable_configs});
    drive(n);
}

void sim_world::crash(node& n) {
    // Unsynced changes: a random prefix reached the disk (a torn entry is dropped by its
    // checksum at recovery, so a tear is one more entry lost; an install is all or nothing).
    size_t survive = static_cast<size_t>(uniform(0, static_cast<int>(n.pending.size())));
    for (size_t i = 0; i < survive; ++i) {
        const auto& op = n.pending[i];
        apply_to_disk(n, op);
    }
    maybe_flip(n);
    n.machine.reset();
    n.up = false;
    n.incarnation++;
    n.down_until = _now + uniform(1, 3000);
    crashed_this_step = true;
}

void sim_world::drive(node& n) {
    // The driver contract of raft_machine (machine.h), as the broker's consensus follows it.
    while (n.up && n.machine->has_ready()) {
        raft_ready r = n.machine->take_ready();
        if (r.vote) n.durable_vote = *r.vote;
        // The entries the repair needed are durable already (its condition): the marker goes.
        if (r.repaired) on_repaired(n);
        // Contract 5: the membership history goes to the disk in order with the log changes,
        // after this ready's snapshot (an install carries it) and truncation, before its entries
        // (riding with the first of them), so a start never finds a configuration entry that its
        // history lacks. Alone when the ready changes no log (a commit pruned the history).
        using kind = node::pending_op::kind;
        configs_op configs = std::move(r.configs);
        // The planted driver bug configs_after_entries: the history goes after the entries.
        configs_op late;
        if (_p.driver == driver_bug::configs_after_entries && !r.entries.empty()) {
            late = std::exchange(configs, std::nullopt);
        }
        if (r.snapshot) install(n, *r.snapshot, std::exchange(configs, std::nullopt));
        if (r.truncate_after) {
            n.log.truncate_after(*r.truncate_after);
            n.changed_from = std::min(n.changed_from, *r.truncate_after + 1);
            n.pending.push_back({kind::truncate, sim_entry{*r.truncate_after, term_id(0), 0},
                                 std::exchange(configs, std::nullopt)});
        }
        for (auto& e : r.entries) {
            uint64_t id = 0;
            if (e.type == entry_type::raft_configuration) {
                auto members = decode_config(e.payload);
                WHARF_ASSERT(members, "sim: node {} appends an undecodable configuration",
                             n.number);
                id = config_id(*members);
            } else {
                id = payload_id(e.payload);
            }
            sim_entry se{e.index, e.term, id};
            n.changed_from = std::min(n.changed_from, se.index);
            n.log.append(se);
            n.pending.push_back({kind::append, se, std::exchange(configs, std::nullopt)});
        }
        if (late) configs = std::move(late);
        if (configs) n.pending.push_back({kind::configs, sim_entry{}, std::move(configs)});
        for (auto& m : r.messages) send(std::move(m));
        // Plans call back into the machine, which may plan again (a snapshot instead of
        // entries): those come with the next ready of this loop.
        for (const auto& plan : r.appends) send_append(n, plan);
        for (const auto& plan : r.snapshots) send_snapshot(n, plan);
    }
}

void sim_world::send_append(node& n, const append_plan& plan) {
    if (plan.from < n.log.first_index()) {
        // Compaction removed them: the follower needs the snapshot (consensus::send_append).
        n.machine->on_append_unsendable(plan, /*behind_log_start=*/true);
        return;
    }
    append_request req{plan.term, plan.prev_index, plan.prev_term, plan.leader_commit, {}};
    uint64_t bytes = 0;
    raft_index sendable = n.log.last_index();
    if (_p.send_only_durable) sendable = std::min(sendable, n.machine->durable_index());
    for (raft_index i = plan.from; i <= sendable; ++i) {
        if (bytes + sizeof(uint64_t) > plan.max_bytes && !req.entries.empty()) break;
        const sim_entry& e = *n.log.at(i);
        if (is_config_id(e.id)) {
            iobuf members = encode_config(config_of_id(e.id));
            bytes += members.size();
            req.entries.push_back(raft_entry{e.index, e.term, entry_type::raft_configuration,
                                             partition_id(0), std::move(members)});
            continue;
        }
        req.entries.push_back(raft_entry{e.index, e.term,
                                         e.id ? entry_type::data : entry_type::raft_noop,
                                         partition_id(0), e.id ? id_payload(e.id) : iobuf{}});
        bytes += sizeof(uint64_t);
    }
    raft_index last = req.entries.empty() ? plan.from - 1 : req.entries.back().index;
    send(raft_message{n.machine->self(), plan.to, std::move(req)});
    n.machine->on_append_sent(plan, last, bytes);
}

void sim_world::send(raft_message m) {
    if (_lossy && chance(_p.drop)) return;
    int copies = _lossy && chance(_p.duplicate) ? 2 : 1;
    for (int c = 0; c < copies; ++c) {
        raft_message msg = c + 1 < copies ? copy_of(m) : std::move(m);
        _network.push_back({_now + uniform(1, _p.max_delay_ms), _next_seq++, std::move(msg)});
    }
}

bool sim_world::link_up(int from, int to) const {
    return !_cut[static_cast<size_t>(from)][static_cast<size_t>(to)];
}

void sim_world::deliver_due() {
    // Deterministic order: by delivery time, then by send order.
    std::vector<in_flight> due;
    auto split = std::stable_partition(_network.begin(), _network.end(),
                                       [&](const in_flight& f) { return f.deliver_at > _now; });
    for (auto it = split; it != _network.end(); ++it) due.push_back(std::move(*it));
    _network.erase(split, _network.end());
    std::sort(due.begin(), due.end(), [](const in_flight& a, const in_flight& b) {
        return a.deliver_at != b.deliver_at ? a.deliver_at < b.deliver_at : a.seq < b.seq;
    });
    for (auto& f : due) {
        int from = f.msg.from.value() - 1;
        int to = f.msg.to.value() - 1;
        auto& n = _nodes[static_cast<size_t>(to)];
        if (!n.up || !link_up(from, to)) continue;
        if (trace) fmt::print("{} ms: {}\n", _now, describe(f.msg));
        n.machine->step(std::move(f.msg));
        drive(n);
    }
}

void sim_world::maybe_fault() {
    if (chance(_p.crash_per_ms)) {
        auto& n = _nodes[static_cast<size_t>(uniform(0, _p.nodes - 1))];
        if (n.up) crash(n);
    }
    if (chance(_p.partition_per_ms)) {
        for (auto& row : _cut) std::fill(row.begin(), row.end(), false);
        switch (uniform(0, 3)) {
            case 0: break;  // healed
            case 1: {       // one replica isolated both ways
                int a = uniform(0, _p.nodes - 1);
                for (int b = 0; b < _p.nodes; ++b) {
                    _cut[static_cast<size_t>(a)][static_cast<size_t>(b)] = a != b;
                    _cut[static_cast<size_t>(b)][static_cast<size_t>(a)] = a != b;
                }
                break;
            }
            case 2: {  // a random split into two sides
                std::vector<int> side(static_cast<size_t>(_p.nodes));
                for (auto& s : side) s = uniform(0, 1);
                for (int a = 0; a < _p.nodes; ++a) {
                    for (int b = 0; b < _p.nodes; ++b) {
                        _cut[static_cast<size_t>(a)][static_cast<size_t>(b)] =
                            side[static_cast<size_t>(a)] != side[static_cast<size_t>(b)];
                    }
                }
                break;
            }
            default: {  // one direction of one link
                int a = uniform(0, _p.nodes - 1);
                int b = uniform(0, _p.nodes - 1);
                if (a != b) _cut[static_cast<size_t>(a)][static_cast<size_t>(b)] = true;
            }
        }
    }
    if (chance(_p.transfer_per_ms)) {
        // An operator (or the balancer) moves leadership to a random replica.
        auto target = id_of(uniform(0, _p.nodes - 1));
        for (auto& n : _nodes) {
            if (n.up && n.machine->is_leader()) {
                (void)n.machine->transfer_leadership(target);
                drive(n);
            }
        }
    }
    for (auto& n : _nodes) {
        if (!n.up && _now >= n.down_until) {
            n.up = true;
            start_machine(n);
        }
    }
}

bool sim_world::propose_once() {
    for (auto& n : _nodes) {
        if (!n.up || !n.machine->is_leader()) continue;
        auto index = n.machine->propose();
        if (!index) continue;
        uint64_t id = _next_id++;
        sim_entry e{*index, n.machine->term(), id};
        n.changed_from = std::min(n.changed_from, e.index);
        n.log.append(e);
        n.pending.push_back({node::pending_op::kind::append, e});
        _open.push_back(_proposals.size());
        _proposals.push_back({id, n.number, n.incarnation, e.term, e.index, false});
        drive(n);
        return true;
    }
    return false;
}

void sim_world::maybe_propose() {
    // After heal() only the liveness phase proposes, so the logs can settle.
    if (_lossy && chance(_p.propose_per_ms)) propose_once();
}

void sim_world::settle_acks() {
    // A proposal is acknowledged (acks=all) when the replica it went to still leads the term
    // and reports it committed.
    // One that can no longer be (its leader crashed or left the term) is never acknowledged:
    // its client saw an error or a timeout, and the entry may or may not be committed.
    std::erase_if(_open, [&](size_t i) {
        auto& pr = _proposals[i];
        const auto& n = _nodes[static_cast<size_t>(pr.node)];
        if (!n.up || n.incarnation != pr.incarnation || !n.machine->is_leader() ||
            n.machine->term() != pr.term) {
            return true;
        }
        auto visible = n.machine->leader_commit();
        if (visible && *visible >= pr.index) pr.acked = true;
        return pr.acked;
    });
}

void sim_world::step(bool faults) {
    ++_now;
    // First, so that compaction stays within commit indexes the checker has already seen.
    maybe_compact();
    if (faults) maybe_fault();
    deliver_due();
    sync_disks();
    for (auto& n : _nodes) {
        if (n.up && (_now + n.tick_phase) % _p.tick_ms == 0) {
            n.machine->tick();
            drive(n);
        }
    }
    maybe_propose();
    maybe_change_membership();
    settle_acks();
}

void sim_world::heal() {
    _lossy = false;
    for (auto& row : _cut) std::fill(row.begin(), row.end(), false);
    for (auto& n : _nodes) {
        if (!n.up) {
            n.up = true;
            start_machine(n);
        }
    }
}

}  // namespace wharf::sim
