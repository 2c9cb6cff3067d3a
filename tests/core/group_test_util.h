#pragma once

// Helpers for the consumer-group tests: a fake clock, JoinGroup/SyncGroup answers captured in
// slots, and requests with sensible defaults.

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/group/consumer_protocol.h"
#include "core/group/group.h"

namespace wharf::groups::test {

inline bytes b(std::string_view s) {
    return bytes(s.begin(), s.end());
}

struct join_slot {
    std::optional<join_result> result;
    int calls = 0;
    bool answered() const { return calls > 0; }
    const join_result& operator*() const { return *result; }
    const join_result* operator->() const { return &*result; }
};

// The answer's fields are the slot's own (slot->error, slot->assignment).
struct sync_slot : sync_result {
    int calls = 0;
    bool answered() const { return calls > 0; }
};

inline join_callback capture(std::shared_ptr<join_slot> s) {
    return [s](join_result r) {
        s->result = std::move(r);
        ++s->calls;
    };
}

inline sync_callback capture(std::shared_ptr<sync_slot> s) {
    return [s](sync_result r) {
        static_cast<sync_result&>(*s) = std::move(r);
        ++s->calls;
    };
}

constexpr int32_t session_ms = 10000;
constexpr int32_t rebalance_ms = 30000;

inline join_request jreq(std::string member_id,
                         std::vector<member_protocol> protocols = {{"range", b("meta")}},
                         int16_t version = 5, std::optional<std::string> instance = std::nullopt) {
    join_request r;
    r.member_id = std::move(member_id);
    r.instance_id = std::move(instance);
    r.protocol_type = "consumer";
    r.protocols = std::move(protocols);
    r.session_timeout_ms = session_ms;
    r.rebalance_timeout_ms = rebalance_ms;
    r.version = version;
    r.client_id = "client";
    r.client_host = "/127.0.0.1";
    return r;
}

inline std::shared_ptr<join_slot> join(group& g, join_request req, timestamp_ms now) {
    auto s = std::make_shared<join_slot>();
    g.join(std::move(req), now, capture(s));
    return s;
}

inline std::shared_ptr<sync_slot> sync(group& g, std::string member_id, int32_t generation,
                                       timestamp_ms now,
                                       std::vector<std::pair<std::string, bytes>> assignments = {},
                                       std::optional<std::string> instance = std::nullopt) {
    auto s = std::make_shared<sync_slot>();
    sync_request r;
    r.member_id = std::move(member_id);
    r.instance_id = std::move(instance);
    r.generation = generation;
    r.assignments = std::move(assignments);
    g.sync(std::move(r), now, capture(s));
    return s;
}

// A dynamic member's first JoinGroup (v5): MEMBER_ID_REQUIRED with the id to rejoin with.
inline std::string member_id_for(group& g, timestamp_ms now, std::string client = "client") {
    auto r = jreq("");
    r.client_id = std::move(client);
    auto s = join(g, std::move(r), now);
    EXPECT_TRUE(s->answered());
    EXPECT_EQ((*s)->error, error_code::member_id_required);
    return (*s)->member_id;
}

// Writes the group's metadata at once, successfully, as the integrator would.
inline void store(group& g, timestamp_ms now) {
    if (g.needs_store()) g.store_done(g.generation(), error_code::none, now);
}

}  // namespace wharf::groups::test
