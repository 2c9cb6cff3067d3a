#pragma once

// Group membership (thesis chapter 4, single-server changes): who votes in a raft group and who
// only follows it.
//
// A configuration is carried by a log entry of type raft_configuration, whose payload is
// encode_config(config). Every replica uses the latest configuration in its log, committed or
// not, from the moment the entry is appended (thesis 4.1); a truncation that removes the entry
// takes the replica back to the configuration before it. Changes go one voter at a time: two
// configurations that differ by one voter have overlapping majorities, so no two leaders can be
// elected in one term across the change. A leader proposes a change only once an entry of its
// own term has committed (the fix to the single-server algorithm posted to raft-dev in 2015:
// without it a change from an earlier term and one of this term could both count) and once the
// previous change has committed.
//
// Learners receive the log like voters but count for no quorum and get no vote request: a new
// replica joins as a learner, catches up, and is then promoted (one voter added), so the group
// is never waiting for a replica that still copies the whole log.
//
// Payload, little-endian:
//   u8 version (membership_format_version), u32 voter count, i32 each voter,
//   u32 learner count, i32 each learner.
// Voters are strictly ascending, not empty; learners strictly ascending; no node is both; ids
// are >= 0; at most max_group_members in all; no trailing bytes.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "reactor/base/ids.h"
#include "reactor/base/result.h"
#include "reactor/iobuf.h"

namespace wharf {

inline constexpr uint8_t membership_format_version = 1;
inline constexpr size_t max_group_members = 64;

struct raft_config {
    std::vector<node_id> voters;    // ascending
    std::vector<node_id> learners;  // ascending, disjoint from voters

    bool is_voter(node_id n) const noexcept;
    bool is_learner(node_id n) const noexcept;
    bool contains(node_id n) const noexcept { return is_voter(n) || is_learner(n); }
    // Every member but `self`, voters first.
    std::vector<node_id> others(node_id self) const;
    std::string to_string() const;
    bool operator==(const raft_config&) const = default;
};

// A configuration and the log entry that set it: index 0 and term 0 for the group's initial
// configuration, which no entry carries (every replica is started with it).
struct config_entry {
    raft_index index{0};
    term_id term{0};
    raft_config config;
    bool operator==(const config_entry&) const = default;
};

// invalid_configuration unless c follows the rules above.
status validate_config(const raft_config& c);
// Sorts both lists, then validates.
status normalize_config(raft_config& c);
// The size of encode_config(c).
size_t encoded_config_bytes(const raft_config& c) noexcept;

// Whether `next` may follow `current` in one change: at most one voter added or removed
// (a learner promoted counts as one added; learners may change freely).
bool is_single_voter_change(const raft_config& current, const raft_config& next) noexcept;

// REQUIRES: normalize_config(c) succeeds.
iobuf encode_config(const raft_config& c);
// Errors: invalid_configuration (malformed, or breaking a rule above).
result<raft_config> decode_config(std::span<const std::byte> bytes);
result<raft_config> decode_config(const iobuf& bytes);

}  // namespace wharf
