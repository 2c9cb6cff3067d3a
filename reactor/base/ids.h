#pragma once

// The vocabulary of Wharf: every id and offset has its own type (DESIGN.md section 2).

#include <array>
#include <cstdint>
#include <string>

#include "reactor/base/strong_type.h"

namespace wharf {

using node_id = strong_type<int32_t, struct node_id_tag>;
using shard_id = strong_type<uint32_t, struct shard_id_tag>;
// A broker-wide numeric id of one topic partition, assigned by the topic table. The shard log
// stores it in every entry header, so it is 32 bits wide on disk.
using partition_id = strong_type<uint32_t, struct partition_id_tag>;
// Offsets within one Kafka partition.
using kafka_offset = strong_type<int64_t, struct kafka_offset_tag>;
// Position of an entry in a shard's raft log; never mixed with a Kafka offset.
using raft_index = strong_type<int64_t, struct raft_index_tag>;
using term_id = strong_type<int64_t, struct term_id_tag>;
// One of a shard's raft groups (DESIGN.md section 5: a group is keyed by shard and replica set).
// 0 is the group that spans every broker (and holds the metadata log on shard 0); the controller
// numbers the groups of smaller replica sets from 1 on.
using raft_group_id = strong_type<uint16_t, struct raft_group_id_tag>;
// Byte position within a file.
using byte_position = strong_type<uint64_t, struct byte_position_tag>;
// Milliseconds since the Unix epoch, as Kafka timestamps are.
using timestamp_ms = strong_type<int64_t, struct timestamp_ms_tag>;

// Kafka's 128-bit topic id (a UUID); all zeros means "no id".
struct topic_id {
    std::array<uint8_t, 16> bytes{};

    bool is_zero() const noexcept {
        for (auto b : bytes) {
            if (b != 0) return false;
        }
        return true;
    }
    auto operator<=>(const topic_id&) const noexcept = default;
    bool operator==(const topic_id&) const noexcept = default;
};

}  // namespace wharf
