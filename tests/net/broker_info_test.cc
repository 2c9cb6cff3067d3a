// The broker_info payload (net/rpc/broker_info.h): what a broker tells its peers about itself.

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "net/rpc/broker_info.h"
#include "net/rpc/errc.h"

namespace wharf::rpc {
namespace {

iobuf to_iobuf(const std::vector<std::byte>& b) {
    iobuf out;
    out.append(b.data(), b.size());
    return out;
}

TEST(broker_info, round_trips) {
    broker_info b{.node = node_id(4),
                  .kafka_host = "10.0.0.5",
                  .kafka_port = 9092,
                  .rpc_host = "::1",
                  .rpc_port = 33145};
    auto decoded = decode_broker_info(to_iobuf(encode_broker_info(b)));
    ASSERT_TRUE(decoded);
    EXPECT_EQ(*decoded, b);
}

TEST(broker_info, refuses_every_malformed_payload) {
    broker_info b{.node = node_id(1), .kafka_host = "h", .kafka_port = 1, .rpc_host = "r",
                  .rpc_port = 2};
    const auto good = encode_broker_info(b);
    // Every truncation, and a byte more.
    for (size_t n = 0; n < good.size(); ++n) {
        std::vector<std::byte> cut(good.begin(), good.begin() + static_cast<long>(n));
        EXPECT_EQ(decode_broker_info(to_iobuf(cut)).error(), rpc_errc::malformed_broker_info)
            << n;
    }
    auto longer = good;
    longer.push_back(std::byte{0});
    EXPECT_FALSE(decode_broker_info(to_iobuf(longer)));
    // Another version, a negative node, an empty host.
    auto bad_version = good;
    bad_version[0] = std::byte{2};
    EXPECT_FALSE(decode_broker_info(to_iobuf(bad_version)));
    auto negative = good;
    int32_t minus_one = -1;
    std::memcpy(negative.data() + 2, &minus_one, 4);
    EXPECT_FALSE(decode_broker_info(to_iobuf(negative)));
    auto empty_host = good;
    empty_host[10] = std::byte{0};
    EXPECT_FALSE(decode_broker_info(to_iobuf(empty_host)));
}

}  // namespace
}  // namespace wharf::rpc
