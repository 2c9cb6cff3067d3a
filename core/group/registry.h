#pragma once

// The groups of one group coordinator (the leader of one __consumer_offsets partition, on its
// owning shard): group id -> group, Kafka's group lookup rules around the per-group logic, the
// replay of __consumer_offsets records at load, and the records to write for commits and new
// group states. No I/O: the integrator reads and writes the partition.
//
// Load: feed every record of the partition, in offset order, to apply(); then finish_load().
// Afterwards: for each request, call the registry (or a group from find()); write
// records_for_group(g) whenever g.needs_store() and call g.store_done(); write
// records_for_commit() before commit_offset(); write the tombstones the delete and expire
// calls return.

#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/group/group.h"
#include "core/group/offsets_format.h"
#include "reactor/base/result.h"

namespace wharf::groups {

// One record of __consumer_offsets; a missing value is a tombstone.
struct offsets_record {
    bytes key;
    std::optional<bytes> value;
    bool operator==(const offsets_record&) const = default;
};

class group_registry {
public:
    explicit group_registry(group_config config = {});
    ~group_registry();

    group* find(std::string_view group_id);
    const group* find(std::string_view group_id) const;
    group& get_or_create(const std::string& group_id, timestamp_ms now);
    size_t size() const noexcept { return _groups.size(); }
    std::vector<group_listing> list() const;
    // DescribeGroups: a group that does not exist describes as Dead with no members.
    group_description describe(const std::string& group_id) const;

    // Kafka's lookups in front of the group: a JoinGroup without a member id creates the
    // group; one with an id for an unknown group, and SyncGroup, Heartbeat, LeaveGroup for an
    // unknown group, get UNKNOWN_MEMBER_ID.
    void join(const std::string& group_id, join_request req, timestamp_ms now, join_callback cb);
    void sync(const std::string& group_id, sync_request req, timestamp_ms now, sync_callback cb);
    error_code heartbeat(const std::string& group_id, std::string_view member_id,
                         const std::optional<std::string>& instance_id, int32_t generation,
                         timestamp_ms now);
    leave_result leave(const std::string& group_id, const std::vector<leave_member>& members,
                       timestamp_ms now);
    // OffsetCommit: an unknown group is created (Empty, offsets only) for generation < 0 and
    // refused with ILLEGAL_GENERATION otherwise.
    error_code validate_commit(const std::string& group_id, std::string_view member_id,
                               const std::optional<std::string>& instance_id, int32_t generation,
                               timestamp_ms now);
    // DeleteGroups: GROUP_ID_NOT_FOUND, NON_EMPTY_GROUP, or none with the tombstones (offsets,
    // then the group) appended to `out`; the group is gone.
    error_code delete_group(const std::string& group_id, timestamp_ms now,
                            std::vector<offsets_record>& out);
    // OffsetDelete, with the tombstones of the removed offsets appended to `out`.
    offset_delete_result delete_offsets(const std::string& group_id,
                                        const std::vector<topic_partition>& partitions,
                                        std::vector<offsets_record>& out);
    // Offset retention over every group (Kafka's cleanupGroupMetadata): the tombstones to
    // write; an Empty group left without offsets is removed with a group tombstone.
    std::vector<offsets_record> expire_offsets(timestamp_ms now, int64_t retention_ms);

    // Runs every group's deadlines; the earliest deadline left over all groups.
    void tick(timestamp_ms now);
    std::optional<timestamp_ms> next_deadline() const;
    // The partition moved away: every group is unloaded (waiting requests answered) and gone.
    void unload_all(timestamp_ms now);

    // --- load ---

    // One record of __consumer_offsets, replayed in offset order. Keys of other record types
    // (the KIP-848 consumer protocol's) are skipped; bytes that do not decode are an error
    // (the caller decides whether to stop or skip).
    status apply(std::span<const uint8_t> key, std::optional<std::span<const uint8_t>> value,
                 timestamp_ms now);
    // Ends a load: groups over the size limit rebalance.
    void finish_load(timestamp_ms now);

    // --- records to write ---

    static std::vector<offsets_record> records_for_commit(
        const std::string& group_id,
        const std::vector<std::pair<topic_partition, committed_offset>>& offsets);
    // The group's GroupMetadataValue (version 3), as Kafka writes after each generation.
    static offsets_record records_for_group(const group& g);
    static offsets_record offset_tombstone(const std::string& group_id, const topic_partition& tp);
    static offsets_record group_tombstone(const std::string& group_id);

private:
    struct entry {
        std::unique_ptr<group> g;
        bool has_metadata_record = false;  // during load: a group record was replayed
    };
    void erase_if_unused(std::map<std::string, entry, std::less<>>::iterator it);

    group_config _config;
    std::map<std::string, entry, std::less<>> _groups;
};

}  // namespace wharf::groups
