#include "core/cluster/errc.h"

#include <string>

namespace wharf {

namespace {

class cluster_category_impl final : public std::error_category {
public:
    const char* name() const noexcept override { return "wharf.cluster"; }

    std::string message(int value) const override {
        switch (static_cast<cluster_errc>(value)) {
            case cluster_errc::topic_already_exists:
                return "topic already exists";
            case cluster_errc::invalid_topic:
                return "invalid topic name";
            case cluster_errc::invalid_partitions:
                return "invalid number of partitions";
            case cluster_errc::invalid_replication_factor:
                return "invalid replication factor";
            case cluster_errc::invalid_config:
                return "invalid topic config";
            case cluster_errc::unknown_topic:
                return "unknown topic";
            case cluster_errc::unknown_topic_id:
                return "unknown topic id";
            case cluster_errc::not_controller:
                return "this broker is not the controller";
            case cluster_errc::stale_command:
                return "metadata command was prepared against an older topic table";
            case cluster_errc::corrupt_command:
                return "metadata command bytes are corrupt";
            case cluster_errc::unsupported_command_version:
                return "metadata command version is newer than this broker supports";
            case cluster_errc::broker_not_available:
                return "no such broker in the cluster";
            case cluster_errc::invalid_request:
                return "the cluster cannot make this change";
        }
        return "unknown wharf.cluster error " + std::to_string(value);
    }
};

}  // namespace

const std::error_category& cluster_category() noexcept {
    // Immutable and initialised once, thread-safely: shared by every shard.
    static const cluster_category_impl category;
    return category;
}

int16_t kafka_error_code(cluster_errc e) noexcept {
    switch (e) {
        case cluster_errc::topic_already_exists:
            return 36;
        case cluster_errc::invalid_topic:
            return 17;
        case cluster_errc::invalid_partitions:
            return 37;
        case cluster_errc::invalid_replication_factor:
            return 38;
        case cluster_errc::invalid_config:
            return 40;
        case cluster_errc::unknown_topic:
            return 3;
        case cluster_errc::unknown_topic_id:
            return 100;
        case cluster_errc::not_controller:
            return 41;
        case cluster_errc::stale_command:
            return 7;
        case cluster_errc::broker_not_available:
            return 8;
        case cluster_errc::invalid_request:
            return 42;
        case cluster_errc::corrupt_command:
        case cluster_errc::unsupported_command_version:
            return -1;
    }
    return -1;
}

}  // namespace wharf
