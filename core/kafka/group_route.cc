#include "core/kafka/group_route.h"

#include "core/cluster/metadata_service.h"
#include "core/group/offsets_format.h"
#include "core/shard_services.h"

namespace wharf::kafka {

group_route route_group(const std::string& group_id, bool allow_empty) {
    group_route r;
    if (group_id.empty() && !allow_empty) {
        r.error = error_code::invalid_group_id;
        return r;
    }
    auto snapshot = metadata_snapshot();
    const topic_metadata* t = snapshot->find(groups::offsets_topic);
    if (t == nullptr || t->partitions.empty()) {
        r.error = error_code::coordinator_not_available;
        return r;
    }
    r.partition = groups::offsets_partition_for(group_id, static_cast<int32_t>(t->partitions.size()));
    r.shard = t->partitions[size_t(r.partition)].shard;
    return r;
}

coordinator_ref coordinator_for(int32_t partition) {
    coordinator_ref r;
    r.coordinator = groups::local_coordinator();
    // A group's coordinator is the leader of its offsets partition's raft group.
    auto* services = local_services();
    if (r.coordinator == nullptr || services == nullptr || !services->raft->is_leader()) {
        r.error = error_code::not_coordinator;
        return r;
    }
    r.groups = r.coordinator->registry(partition);
    if (r.groups == nullptr) {
        r.error = r.coordinator->loaded(partition) ? error_code::not_coordinator
                                                   : error_code::coordinator_load_in_progress;
    }
    return r;
}

groups::bytes to_bytes(const iobuf& b) {
    groups::bytes out(b.size());
    if (!out.empty()) b.copy_to(0, out.data(), out.size());
    return out;
}

iobuf to_iobuf(const groups::bytes& b) {
    iobuf out;
    if (!b.empty()) out.append(b.data(), b.size());
    return out;
}

std::string client_host(const std::string& peer) {
    auto colon = peer.rfind(':');
    return "/" + (colon == std::string::npos ? peer : peer.substr(0, colon));
}

}  // namespace wharf::kafka
