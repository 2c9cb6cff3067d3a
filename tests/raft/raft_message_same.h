#pragma once

// same(): whether two raft messages are equal field by field, payload bytes included, as a gtest
// assertion that names what differs. Shared by the codec's and the transport's tests.

#include <gtest/gtest.h>

#include <variant>

#include "raft/messages.h"

namespace wharf::test {

inline testing::AssertionResult same(const raft_message& a, const raft_message& b) {
    auto fail = [](const char* what) { return testing::AssertionFailure() << what << " differs"; };
    if (a.from != b.from || a.to != b.to) return fail("from/to");
    if (a.group != b.group) return fail("group");
    if (a.body.index() != b.body.index()) return fail("type");
    if (auto* x = std::get_if<vote_request>(&a.body)) {
        auto& y = std::get<vote_request>(b.body);
        if (x->term != y.term || x->last_index != y.last_index || x->last_term != y.last_term ||
            x->pre_vote != y.pre_vote || x->leadership_transfer != y.leadership_transfer) {
            return fail("vote_request");
        }
    } else if (auto* x = std::get_if<vote_reply>(&a.body)) {
        auto& y = std::get<vote_reply>(b.body);
        if (x->term != y.term || x->granted != y.granted || x->pre_vote != y.pre_vote) {
            return fail("vote_reply");
        }
    } else if (auto* x = std::get_if<append_request>(&a.body)) {
        auto& y = std::get<append_request>(b.body);
        if (x->term != y.term || x->prev_index != y.prev_index || x->prev_term != y.prev_term ||
            x->leader_commit != y.leader_commit || x->entries.size() != y.entries.size()) {
            return fail("append_request");
        }
        for (size_t i = 0; i < x->entries.size(); ++i) {
            const raft_entry& e = x->entries[i];
            const raft_entry& f = y.entries[i];
            if (e.index != f.index || e.term != f.term || e.type != f.type ||
                e.partition != f.partition || !(e.payload == f.payload)) {
                return testing::AssertionFailure() << "entry " << i << " differs";
            }
        }
    } else if (auto* x = std::get_if<append_reply>(&a.body)) {
        auto& y = std::get<append_reply>(b.body);
        if (x->term != y.term || x->success != y.success || x->match_index != y.match_index ||
            x->last_index != y.last_index) {
            return fail("append_reply");
        }
    } else if (auto* x = std::get_if<install_snapshot>(&a.body)) {
        auto& y = std::get<install_snapshot>(b.body);
        if (x->term != y.term || x->last_index != y.last_index || x->last_term != y.last_term ||
            x->leader_commit != y.leader_commit || !(x->data == y.data) ||
            x->config != y.config) {
            return fail("install_snapshot");
        }
    } else if (std::get<timeout_now>(a.body).term != std::get<timeout_now>(b.body).term) {
        return fail("timeout_now");
    }
    return testing::AssertionSuccess();
}

}  // namespace wharf::test
