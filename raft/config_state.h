#pragma once

// The membership a replica keeps between starts (raft_machine's driver contract, step 5): the
// history of configurations last handed out in raft_ready::configs, in
// <shard dir>/raft_config, written with write_file_durably like the vote (vote_state.h).
//
// When to write it, so that a start never misses a configuration its log holds (a start drops
// history entries the log lacks, raft_machine's constructor, but cannot find entries the file
// lacks): after a ready's truncation and before its entries are appended. A snapshot install
// replaces the whole log and the history with it, so it is bracketed: first the file records
// the install it is about to make (`installing`: the snapshot point and the history after it),
// then the log installs it (atomic through the log's marker file), then the file is rewritten
// without the bracket. A start resolves a bracket by the log: if the log's snapshot point is
// the one named, the install happened and the history after it counts; otherwise the history
// before it does, and the old log is as it was.
//
// File format, little-endian: magic "WCFG", u32 version (1), a history, u8 installing (0 or 1)
// and, when 1, i64 index, i64 term and a history; then xxh3-64 of every byte before it. A
// history: u32 count, then per entry i64 index, i64 term, u32 bytes and that many bytes of
// membership (membership.h). A file that fails its checksum or does not parse is
// corrupt_config_state: never replaced by a guess, since a wrong membership can elect two
// leaders.

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "raft/membership.h"
#include "reactor/base/ids.h"
#include "reactor/base/result.h"
#include "reactor/task.h"

namespace wharf {

inline constexpr const char* config_file_name = "raft_config";

struct config_state {
    std::vector<config_entry> history;
    struct install {
        raft_index index{0};
        term_id term{0};
        std::vector<config_entry> history;
        bool operator==(const install&) const = default;
    };
    std::optional<install> installing;

    // The history to start from with a log whose snapshot point is (index, term).
    const std::vector<config_entry>& at_start(raft_index snapshot_index,
                                              term_id snapshot_term) const noexcept;
    bool operator==(const config_state&) const = default;
};

// Reads <dir>/raft_config; a missing file is an empty history (the initial membership).
task<result<config_state>> load_config_state(std::string dir);
// Makes <dir>/raft_config hold `state`, durably, before returning. `state` is read before the
// first suspension only.
task<status> save_config_state(std::string dir, const config_state& state);

// The file's bytes, and back (exposed for tests). Errors: corrupt_config_state.
std::vector<std::byte> encode_config_state(const config_state& s);
result<config_state> decode_config_state(std::span<const std::byte> bytes);

}  // namespace wharf
