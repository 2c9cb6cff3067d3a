#include "raft/errc.h"

#include <string>

namespace wharf {

namespace {

class raft_category_impl final : public std::error_category {
public:
    const char* name() const noexcept override { return "raft"; }
    std::string message(int ev) const override {
        switch (static_cast<raft_errc>(ev)) {
            case raft_errc::not_leader:
                return "this replica is not the leader of the group";
            case raft_errc::shutting_down:
                return "the raft group is shutting down";
            case raft_errc::corrupt_vote_state:
                return "the persisted term and vote are corrupt";
            case raft_errc::term_overflow:
                return "the term no longer fits a Kafka leader epoch";
            case raft_errc::malformed_message:
                return "malformed raft message";
            case raft_errc::unsupported_message_version:
                return "raft message of an unsupported codec version";
            case raft_errc::not_a_voter:
                return "the named replica is not a voter of the group";
            case raft_errc::outcome_unknown:
                return "the append may or may not commit (leadership moved or the write failed "
                       "after it reached the log)";
            case raft_errc::invalid_configuration:
                return "invalid raft group membership (or more than one voter changed at once)";
            case raft_errc::configuration_change_pending:
                return "a membership change must wait for the previous one (or for the leader's "
                       "first entry) to commit";
            case raft_errc::corrupt_config_state:
                return "the persisted raft membership is corrupt";
        }
        return "unknown raft error";
    }
};

}  // namespace

const std::error_category& raft_category() noexcept {
    static const raft_category_impl instance;
    return instance;
}

}  // namespace wharf
