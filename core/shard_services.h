#pragma once

// shard_services: what one shard of the broker owns — its log and its raft group. Each shard
// creates its own in start_shard() on its thread and destroys it in stop_shard(); nothing in it
// is touched from another shard (other shards reach it through submit_to).

#include <memory>
#include <string>

#include "core/config/broker_config.h"
#include "log/shard_log.h"
#include "raft/consensus.h"
#include "reactor/sync.h"
#include "reactor/base/result.h"
#include "reactor/task.h"

namespace wharf {

struct shard_services {
    std::unique_ptr<shard_log> log;
    std::unique_ptr<consensus> raft;
    // The periodic retention pass (retention_loop in shard_services.cc).
    bool stopping = false;
    gate background;
    uint64_t retention_passes = 0;
};

// The calling shard's services, or null before start_shard / after stop_shard.
shard_services* local_services() noexcept;

// Opens (recovering) the calling shard's log and starts its raft group. On failure *detail
// says what failed (the file and offset of a corrupt segment, for example).
task<status> start_shard(const broker_config& cfg, std::string* detail);
// Stops the raft group (waiting for appends in flight), flushes and closes the log.
task<status> stop_shard();

// One line describing the calling shard, for the start-up layout.
std::string describe_shard();

}  // namespace wharf
