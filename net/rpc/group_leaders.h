#pragma once

// group_leaders: which raft groups a broker leads, told to the brokers outside those groups
// (frame_type::group_leaders on the connection of the groups' shard). A group of a fixed replica
// set spans only some brokers (DESIGN.md section 5), yet every broker answers Metadata for every
// partition: the others learn its leader from these notices, which the leader repeats while it
// leads. Soft state: a receiver keeps the highest term it heard for each group and forgets a
// notice that is not repeated (core/cluster/remote_leaders.h).
//
// Layout (little-endian):
//   offset size field
//        0    2 version        1
//        2    4 count          then count entries of 14 bytes:
//                              u16 group (> 0), i64 term (>= 0), i32 leader (>= 0)
// A payload whose size is not exactly that of its entries is refused.

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "reactor/base/ids.h"
#include "reactor/base/result.h"
#include "reactor/iobuf.h"

namespace wharf::rpc {

inline constexpr uint16_t group_leaders_version = 1;

struct group_leadership {
    raft_group_id group{0};
    term_id term{0};
    node_id leader{0};
    bool operator==(const group_leadership&) const = default;
};

// REQUIRES: every entry's group > 0, term >= 0, leader >= 0.
std::vector<std::byte> encode_group_leaders(std::span<const group_leadership> leaders);
// Errors: rpc_errc::malformed_group_leaders for anything but one well-formed version-1 list.
result<std::vector<group_leadership>> decode_group_leaders(const iobuf& payload);

}  // namespace wharf::rpc
