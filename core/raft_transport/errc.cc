#include "core/raft_transport/errc.h"

#include <string>

namespace wharf::raft_rpc {

namespace {

class category final : public std::error_category {
public:
    const char* name() const noexcept override { return "raft_transport"; }
    std::string message(int v) const override {
        switch (static_cast<transport_errc>(v)) {
            case transport_errc::wrong_node:
                return "another node answered at the peer's address";
        }
        return "unknown raft transport error";
    }
};

}  // namespace

const std::error_category& transport_category() noexcept {
    static const category c;
    return c;
}

}  // namespace wharf::raft_rpc
