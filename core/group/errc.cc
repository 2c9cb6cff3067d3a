#include "core/group/errc.h"

#include <string>

namespace wharf::groups {

namespace {

class group_category_impl final : public std::error_category {
public:
    const char* name() const noexcept override { return "wharf.group"; }

    std::string message(int value) const override {
        switch (static_cast<group_errc>(value)) {
            case group_errc::malformed_record:
                return "malformed __consumer_offsets record";
            case group_errc::unsupported_record_version:
                return "__consumer_offsets record version is newer than this broker supports";
        }
        return "unknown wharf.group error " + std::to_string(value);
    }
};

}  // namespace

const std::error_category& group_category() noexcept {
    static const group_category_impl category;
    return category;
}

}  // namespace wharf::groups
