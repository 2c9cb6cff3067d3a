#include "core/cluster/group_leaders.h"

namespace wharf {

void remote_leaders::note(node_id from, const std::vector<rpc::group_leadership>& leaders,
                          std::chrono::steady_clock::time_point now) {
    for (const auto& l : leaders) {
        if (l.leader != from) continue;
        remote_leader heard{l.term, l.leader, now, l.members};
        auto [it, fresh] = _leaders.try_emplace(l.group, heard);
        if (fresh) continue;
        remote_leader& kept = it->second;
        bool expired = now - kept.heard > group_leader_notice_lifetime;
        if (l.term > kept.term || (l.term == kept.term && l.leader == kept.leader) || expired) {
            kept = std::move(heard);
        }
    }
}

std::optional<remote_leader> remote_leaders::find(raft_group_id group,
                                                  std::chrono::steady_clock::time_point now) const {
    auto it = _leaders.find(group);
    if (it == _leaders.end() || now - it->second.heard > group_leader_notice_lifetime) {
        return std::nullopt;
    }
    return it->second;
}

}  // namespace wharf
