#pragma once

// coordinator: the group coordinator of one shard (DESIGN.md section 8). A group lives on the
// shard that owns the __consumer_offsets partition its id hashes to (Kafka's hash,
// offsets_partition_for); requests for it are sent there from the connection's shard.
//
// Storage. Offsets and group metadata are records in __consumer_offsets in Kafka's own format
// (offsets_format.h), appended through the shard's raft group: a commit answers only once its
// records are committed. At start-up each shard replays the __consumer_offsets partitions it
// owns; until a partition is loaded, its groups answer COORDINATOR_LOAD_IN_PROGRESS.
//
// Time. The groups are pure state machines (group.h) driven with a millisecond clock that never
// goes backwards; one timer loop per shard ticks every group whose deadline passed and, every
// --offsets-retention-check-interval, expires the offsets of empty groups past
// --offsets-retention-minutes and removes empty groups left without offsets.
//
// Lives on its shard (thread_local, created by start_group_coordinator, ended by
// stop_group_coordinator).

#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/config/broker_config.h"
#include "core/group/registry.h"
#include "reactor/base/assert.h"
#include "reactor/base/ids.h"
#include "reactor/sync.h"
#include "reactor/task.h"

namespace wharf::groups {

class coordinator {
public:
    coordinator(const broker_config& cfg);
    ~coordinator();

    // Replays the given __consumer_offsets partitions (Kafka partition index, log partition),
    // all owned by this shard.
    task<void> load(std::vector<std::pair<int32_t, partition_id>> owned);
    bool loaded(int32_t offsets_partition) const;

    // The groups of a loaded partition (null while loading or for a partition elsewhere).
    group_registry* registry(int32_t offsets_partition);
    std::vector<group_listing> list() const;
    // Calls fn(const group&) for every group list() lists (those of the loaded partitions), in
    // partition then id order, without the caller hashing ids back to their partitions. fn
    // only reads: it must not change the coordinator or its groups.
    template <typename Fn>
    void for_each_group(Fn&& fn) const {
        for (const auto& [index, p] : _partitions) {
            if (!p.loaded) continue;
            const group_registry& groups = *p.groups;
            for (const auto& l : groups.list()) {
                const group* g = groups.find(l.group_id);
                WHARF_ASSERT(g != nullptr, "listed group {} not found", l.group_id);
                fn(*g);
            }
        }
    }

    // Appends the records to the group's partition; returns once they are committed.
    task<error_code> write(int32_t offsets_partition, std::vector<offsets_record> records);
    // After any call that may have changed the group: stores its metadata when it asks for it
    // (the answers of a leader's SyncGroup wait for that). Deadlines are picked up by the timer
    // loop, which looks every 50 ms.
    void after_change(int32_t offsets_partition, group& g);

    // The coordinator's clock: wall milliseconds, never going backwards.
    timestamp_ms now();

    void start_timer();
    // Shutdown, first step: every waiting JoinGroup/SyncGroup is answered NOT_COORDINATOR and
    // nothing new is stored, so that stopping the listener does not wait for rebalances.
    void unload_all();
    task<void> stop();

private:
    struct partition_state {
        partition_id log_partition;
        bool loaded = false;
        std::unique_ptr<group_registry> groups;
        // The registry a reload replaced, kept while requests in flight may point into it.
        std::vector<std::unique_ptr<group_registry>> retired;
    };

    task<void> load_partition(int32_t index, partition_id p);
    task<void> follow_leadership();
    task<void> store_metadata(int32_t offsets_partition, std::string group_id, int32_t generation);
    void store_pending(int32_t offsets_partition);
    task<void> timer_loop(gate::holder);
    void expire_offsets();

    const broker_config& _cfg;
    group_config _group_cfg;
    std::map<int32_t, partition_state> _partitions;
    // Groups whose metadata is being written (one write at a time per group).
    std::vector<std::string> _storing;
    int64_t _last_now = 0;
    int64_t _last_expiry = 0;
    bool _stopping = false;
    // The raft term the groups were loaded in; -1 while this replica does not lead.
    term_id _loaded_term{-1};
    bool _reloading = false;
    gate _gate;
};

// The calling shard's coordinator (null before start / after stop).
coordinator* local_coordinator() noexcept;
// Creates __consumer_offsets when missing (through the metadata service) and starts every
// shard's coordinator, loading the partitions it owns. Runs on shard 0 at start-up.
task<bool> start_group_coordinators(const broker_config& cfg);
task<void> stop_group_coordinators();

inline constexpr const char* offsets_topic = "__consumer_offsets";

}  // namespace wharf::groups
