// raft_machine: votes and pre-votes (Raft paper section 5.2 and 5.4.1; thesis 3.4, 4.2.3, 9.6).

#include <algorithm>

#include "raft/machine.h"

namespace wharf {

bool raft_machine::log_up_to_date(raft_index last_index, term_id last_term) const noexcept {
    if (_cfg.bug == planted_bug::vote_ignores_log) return true;
    // Section 5.4.1: the later last term wins; with equal terms, the longer log.
    if (last_term != _log.last_term()) return last_term > _log.last_term();
    return last_index >= _log.last_index();
}

void raft_machine::handle_vote_request(node_id from, const vote_request& r) {
    // REQUIRES (step): r.term >= the current term.
    bool up_to_date = log_up_to_date(r.last_index, r.last_term);
    if (r.pre_vote) {
        // A pre-vote is granted for a later term to a log at least as current, unless this
        // replica still hears from a leader. Nothing is recorded: no term, no vote.
        bool grant = r.term > _vote.term && up_to_date && !in_lease();
        send(from, vote_reply{grant ? r.term : _vote.term, grant, true});
        return;
    }
    if (r.term > _vote.term) {
        // Thesis 4.2.3: a replica that hears from a live leader ignores the request outright
        // (no term change, no answer), unless the leader itself handed leadership over.
        if (in_lease() && !r.leadership_transfer) return;
        become_follower(r.term, std::nullopt);
    }
    // One vote per term (section 5.2), repeated for the same candidate (replies get lost).
    bool can_vote = _vote.voted_for == from || (!_vote.voted_for && !_leader);
    bool grant = can_vote && up_to_date;
    if (grant) {
        if (_vote.voted_for != from) set_vote({_vote.term, from});
        // Granting restarts the timer, so the voter does not start a competing election.
        reset_election_timer();
    }
    send(from, vote_reply{_vote.term, grant, false});
}

void raft_machine::handle_vote_reply(node_id from, const vote_reply& r) {
    if (r.pre_vote) {
        if (_role != raft_role::pre_candidate || r.term != _vote.term + 1) {
            // A refusal naming a later term already made this replica a follower (step);
            // anything else is a late answer to an earlier round.
            if (_role == raft_role::pre_candidate && !r.granted && r.term <= _vote.term) {
                count_vote(from, false);
            }
            return;
        }
        count_vote(from, r.granted);
        return;
    }
    if (_role != raft_role::candidate || r.term != _vote.term) return;
    count_vote(from, r.granted);
}

void raft_machine::count_vote(node_id from, bool granted) {
    // Only the voters of the membership in force elect (a replica removed or not yet promoted
    // may answer, and is not counted).
    if (!config().is_voter(from)) return;
    for (const auto& [who, g] : _votes) {
        if (who == from) return;  // duplicates count once
    }
    _votes.emplace_back(from, granted);
    size_t yes = std::count_if(_votes.begin(), _votes.end(), [](const auto& v) {
        return v.second;
    });
    size_t no = _votes.size() - yes;
    if (yes >= quorum()) {
        if (_role == raft_role::pre_candidate) {
            become_candidate(false);
        } else if (_role == raft_role::candidate) {
            become_leader();
        }
    } else if (no >= quorum()) {
        // Lost: wait for the next timeout as a follower of no one.
        become_follower(_vote.term, std::nullopt);
    }
}

}  // namespace wharf
