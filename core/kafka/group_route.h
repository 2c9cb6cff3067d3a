#pragma once

// Reaching a group's coordinator: the shard that owns the __consumer_offsets partition the group
// id hashes to (Kafka's hash). Handlers run on the connection's shard and send the group work
// there with submit_to; what runs there checks that the coordinator has loaded the partition.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/group/coordinator.h"
#include "net/kafka/error_code.h"
#include "reactor/base/ids.h"
#include "reactor/iobuf.h"
#include "reactor/sync.h"

namespace wharf::kafka {

struct group_route {
    error_code error = error_code::none;
    shard_id shard{0};
    int32_t partition = 0;
};

// Where group_id's coordinator runs (COORDINATOR_NOT_AVAILABLE before __consumer_offsets exists,
// INVALID_GROUP_ID for an empty id when empty ids are refused).
group_route route_group(const std::string& group_id, bool allow_empty = false);

// On the coordinator shard: the coordinator and the groups of the partition, or the error to
// answer (NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS).
struct coordinator_ref {
    groups::coordinator* coordinator = nullptr;
    groups::group_registry* groups = nullptr;
    error_code error = error_code::none;
    explicit operator bool() const noexcept { return groups != nullptr; }
};
coordinator_ref coordinator_for(int32_t partition);

// A value that a group callback delivers later, awaited by the request that asked for it.
template <typename T>
struct oneshot {
    std::optional<T> value;
    event ready;
    void set(T v) {
        value = std::move(v);
        ready.notify_all();
    }
};

template <typename T>
std::shared_ptr<oneshot<T>> make_oneshot() {
    return std::make_shared<oneshot<T>>();
}

groups::bytes to_bytes(const iobuf& b);
iobuf to_iobuf(const groups::bytes& b);
// "/address" as Kafka reports client hosts, from "address:port".
std::string client_host(const std::string& peer);

}  // namespace wharf::kafka
