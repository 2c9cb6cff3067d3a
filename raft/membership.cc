#include "raft/membership.h"

#include <algorithm>
#include <cstring>
#include <iterator>

#include <fmt/format.h>

#include "raft/errc.h"

namespace wharf {

namespace {

bool holds(const std::vector<node_id>& sorted, node_id n) noexcept {
    return std::binary_search(sorted.begin(), sorted.end(), n);
}

bool strictly_ascending(const std::vector<node_id>& v) noexcept {
    return std::adjacent_find(v.begin(), v.end(), [](node_id a, node_id b) { return a >= b; }) ==
           v.end();
}

status check_config(const raft_config& c) {
    if (c.voters.empty() || c.voters.size() + c.learners.size() > max_group_members) {
        return raft_errc::invalid_configuration;
    }
    if (!strictly_ascending(c.voters) || !strictly_ascending(c.learners)) {
        return raft_errc::invalid_configuration;
    }
    if (c.voters.front().value() < 0 || (!c.learners.empty() && c.learners.front().value() < 0)) {
        return raft_errc::invalid_configuration;
    }
    for (node_id l : c.learners) {
        if (holds(c.voters, l)) return raft_errc::invalid_configuration;
    }
    return {};
}

void put_ids(std::vector<std::byte>& out, const std::vector<node_id>& ids) {
    auto put = [&](auto v) {
        auto at = out.size();
        out.resize(at + sizeof(v));
        std::memcpy(out.data() + at, &v, sizeof(v));
    };
    put(static_cast<uint32_t>(ids.size()));
    for (node_id n : ids) put(n.value());
}

// Reads a u32 count and that many i32 ids; false when the bytes run out or the count is beyond
// any valid configuration (checked before anything is allocated).
bool get_ids(std::span<const std::byte>& in, std::vector<node_id>& ids) {
    uint32_t count = 0;
    if (in.size() < sizeof(count)) return false;
    std::memcpy(&count, in.data(), sizeof(count));
    in = in.subspan(sizeof(count));
    if (count > max_group_members || in.size() < uint64_t{count} * sizeof(int32_t)) return false;
    ids.reserve(count);
    for (uint32_t i = 0; i < count; ++i) {
        int32_t v = 0;
        std::memcpy(&v, in.data(), sizeof(v));
        in = in.subspan(sizeof(v));
        ids.emplace_back(v);
    }
    return true;
}

}  // namespace

bool raft_config::is_voter(node_id n) const noexcept {
    return holds(voters, n);
}

bool raft_config::is_learner(node_id n) const noexcept {
    return holds(learners, n);
}

std::vector<node_id> raft_config::others(node_id self) const {
    std::vector<node_id> out;
    out.reserve(voters.size() + learners.size());
    for (const auto* list : {&voters, &learners}) {
        std::copy_if(list->begin(), list->end(), std::back_inserter(out),
                     [&](node_id n) { return n != self; });
    }
    return out;
}

std::string raft_config::to_string() const {
    auto ids = [](const std::vector<node_id>& v) {
        std::string s;
        for (node_id n : v) s += fmt::format("{}{}", s.empty() ? "" : ",", n.value());
        return s;
    };
    if (learners.empty()) return fmt::format("voters {{{}}}", ids(voters));
    return fmt::format("voters {{{}}} learners {{{}}}", ids(voters), ids(learners));
}

status validate_config(const raft_config& c) {
    return check_config(c);
}

size_t encoded_config_bytes(const raft_config& c) noexcept {
    return 1 + 2 * sizeof(uint32_t) + (c.voters.size() + c.learners.size()) * sizeof(int32_t);
}

status normalize_config(raft_config& c) {
    std::sort(c.voters.begin(), c.voters.end());
    std::sort(c.learners.begin(), c.learners.end());
    return check_config(c);
}

bool is_single_voter_change(const raft_config& current, const raft_config& next) noexcept {
    size_t added = 0;
    size_t removed = 0;
    for (node_id n : next.voters) added += holds(current.voters, n) ? 0 : 1;
    for (node_id n : current.voters) removed += holds(next.voters, n) ? 0 : 1;
    return added + removed <= 1;
}

iobuf encode_config(const raft_config& c) {
    auto valid = check_config(c);
    WHARF_ASSERT(valid, "encoding an invalid raft configuration: {}", c.to_string());
    std::vector<std::byte> out;
    out.push_back(std::byte{membership_format_version});
    put_ids(out, c.voters);
    put_ids(out, c.learners);
    return iobuf::copy_of(out);
}

result<raft_config> decode_config(std::span<const std::byte> bytes) {
    if (bytes.empty() || bytes[0] != std::byte{membership_format_version}) {
        return raft_errc::invalid_configuration;
    }
    bytes = bytes.subspan(1);
    raft_config c;
    if (!get_ids(bytes, c.voters) || !get_ids(bytes, c.learners) || !bytes.empty()) {
        return raft_errc::invalid_configuration;
    }
    auto valid = check_config(c);
    if (!valid) return valid.error();
    return c;
}

result<raft_config> decode_config(const iobuf& bytes) {
    if (bytes.size() > encoded_config_bytes(raft_config{std::vector<node_id>(max_group_members), {}})) {
        return raft_errc::invalid_configuration;
    }
    std::vector<std::byte> flat(bytes.size());
    bytes.copy_to(0, flat.data(), flat.size());
    return decode_config(std::span<const std::byte>(flat));
}

}  // namespace wharf
