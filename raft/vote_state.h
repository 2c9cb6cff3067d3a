#pragma once

// The durable part of a raft replica's state that is not in the log: the current term and the
// vote cast in it (Raft paper, Figure 2, "Persistent state on all servers"). It is written with
// write_file_durably (temporary file, fdatasync, rename, directory fsync) and is on disk before
// the replica acts in the new term — before it votes, appends or answers.
//
// File format (little-endian, 32 bytes): magic "WVOT", version u32 = 1, term i64, voted_for i32
// (-1: none), reserved u32 = 0, xxh3-64 of the preceding 24 bytes.

#include <optional>
#include <string>

#include "reactor/base/ids.h"
#include "reactor/base/result.h"
#include "reactor/task.h"

namespace wharf {

struct vote_state {
    term_id term{0};
    std::optional<node_id> voted_for;

    bool operator==(const vote_state&) const = default;
};

inline constexpr const char* vote_file_name = "raft_vote";

// Reads <dir>/raft_vote; a missing file is term 0 with no vote (a new replica). A file that fails
// its checksum is corrupt_vote_state: never silently reset, since forgetting a vote can elect two
// leaders in one term.
task<result<vote_state>> load_vote_state(std::string dir);
// Makes <dir>/raft_vote hold `state`, durably, before returning.
task<status> save_vote_state(std::string dir, vote_state state);

}  // namespace wharf
