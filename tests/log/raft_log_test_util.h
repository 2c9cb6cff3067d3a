#pragma once

// Helpers for the tests of the shard log's raft operations (truncate_suffix, read_entries): a
// model of every entry appended, from which the partitions' expected state is derived, and checks
// of the log against it.

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "log/entry.h"
#include "log/errc.h"
#include "log/record_batch.h"
#include "log/shard_log.h"
#include "tests/log/shardlog_test_util.h"

namespace wharf::test {

struct model_entry {
    raft_index index{0};
    term_id term{0};
    entry_type type = entry_type::data;
    uint32_t partition = 0;
    std::vector<std::byte> payload;
};

// The log as appended: entries from index 1 (or the first still held) on, in order.
struct raft_model {
    std::vector<model_entry> entries;

    raft_index last_index() const { return entries.empty() ? raft_index(0) : entries.back().index; }
    term_id term_of(raft_index i) const {
        for (const auto& e : entries) {
            if (e.index == i) return e.term;
        }
        return term_id(0);
    }
    // What truncate_suffix(last_kept) must leave.
    void truncate(raft_index last_kept) {
        while (!entries.empty() && entries.back().index > last_kept) entries.pop_back();
    }
    // Every partition's expected batches and offsets, derived from the entries alone.
    log_model partitions() const {
        log_model m;
        for (const auto& e : entries) {
            auto& mp = m[e.partition];
            if (e.type == entry_type::data) {
                auto h = read_batch_header(e.payload);
                EXPECT_TRUE(h.has_value());
                if (!h) continue;
                mp.add({h->base_offset, h->last_offset(), h->max_timestamp, e.payload});
            } else if (e.type == entry_type::control) {
                auto c = decode_control(e.payload);
                EXPECT_TRUE(c.has_value());
                if (!c) continue;
                mp.start = std::max(mp.start, kafka_offset(c->value));
                mp.next = std::max(mp.next, mp.start);
            }
        }
        return m;
    }
};

// A data entry through the leader's path; the model records the batch as stored.
inline task<bool> append_data(shard_log& log, raft_model& m, uint32_t p, term_id term,
                              uint64_t seed, size_t value_bytes) {
    auto batch = make_batch(seed, 2, value_bytes, 1000 + static_cast<int64_t>(seed));
    iobuf buf = to_iobuf(batch);
    auto epoch = static_cast<int32_t>(term.value());
    auto r = co_await log.append_batch(partition_id(p), term, std::move(buf), epoch);
    if (!r) {
        ADD_FAILURE() << "append to partition " << p << " failed: " << r.error().message();
        co_return false;
    }
    m.entries.push_back(model_entry{r->index, term, entry_type::data, p,
                                    stamped(std::move(batch), r->base_offset, epoch)});
    co_return true;
}

// An entry as it is (a follower's path, raft's own entries, control entries).
inline task<bool> append_raw(shard_log& log, raft_model& m, entry_type type, uint32_t p,
                             term_id term, std::vector<std::byte> payload) {
    iobuf buf = to_iobuf(payload);
    auto r = co_await log.append_entry(type, partition_id(p), term, std::move(buf));
    if (!r) {
        ADD_FAILURE() << "append_entry failed: " << r.error().message();
        co_return false;
    }
    m.entries.push_back(model_entry{*r, term, type, p, std::move(payload)});
    co_return true;
}

inline std::vector<std::byte> control_payload(int64_t start) {
    auto c = encode_control(control_entry{control_kind::set_start_offset, start});
    return std::vector<std::byte>(c.begin(), c.end());
}

// One entry read back against the model's.
inline void expect_entry(const stored_entry& got, const model_entry& want) {
    EXPECT_EQ(got.index, want.index);
    EXPECT_EQ(got.term, want.term) << "entry " << want.index.value();
    EXPECT_EQ(got.type, want.type) << "entry " << want.index.value();
    EXPECT_EQ(got.partition.value(), want.partition) << "entry " << want.index.value();
    EXPECT_TRUE(to_bytes(got.payload) == want.payload)
        << "payload of entry " << want.index.value() << " differs";
}

// Reads every entry from `from` on in calls of at most max_bytes and checks them against the
// model, and that each call stops only where the next entry would pass max_bytes.
inline task<void> expect_entries_match(shard_log& log, const raft_model& m, raft_index from,
                                       size_t max_bytes) {
    size_t i = 0;
    while (i < m.entries.size() && m.entries[i].index < from) ++i;
    raft_index next = from;
    while (next <= m.last_index()) {
        auto r = co_await log.read_entries(next, max_bytes);
        if (!r) {
            ADD_FAILURE() << "read_entries(" << next.value() << ") failed: " << r.error().message();
            co_return;
        }
        if (r->empty()) {
            ADD_FAILURE() << "read_entries(" << next.value() << ") returned nothing";
            co_return;
        }
        size_t bytes = 0;
        for (const auto& e : *r) {
            if (i >= m.entries.size()) {
                ADD_FAILURE() << "read_entries returned more entries than the log holds";
                co_return;
            }
            expect_entry(e, m.entries[i++]);
            bytes += e.payload.size();
            next = e.index + 1;
        }
        if (r->size() > 1) {
            EXPECT_LE(bytes, max_bytes);
        }
        // A call stops once max_bytes is reached or the next entry would pass it.
        if (i < m.entries.size() && bytes < max_bytes) {
            EXPECT_GT(bytes + m.entries[i].payload.size(), max_bytes);
        }
        if (::testing::Test::HasFailure()) co_return;
    }
    auto past = co_await log.read_entries(next, max_bytes);
    EXPECT_TRUE(past.has_value() && past->empty()) << "entries past the last index";
}

// Raft positions, partitions and entries of the log against the model.
inline task<void> expect_raft_log_matches(shard_log& log, const raft_model& m) {
    EXPECT_EQ(log.last_index(), m.last_index());
    EXPECT_EQ(log.next_index(), m.last_index() + 1);
    if (!m.entries.empty()) {
        EXPECT_EQ(log.last_term(), m.entries.back().term);
        for (const auto& e : m.entries) {
            EXPECT_EQ(log.term_at(e.index), std::optional<term_id>(e.term))
                << "term of entry " << e.index.value();
        }
    }
    EXPECT_FALSE(log.term_at(m.last_index() + 1).has_value());
    co_await expect_log_matches(log, m.partitions(), 1 << 20);
    if (::testing::Test::HasFailure()) co_return;
    raft_index first = m.entries.empty() ? log.first_index() : m.entries.front().index;
    co_await expect_entries_match(log, m, first, 1 << 20);
}

// Opens the log, runs body on it, closes it; the test's result.
template <typename Body>
int with_log(const log_config& cfg, Body body) {
    return run_reactor([&]() -> task<int> {
        auto opened = co_await shard_log::open(cfg);
        CO_ASSERT_OK(opened);
        shard_log& log = **opened;
        int rc = co_await body(log);
        CO_ASSERT_OK(co_await log.close());
        co_return rc != 0 || ::testing::Test::HasFailure() ? 1 : 0;
    });
}

}  // namespace wharf::test
