#pragma once

// group_leaders: which raft groups a broker leads, and their members, told to the brokers outside
// those groups (frame_type::group_members, or group_leaders from brokers before version 2, on the
// connection of the groups' shard). A group of a fixed replica set spans only some brokers
// (DESIGN.md section 5), yet every broker answers Metadata for every partition and every group 0
// leader must know where a decommissioned broker still holds a replica: the others learn a
// group's leader and membership from these notices, which the leader repeats while it leads.
// Soft state: a receiver keeps the highest term it heard for each group and forgets a notice that
// is not repeated (core/cluster/group_leaders.h).
//
// Layout (little-endian):
//   offset size field
//        0    2 version        1 or 2
//        2    4 count          then count entries:
//                              u16 group (> 0), i64 term (>= 0), i32 leader (>= 0), and in
//                              version 2: u16 member count, then that many distinct i32 node
//                              ids (>= 0): the group's voters and learners, the leader among them
// A payload whose size is not exactly that of its entries is refused. Version 1 (14-byte entries,
// no members) is what brokers before version 2 send, as frame_type::group_leaders; they drop a
// frame_type::group_members frame (an unknown type) instead of refusing its version.

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "reactor/base/ids.h"
#include "reactor/base/result.h"
#include "reactor/iobuf.h"

namespace wharf::rpc {

inline constexpr uint16_t group_leaders_version = 2;

struct group_leadership {
    raft_group_id group{0};
    term_id term{0};
    node_id leader{0};
    // The group's voters and learners, ascending (empty from a version-1 notice: unknown).
    std::vector<node_id> members;
    bool operator==(const group_leadership&) const = default;
};

// REQUIRES: every entry's group > 0, term >= 0, leader >= 0; version 1 or 2; in version 2,
// members distinct, >= 0, at most 0xffff of them, and the leader among them.
std::vector<std::byte> encode_group_leaders(std::span<const group_leadership> leaders,
                                            uint16_t version = group_leaders_version);
// Errors: rpc_errc::malformed_group_leaders for anything but one well-formed list of version 1
// or 2. *version (when given) says which.
result<std::vector<group_leadership>> decode_group_leaders(const iobuf& payload,
                                                           uint16_t* version = nullptr);

}  // namespace wharf::rpc
