// Requests encoded by real clients (tests/net/golden/*.hex: kafka-python offline, and librdkafka
// through kcat and confluent-kafka-python recorded by a proxy in front of a real Wharf broker,
// capture_librdkafka.py) decode completely and re-encode to the same bytes.

#include <dirent.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "net/kafka/header.h"
#include "net/kafka/messages.h"
#include "tests/net/kafka_test_util.h"

namespace wharf::kafka {
namespace {

const std::string golden_dir = std::string(WHARF_TEST_SOURCE_DIR) + "/net/golden";

std::vector<std::string> golden_files() {
    std::vector<std::string> out;
    DIR* d = opendir(golden_dir.c_str());
    if (d == nullptr) {
        return out;
    }
    while (dirent* e = readdir(d)) {
        std::string name = e->d_name;
        if (name.size() > 4 && name.ends_with(".hex")) {
            out.push_back(name);
        }
    }
    closedir(d);
    std::sort(out.begin(), out.end());
    return out;
}

TEST(kafka_golden, client_requests_decode_and_reencode_byte_identically) {
    const auto files = golden_files();
    ASSERT_GE(files.size(), 60u) << golden_dir;
    for (const auto& name : files) {
        SCOPED_TRACE(name);
        std::ifstream in(golden_dir + "/" + name);
        std::stringstream ss;
        ss << in.rdbuf();
        std::string hex = ss.str();
        hex.erase(std::remove(hex.begin(), hex.end(), '\n'), hex.end());
        const std::string bytes = test::from_hex(hex);
        iobuf frame = test::iobuf_of(bytes);
        protocol_reader r(frame);
        request_header h;
        ASSERT_TRUE(decode_request_header(r, h)) << r.error();
        protocol_writer w;
        encode_request_header(w, h);
        bool decoded = false;
        const bool known = visit_request(h.key, [&](auto tag) {
            using T = typename decltype(tag)::type;
            ASSERT_GE(h.version, T::min_version);
            ASSERT_LE(h.version, T::max_version);
            T body;
            decoded = body.decode(r, h.version);
            body.encode(w, h.version);
        });
        ASSERT_TRUE(known);
        ASSERT_TRUE(decoded) << r.error();
        EXPECT_EQ(r.remaining(), 0u);
        EXPECT_EQ(test::to_hex(test::bytes_of(w.buffer())), hex);
    }
}

}  // namespace
}  // namespace wharf::kafka
