#include "raft/consensus.h"

#include <algorithm>
#include <limits>

#include "log/errc.h"
#include "raft/errc.h"
#include "raft/message_codec.h"
#include "reactor/clock.h"
#include "reactor/logger.h"
#include "reactor/reactor.h"
#include "reactor/spawn.h"
#include "reactor/timer.h"

namespace wharf {

namespace {

// How long a replica whose disk filled stays out of elections (machine.h, hold_candidacy), in
// election timeouts; renewed by every write that fails so. About 5 s with the default timeouts.
constexpr int disk_full_hold_elections = 10;

// raft's view of the log's terms, read once at start: the runs found by binary search over the
// log's own term_at (terms never decrease along the log, and change only at elections).
term_index load_terms(const shard_log& log) {
    raft_index snapshot = log.first_index() - 1;
    term_id snapshot_term = snapshot.value() > 0 ? log.term_at(snapshot).value_or(term_id(0))
                                                 : term_id(0);
    term_index terms(snapshot, snapshot_term);
    raft_index last = log.last_index();
    raft_index first = snapshot + 1;
    while (first <= last) {
        term_id t = *log.term_at(first);
        // The last index of term t: the first index past it with a later term, minus one.
        int64_t lo = first.value(), hi = last.value();
        while (lo < hi) {
            int64_t mid = lo + (hi - lo + 1) / 2;
            if (*log.term_at(raft_index(mid)) == t) {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        terms.append_run(first, raft_index(lo), t);
        first = raft_index(lo + 1);
    }
    return terms;
}

}  // namespace

consensus::consensus(group_config cfg, shard_log& log, raft_transport* transport)
    : _cfg(std::move(cfg)), _log(log), _dir(log.directory()), _transport(transport) {}

consensus::~consensus() {
    WHARF_ASSERT(_waiters.empty(), "consensus destroyed with {} appends waiting", _waiters.size());
    _log.set_observer(nullptr);
}

task<result<std::unique_ptr<consensus>>> consensus::start(group_config cfg, shard_log& log,
                                                          raft_transport* transport) {
    WHARF_ASSERT(cfg.voters.size() == 1 || transport,
                 "a raft group of {} voters needs a transport", cfg.voters.size());
    auto state = co_await load_vote_state(log.directory());
    if (!state) co_return state.error();
    auto members = co_await load_config_state(log.directory());
    if (!members) {
        shard_logger().error("raft: reading the membership in {} failed: {}", log.directory(),
                             members.error().message());
        co_return members.error();
    }
    term_index terms = load_terms(log);
    std::vector<config_entry> history =
        members->at_start(terms.snapshot_index(), *terms.term_at(terms.snapshot_index()));
    // Terms double as Kafka leader epochs (int32); leave room for the election to come.
    if (std::max(state->term, terms.last_term()).value() >=
        std::numeric_limits<int32_t>::max() - 1) {
        co_return raft_errc::term_overflow;
    }
    machine_config mc;
    mc.self = cfg.self;
    mc.voters = cfg.voters;
    mc.learners = cfg.learners;
    mc.election_timeout_ticks = cfg.election_timeout_ticks;
    mc.heartbeat_ticks = cfg.heartbeat_ticks;
    mc.preferred_leader = cfg.preferred_leader;
    // Protocol-aware recovery: a log cut at corrupt acknowledged data keeps this replica from
    // voting until its leader has repaired it (machine.h, "Repair after corruption").
    if (log.repairing()) {
        if (!transport) {
            shard_logger().error("raft: log {} was cut at corrupt data to be repaired from the "
                                 "other replicas, but the group has no other voter",
                                 log.directory());
            co_return log_errc::corrupt_segment;
        }
        shard_logger().warn("raft: log {} awaits repair from the leader: this replica neither "
                            "votes nor stands for election until then", log.directory());
        mc.repairing = true;
    }
    // Entries go out from memory before they are durable (recent_entries_bytes); the leader's
    // own copy counts for commit once durable, like a follower's.
    mc.send_only_durable = false;
    mc.seed = cfg.seed != 0 ? cfg.seed
                            : static_cast<uint64_t>(steady_now().time_since_epoch().count()) ^
                                  (static_cast<uint64_t>(cfg.self.value()) << 48);
    std::unique_ptr<consensus> c(new consensus(std::move(cfg), log, transport));
    c->_config_state.history = history;
    c->_machine = std::make_unique<raft_machine>(
        mc, machine_start_state{*state, terms, std::move(history)});
    c->_recovered_index = log.last_index();
    log.set_observer(c.get());
    if (c->_transport) {
        spawn(c->clock(c->_gate.hold()), "raft clock");
        co_return c;
    }
    // A group of one elects itself and serves once its term's no-op has committed.
    c->_machine->campaign();
    c->pump();
    while (!c->_machine->leader_commit() && !c->_failed) co_await c->_committed.wait();
    if (c->_failed) {
        auto why = *c->_failed;
        co_await c->stop();
        co_return why.error();
    }
    shard_logger().info("raft group of one: leader in term {} (log {}..{}, commit index {})",
                        c->term(), log.first_index(), log.last_index(), c->commit_index());
    co_return c;
}

// ---- the log's notices (log_observer.h) ----

void consensus::on_assigned(const assigned_entry& e) {
    const term_index& known = _machine->log();
    if (e.index <= known.last_index()) {
        // An entry the machine handed out (a follower's entry or the leader's no-op).
        WHARF_ASSERT(known.term_at(e.index) == e.term,
                     "log entry {} of term {} is not raft's (term {})", e.index, e.term,
                     known.term_at(e.index).value_or(term_id(-1)));
    } else {
        // An append by the leader's side of the broker (produce, retention, DeleteRecords):
        // raft takes it as a proposal of the current term.
        // Appenders go through ready_to_append() first; one that raced a change of leadership
        // anyway has put an entry into the log that raft does not know. The replica stops
        // rather than diverge (the entry is uncommitted; a restart lets the leader replace it).
        auto proposed = e.index == known.last_index() + 1 && e.term == _machine->term()
                            ? _machine->propose()
                            : result<raft_index>(raft_errc::not_leader);
        if (!proposed || *proposed != e.index) {
            shard_logger().error("log appended entry {} of term {} outside raft (leader: {}, "
                                 "term {}, raft's last index {})",
                                 e.index, e.term, _machine->is_leader(), _machine->term(),
                                 known.last_index());
            fail(raft_errc::not_leader);
            return;
        }
        ++_stats.entries_replicated;
    }
    keep_recent(e);
    if (e.end_offset) {
        if (!_committed_end.contains(e.partition) && !_recovered_end.contains(e.partition)) {
            // The first batch of the partition since start: what was there before it is the
            // recovered log, committed once the recovered index is.
            auto end = _log.end_offset(e.partition);
            _recovered_end[e.partition] = end ? *end : kafka_offset(0);
        }
        _uncommitted.push_back({e.index, e.partition, *e.end_offset});
        // A follower learns a commit index with the entries it covers and appends them after
        // (a late replica takes a whole committed log in one message): no later commit may
        // come to move the high watermark over them.
        if (e.index <= _machine->commit_index()) advance_high_watermarks();
    }
    // Not pumped here, inside the log's append: later in this turn, once for all the turn's
    // appends, so the entries go to the followers while the leader's own write runs.
    if (_transport && !_pump_soon && _machine->has_ready()) {
        if (auto holder = _gate.hold()) {
            _pump_soon = true;
            spawn(pump_soon(std::move(holder)), "raft pump");
        }
    }
}

task<void> consensus::pump_soon(gate::holder hold) {
    (void)hold;
    co_await reactor::local().yield();
    _pump_soon = false;
    pump();
}

void consensus::on_durable(raft_index index, term_id term) {
    _machine->on_durable(index, term);
    if (_durable.waiters() > 0) _durable.notify_all();
    pump();
}

void consensus::on_rolled_back(raft_index last_kept, std::error_code why) {
    // A failed write: the log dropped what it had not made durable. The machine forgets it too
    // and, if it led, steps down: entries of its term may already be on followers, so the same
    // indexes must never be reused in this term.
    _machine->on_local_write_failed(last_kept);
    forget_recent_after(last_kept);
    while (!_uncommitted.empty() && _uncommitted.back().index > last_kept) _uncommitted.pop_back();
    if (why != log_errc::disk_full) {
        // The log refuses every write until it is reopened: this replica can neither append
        // nor vote soundly, so it stops taking part (DESIGN.md section 4) and the others elect
        // a leader among themselves.
        fail(why);
        return;
    }
    if (!_transport) {
        if (!_stopping && !_failed) _machine->campaign();
    } else {
        // The disk is full: let a replica that can write lead (machine.h, hold_candidacy).
        _machine->hold_candidacy(disk_full_hold_elections * _cfg.election_timeout_ticks);
    }
    pump();
}

// ---- acting on the machine's outputs ----

void consensus::pump() {
    while (_machine->has_ready()) {
        raft_ready r = _machine->take_ready();
        if (!r.empty()) _readies.push_back(std::move(r));
    }
    if (!_readies.empty() && !_acting && !_failed) {
        if (auto holder = _gate.hold()) {
            _acting = true;
            spawn(act_on_readies(std::move(holder)), "raft readies");
        }
    }
    if (_machine->is_leader() && _machine->term() != _led_term) {
        _led_term = _machine->term();
        ++_stats.elections_won;
    }
    if (_machine->commit_index() > _last_commit) {
        _last_commit = _machine->commit_index();
        ++_stats.commit_advances;
        advance_high_watermarks();
        _committed.notify_all();
    }
    // Appenders waiting for the log to catch up re-check (they also leave when leadership
    // goes).
    if (_caught_up.waiters() > 0) _caught_up.notify_all();
    settle_waiters();
}

task<void> consensus::act_on_readies(gate::holder hold) {
    (void)hold;
    while (!_readies.empty() && !_failed) {
        raft_ready r = std::move(_readies.front());
        _readies.pop_front();
        if (auto s = co_await act(std::move(r)); !s) fail(s);
    }
    _acting = false;
}

task<status> consensus::act(raft_ready r) {
    // Raft: currentTerm and votedFor are durable before the replica acts in the term.
    if (r.vote) {
        ++_stats.vote_writes;
        if (auto s = co_await save_vote_state(_dir, *r.vote); !s) co_return s;
    }
    if (r.snapshot) {
        if (auto s = co_await install(std::move(*r.snapshot)); !s) co_return s;
    }
    if (r.truncate_after) {
        forget_recent_after(*r.truncate_after);
        if (auto s = co_await _log.truncate_suffix(*r.truncate_after); !s) co_return s;
        while (!_uncommitted.empty() && _uncommitted.back().index > *r.truncate_after) {
            _uncommitted.pop_back();
        }
    }
    // The membership history is durable before the entries it names are appended, and after
    // the truncation that removed any it no longer names (config_state.h).
    if (r.configs) {
        _config_state.history = std::move(*r.configs);
        _config_state.installing.reset();
        if (auto s = co_await save_members(); !s) co_return s;
    }
    for (auto& e : r.entries) {
        // An entry a failed write has since cut from raft's view is not appended.
        if (_machine->log().term_at(e.index) != e.term || e.index != _log.next_index()) continue;
        // Each append is queued in the log before spawn returns, so they keep their order.
        if (auto holder = _gate.hold()) {
            spawn(append_machine_entry(std::move(e), std::move(holder)), "raft append");
        }
    }
    if (_log.next_index() - 1 == _machine->log().last_index()) _caught_up.notify_all();
    for (auto& m : r.messages) {
        ++_stats.messages_sent;
        m.group = _cfg.group;
        _transport->send(std::move(m));
    }
    for (const auto& plan : r.appends) {
        if (auto holder = _gate.hold()) spawn(send_append(plan, std::move(holder)), "raft send");
    }
    for (const auto& plan : r.snapshots) {
        if (auto holder = _gate.hold()) {
            spawn(send_snapshot(plan, std::move(holder)), "raft snapshot");
        }
    }
    // The machine judged the log repaired on durable entries only: the marker can go.
    if (r.repaired) {
        if (auto s = co_await _log.end_repair(); !s) co_return s;
    }
    co_return status{};
}

task<void> consensus::append_machine_entry(raft_entry e, gate::holder hold) {
    (void)hold;
    raft_index expected = e.index;
    auto r = co_await _log.append_entry(e.type, e.partition, e.term, std::move(e.payload));
    if (r) {
        WHARF_ASSERT(*r == expected, "raft entry {} was appended at {}", expected, *r);
        co_return;
    }
    // A failed write was rolled back (on_rolled_back). An entry the log refuses outright
    // (a partition this replica does not have) would leave raft and the log disagreeing about
    // every later index: this replica stops taking part rather than diverge.
    if (_log.next_index() - 1 < expected && _machine->log().last_index() >= expected) {
        shard_logger().error("raft: the log refused entry {} of term {}: {}; this replica "
                             "stops taking part in its group",
                             expected, e.term, r.error().message());
        fail(r.error());
    }
}

void consensus::keep_recent(const assigned_entry& e) {
    if (!_machine->is_leader() || !_transport || e.payload == nullptr) {
        // Only a leader of several sends entries.
        _recent.clear();
        _recent_bytes = 0;
        return;
    }
    if (!_recent.empty() && _recent.back().index + 1 != e.index) {
        _recent.clear();
        _recent_bytes = 0;
    }
    _recent.push_back(
        raft_entry{e.index, e.term, e.type, e.partition, e.payload->share(0, e.payload->size())});
    _recent_bytes += e.payload->size();
    // Within the byte bound, and nothing retention has removed from the log.
    while (_recent.size() > 1 && (_recent_bytes > _cfg.recent_entries_bytes ||
                                  _recent.front().index < _log.first_index())) {
        _recent_bytes -= _recent.front().payload.size();
        _recent.pop_front();
    }
}

void consensus::forget_recent_after(raft_index last_kept) {
    while (!_recent.empty() && _recent.back().index > last_kept) {
        _recent_bytes -= _recent.back().payload.size();
        _recent.pop_back();
    }
}

std::optional<std::vector<raft_entry>> consensus::recent_entries(const append_plan& plan) const {
    if (_recent.empty() || plan.from < _recent.front().index || plan.from > _recent.back().index) {
        return std::nullopt;
    }
    // Entries retention removed from the log are not sent even while memory still has them: a
    // follower that needs them gets the snapshot, which is much smaller than the dead batches.
    if (plan.from < _log.first_index()) return std::nullopt;
    std::vector<raft_entry> out;
    uint64_t bytes = 0;
    auto first = static_cast<size_t>(plan.from - _recent.front().index);
    for (size_t i = first; i < _recent.size(); ++i) {
        const raft_entry& e = _recent[i];
        if (out.size() == max_entries_per_message) break;
        if (!out.empty() && bytes + e.payload.size() > plan.max_bytes) break;
        out.push_back(e.share());
        bytes += e.payload.size();
    }
    return out;
}

task<void> consensus::send_append(append_plan plan, gate::holder hold) {
    (void)hold;
    if (auto from_memory = recent_entries(plan)) {
        uint64_t bytes = 0;
        for (const auto& e : *from_memory) bytes += e.payload.size();
        raft_index last = from_memory->back().index;
        if (!_stopping) {
            ++_stats.messages_sent;
            append_request req{plan.term, plan.prev_index, plan.prev_term, plan.leader_commit,
                               std::move(*from_memory)};
            _transport->send(raft_message{_cfg.self, plan.to, std::move(req), _cfg.group});
        }
        _machine->on_append_sent(plan, last, bytes);
        pump();
        co_return;
    }
    auto entries = co_await _log.read_entries(plan.from, plan.max_bytes);
    if (!entries) {
        // Below the log's first index retention removed the entries: the follower gets a
        // snapshot instead.
        bool behind = entries.error() == log_errc::out_of_range && plan.from < _log.first_index();
        if (!behind) {
            shard_logger().warn("raft: cannot send entries from {} to node {}: {}", plan.from,
                                plan.to, entries.error().message());
        }
        _machine->on_append_unsendable(plan, behind);
        pump();
        co_return;
    }
    append_request req{plan.term, plan.prev_index, plan.prev_term, plan.leader_commit, {}};
    uint64_t bytes = 0;
    req.entries.reserve(entries->size());
    for (auto& se : *entries) {
        // The codec's bound on entries per message (tiny control entries could pass it).
        if (req.entries.size() == max_entries_per_message) break;
        bytes += se.payload.size();
        req.entries.push_back(
            raft_entry{se.index, se.term, se.type, se.partition, std::move(se.payload)});
    }
    raft_index last = req.entries.empty() ? plan.from - 1 : req.entries.back().index;
    // A plan that found nothing durable to send is not worth a request (heartbeats carry the
    // commit index and liveness).
    if (!_stopping && !req.entries.empty()) {
        ++_stats.messages_sent;
        _transport->send(raft_message{_cfg.self, plan.to, std::move(req), _cfg.group});
    }
    _machine->on_append_sent(plan, last, bytes);
    pump();
}

task<void> consensus::clock(gate::holder hold) {
    (void)hold;
    while (!_stopping) {
        bool slept = co_await sleep_for(_cfg.tick);
        if (!slept || _stopping || _failed) break;
        _machine->tick();
        pump();
    }
}

void consensus::receive(raft_message m) {
    if (_stopping || _failed) return;
    ++_stats.messages_received;
    _machine->step(std::move(m));
    pump();
}

void consensus::fail(status why) {
    if (_failed) return;
    shard_logger().error("raft group stops: {}", why.error().message());
    _failed = why;
    settle_waiters();
    _committed.notify_all();
    _durable.notify_all();
}

// ---- commit and high watermarks ----

void consensus::advance_high_watermarks() {
    raft_index commit = _machine->commit_index();
    while (!_uncommitted.empty() && _uncommitted.front().index <= commit) {
        const auto& b = _uncommitted.front();
        _committed_end[b.partition] = b.end;
        _uncommitted.pop_front();
    }
}

result<kafka_offset> consensus::high_watermark(partition_id p) const {
    if (auto it = _committed_end.find(p); it != _committed_end.end()) return it->second;
    // Nothing of p committed since start: what the log recovered counts once the recovered
    // index is committed (a leader shows nothing before its own no-op has committed, which is
    // past it).
    if (_machine->commit_index() < _recovered_index) return _log.start_offset(p);
    if (auto it = _recovered_end.find(p); it != _recovered_end.end()) return it->second;
    return _log.end_offset(p);
}

bool consensus::settle(commit_waiter& w) {
    if (_machine->commit_index() >= w.index) {
        // Committed, unless a later leader replaced the entry before it committed.
        bool ours = _machine->log().term_at(w.index) == w.term;
        w.outcome = ours ? status{} : status(raft_errc::not_leader);
    } else if (_failed) {
        w.outcome = *_failed;
    } else if (_stopping) {
        w.outcome = status(raft_errc::shutting_down);
    } else if (_machine->term() != w.term || !_machine->is_leader()) {
        // Leadership moved on: the entry may still commit under the next leader, but this
        // replica can no longer say; the client retries (idempotent producers dedupe).
        w.outcome = status(raft_errc::not_leader);
    } else {
        return false;
    }
    // A waiter settled while it registers (await_ready) has not suspended yet.
    if (w.handle) reactor::local().schedule(w.handle);
    return true;
}

void consensus::settle_waiters() {
    // Waiters are ordered by index: while this replica leads in the term they were made in,
    // only a committed prefix settles, so a pump costs what it settles, not what waits (a
    // leader of many partitions has thousands of appends waiting). Anything else (a new term,
    // lost leadership, failure, stop) looks at every waiter once.
    const bool everything = _failed || _stopping || !_machine->is_leader() ||
                            _machine->term() != _waiters_term;
    if (everything) {
        std::erase_if(_waiters, [&](const auto& entry) { return settle(*entry.second); });
        _waiters_term = _machine->term();
        return;
    }
    const raft_index commit = _machine->commit_index();
    while (!_waiters.empty() && _waiters.begin()->first <= commit) {
        settle(*_waiters.begin()->second);
        _waiters.erase(_waiters.begin());
    }
}

task<status> consensus::wait_committed(raft_index index, term_id term) {
    commit_waiter w{index, term, {}, std::nullopt};
    struct awaiter {
        consensus& c;
        commit_waiter& w;
        bool await_ready() {
            if (c.settle(w)) return true;
            c._waiters.emplace(w.index, &w);
            return false;
        }
        void await_suspend(std::coroutine_handle<> h) noexcept { w.handle = h; }
        void await_resume() const noexcept {}
    };
    co_await awaiter{*this, w};
    co_return *w.outcome;
}

// ---- the leader's appends ----

status consensus::check_can_append() const {
    if (_stopping) return raft_errc::shutting_down;
    if (_failed) return *_failed;
    if (!_machine->is_leader() || _machine->transferring_to()) return raft_errc::not_leader;
    return {};
}

void consensus::peer_unreachable(node_id node) {
    if (_stopping) return;
    _machine->peer_unreachable(node);
}

status consensus::transfer_leadership(node_id target) {
    if (_stopping) return raft_errc::shutting_down;
    auto s = _machine->transfer_leadership(target);
    pump();
    return s;
}

task<status> consensus::await_caught_up() {
    // The log must hold every entry the machine has handed out (the no-op of a new term waits
    // for the term's vote to be durable) before the leader appends, so both count the same.
    while (_log.next_index() - 1 != _machine->log().last_index()) {
        if (auto s = check_can_append(); !s) co_return s;
        co_await _caught_up.wait();
    }
    co_return check_can_append();
}

task<result<append_result>> consensus::replicate_batch(partition_id p, iobuf batch,
                                                       await_until until) {
    if (auto s = check_can_append(); !s) co_return s.error();
    auto holder = _gate.hold();
    if (!holder) co_return raft_errc::shutting_down;
    if (auto s = co_await await_caught_up(); !s) co_return s.error();
    term_id term = _machine->term();
    auto r = co_await _log.append_batch(p, term, std::move(batch), leader_epoch());
    if (!r) {
        // Refused by validation: never appended. Failed in its write: it had its index and may
        // already be on followers (entries leave before the leader's own write ends), where a
        // new leader may commit it.
        bool written = r.error() == log_errc::disk_full || r.error() == log_errc::io_error;
        co_return written ? std::error_code(raft_errc::outcome_unknown) : r.error();
    }
    if (until == await_until::locally_durable) co_return *r;
    if (auto s = co_await wait_committed(r->index, term); !s) {
        // In the log, perhaps on a majority already: a later leader may still commit it.
        co_return raft_errc::outcome_unknown;
    }
    co_return *r;
}

task<status> consensus::committed(raft_index index, term_id term) {
    auto holder = _gate.hold();
    if (!holder) co_return raft_errc::shutting_down;
    co_return co_await wait_committed(index, term);
}

task<result<term_id>> consensus::ready_to_append() {
    if (auto s = check_can_append(); !s) co_return s.error();
    auto holder = _gate.hold();
    if (!holder) co_return raft_errc::shutting_down;
    if (auto s = co_await await_caught_up(); !s) co_return s.error();
    co_return _machine->term();
}

task<result<term_id>> consensus::ready_to_read_everything() {
    auto ready = co_await ready_to_append();
    if (!ready) co_return ready.error();
    auto holder = _gate.hold();
    if (!holder) co_return raft_errc::shutting_down;
    // Reads see durable entries only: wait for the last one raft has handed out (the no-op of
    // this term at least) to be durable here.
    const raft_index last = _machine->log().last_index();
    while (_log.last_index() < last) {
        if (auto s = check_can_append(); !s) co_return s.error();
        if (_machine->term() != *ready) co_return raft_errc::not_leader;
        co_await _durable.wait();
    }
    if (auto s = check_can_append(); !s) co_return s.error();
    if (_machine->term() != *ready) co_return raft_errc::not_leader;
    co_return *ready;
}

task<result<raft_index>> consensus::replicate_entry(entry_type type, partition_id p,
                                                    iobuf payload) {
    if (auto s = check_can_append(); !s) co_return s.error();
    auto holder = _gate.hold();
    if (!holder) co_return raft_errc::shutting_down;
    if (auto s = co_await await_caught_up(); !s) co_return s.error();
    term_id term = _machine->term();
    auto r = co_await _log.append_entry(type, p, term, std::move(payload));
    if (!r) co_return r.error();
    if (auto s = co_await wait_committed(*r, term); !s) co_return s.error();
    co_return *r;
}

task<void> consensus::stop() {
    _stopping = true;
    settle_waiters();
    _caught_up.notify_all();
    _committed.notify_all();
    _durable.notify_all();
    co_await _gate.close();
}

}  // namespace wharf
