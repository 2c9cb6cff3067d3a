#include "net/kafka/client/errc.h"

#include <string>

namespace wharf::kafka::client {

namespace {

class client_category_impl final : public std::error_category {
public:
    const char* name() const noexcept override { return "wharf.kafka.client"; }

    std::string message(int value) const override {
        switch (static_cast<client_errc>(value)) {
            case client_errc::bad_address:
                return "not a host:port address";
            case client_errc::resolve_failed:
                return "the host name does not resolve";
            case client_errc::connect_failed:
                return "cannot connect";
            case client_errc::connection_closed:
                return "connection closed";
            case client_errc::malformed_response:
                return "malformed response";
            case client_errc::unsupported_version:
                return "the broker serves no version of an API that this client speaks";
            case client_errc::unknown_broker:
                return "a broker id the metadata does not list";
            case client_errc::timed_out:
                return "timed out";
        }
        return "unknown client error " + std::to_string(value);
    }
};

class kafka_category_impl final : public std::error_category {
public:
    const char* name() const noexcept override { return "kafka"; }
    std::string message(int value) const override {
        return kafka::error_name(static_cast<kafka::error_code>(value));
    }
};

}  // namespace

const std::error_category& client_category() noexcept {
    static const client_category_impl category;
    return category;
}

const std::error_category& kafka_category() noexcept {
    static const kafka_category_impl category;
    return category;
}

}  // namespace wharf::kafka::client
