#pragma once

// log_observer: what the shard log tells its raft group as it happens, synchronously, so that
// raft's view of its log (raft/term_index.h) never drifts from the log's:
//   - an entry took a raft index (queued, not yet durable): every append, whoever made it, so
//     that the control entries of retention and DeleteRecords are raft entries like any other;
//   - a group commit made everything up to an entry durable;
//   - a failed group commit cut the log back to its last durable entry.
// Callbacks run on the log's shard, inside the log's own code: they must not suspend, and must
// not append to or truncate the log.

#include <optional>
#include <system_error>

#include "log/entry.h"
#include "reactor/base/ids.h"
#include "reactor/iobuf.h"

namespace wharf {

struct assigned_entry {
    raft_index index{0};
    term_id term{0};
    entry_type type = entry_type::raft_noop;
    partition_id partition{0};
    // For data entries: the partition's end offset once this batch is durable.
    std::optional<kafka_offset> end_offset;
    // The entry's payload as it will be written; valid during the call only (share() it to
    // keep it: the bytes are immutable).
    const iobuf* payload = nullptr;
};

class log_observer {
public:
    virtual ~log_observer() = default;
    virtual void on_assigned(const assigned_entry& e) = 0;
    virtual void on_durable(raft_index index, term_id term) = 0;
    // `why`: disk_full (later appends may succeed) or io_error (the log refuses writes until
    // reopened).
    virtual void on_rolled_back(raft_index last_kept, std::error_code why) = 0;
};

}  // namespace wharf
