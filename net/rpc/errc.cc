#include "net/rpc/errc.h"

#include <string>

namespace wharf::rpc {

namespace {

class rpc_category_impl final : public std::error_category {
public:
    const char* name() const noexcept override { return "wharf.rpc"; }

    std::string message(int value) const override {
        switch (static_cast<rpc_errc>(value)) {
            case rpc_errc::bad_magic:
                return "not a Wharf RPC handshake or frame (bad magic)";
            case rpc_errc::unsupported_version:
                return "no common RPC protocol version";
            case rpc_errc::frame_too_large:
                return "RPC frame larger than the maximum frame size";
            case rpc_errc::checksum_mismatch:
                return "RPC checksum mismatch";
            case rpc_errc::wrong_cluster:
                return "the peer belongs to another cluster";
            case rpc_errc::no_such_shard:
                return "the target shard does not exist on the acceptor";
            case rpc_errc::malformed_handshake:
                return "malformed RPC handshake";
            case rpc_errc::malformed_broker_info:
                return "malformed broker info";
            case rpc_errc::malformed_group_leaders:
                return "malformed group leaders";
        }
        return "unknown RPC error " + std::to_string(value);
    }
};

}  // namespace

const std::error_category& rpc_category() noexcept {
    static const rpc_category_impl category;
    return category;
}

}  // namespace wharf::rpc
