#pragma once

// Errors of the raft module (STYLE.md rule 7).

#include <system_error>

namespace wharf {

enum class raft_errc {
    not_leader = 1,        // this replica does not lead the group (now)
    shutting_down,         // the group is stopping; nothing new is accepted
    corrupt_vote_state,    // the term/vote file fails its checksum or has a bad size
    term_overflow,         // a term too large to serve as a Kafka leader epoch
    malformed_message,     // a raft message from a peer that does not decode or breaks a rule
    // A raft message in a codec version this replica does not speak.
    unsupported_message_version,
    // A leadership transfer names a replica that is not a voter of the group.
    not_a_voter,
    // An append was in the log (and may have reached other replicas) when it failed: leadership
    // moved, the local write failed or the group stopped before it committed. It may still
    // commit under the next leader, or be lost: the caller cannot tell.
    outcome_unknown,
    // A membership that breaks the rules of raft/membership.h (malformed, no voter, a node both
    // voter and learner, more than one voter changed at once).
    invalid_configuration,
    // A membership change that must wait: the previous change has not committed, or no entry
    // of the leader's own term has committed yet (raft/membership.h).
    configuration_change_pending,
    // The persisted membership history fails its checksum or does not parse (config_state.h).
    corrupt_config_state,
};

const std::error_category& raft_category() noexcept;

inline std::error_code make_error_code(raft_errc e) noexcept {
    return {static_cast<int>(e), raft_category()};
}

}  // namespace wharf

template <>
struct std::is_error_code_enum<wharf::raft_errc> : std::true_type {};
