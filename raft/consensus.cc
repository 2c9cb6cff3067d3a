#include "raft/consensus.h"

#include <limits>

#include "raft/errc.h"
#include "reactor/logger.h"

namespace wharf {

consensus::consensus(group_config cfg, shard_log& log, vote_state state)
    : _cfg(std::move(cfg)), _log(log), _dir(log.directory()), _state(state) {}

consensus::~consensus() = default;

task<result<std::unique_ptr<consensus>>> consensus::start(group_config cfg, shard_log& log) {
    WHARF_ASSERT(cfg.voters.size() == 1 && cfg.voters.front() == cfg.self,
                 "multi-member raft groups are not built yet ({} voters)", cfg.voters.size());
    auto state = co_await load_vote_state(log.directory());
    if (!state) co_return state.error();
    std::unique_ptr<consensus> c(new consensus(std::move(cfg), log, *state));
    if (auto s = co_await c->become_leader(); !s) co_return s.error();
    co_return c;
}

task<status> consensus::become_leader() {
    // A new term above every term seen: the stored one and the one of the last log entry (a
    // vote file lost to a bug must not let the term go backwards relative to the log).
    int64_t seen = std::max(_state.term.value(), _log.last_term().value());
    if (seen >= std::numeric_limits<int32_t>::max()) co_return raft_errc::term_overflow;
    vote_state next{term_id(seen + 1), _cfg.self};
    // Raft: persist currentTerm and votedFor before acting in the term.
    if (auto s = co_await save_vote_state(_dir, next); !s) co_return s;
    _state = next;
    _leader = _cfg.self;
    ++_stats.elections_won;
    // The no-op of the new term; once it commits, every earlier entry is committed too.
    _term_start = _log.next_index();
    auto noop = co_await _log.append_entry(entry_type::raft_noop, partition_id(0), _state.term,
                                           iobuf{});
    if (!noop) co_return noop.error();
    WHARF_ASSERT(*noop == _term_start, "no-op got index {} instead of {}", *noop, _term_start);
    advance_commit(*noop);
    shard_logger().info("raft group of one: leader in term {} (log {}..{}, commit index {})",
                        _state.term, _log.first_index(), _log.last_index(), _commit_index);
    co_return status{};
}

status consensus::check_can_append() const {
    if (_stopping) return raft_errc::shutting_down;
    if (_leader != _cfg.self) return raft_errc::not_leader;
    return {};
}

void consensus::advance_commit(raft_index durable) {
    // With one voter the quorum is this replica: an entry is committed once it is durable here,
    // provided the current term's first entry is among them (section 5.4.2).
    if (durable < _term_start || durable <= _commit_index) return;
    _commit_index = durable;
    ++_stats.commit_advances;
}

task<result<append_result>> consensus::replicate_batch(partition_id p, iobuf batch) {
    if (auto s = check_can_append(); !s) co_return s.error();
    auto holder = _gate.hold();
    if (!holder) co_return raft_errc::shutting_down;
    auto r = co_await _log.append_batch(p, _state.term, std::move(batch), leader_epoch());
    if (!r) co_return r.error();
    ++_stats.entries_replicated;
    advance_commit(r->index);
    co_return *r;
}

task<result<raft_index>> consensus::replicate_entry(entry_type type, partition_id p,
                                                    iobuf payload) {
    if (auto s = check_can_append(); !s) co_return s.error();
    auto holder = _gate.hold();
    if (!holder) co_return raft_errc::shutting_down;
    auto r = co_await _log.append_entry(type, p, _state.term, std::move(payload));
    if (!r) co_return r.error();
    ++_stats.entries_replicated;
    advance_commit(*r);
    co_return *r;
}

result<kafka_offset> consensus::high_watermark(partition_id p) const {
    // start() returns only once the term's no-op is committed, so the leader-completeness rule
    // holds for everything the log has made durable.
    WHARF_ASSERT(_commit_index >= _term_start, "high watermark asked before the term's no-op "
                 "committed ({} < {})", _commit_index, _term_start);
    return _log.end_offset(p);
}

task<void> consensus::stop() {
    _stopping = true;
    co_await _gate.close();
}

}  // namespace wharf
