#include "net/rpc/group_leaders.h"

#include "net/rpc/errc.h"
#include "net/rpc/wire.h"
#include "reactor/base/assert.h"

namespace wharf::rpc {

namespace {
constexpr size_t header_bytes = 6;
constexpr size_t entry_bytes = 14;  // without the members of version 2

bool valid_members(const group_leadership& l) {
    if (l.members.size() > 0xffff) return false;
    bool leader_in = false;
    for (size_t i = 0; i < l.members.size(); ++i) {
        if (l.members[i].value() < 0 || (i > 0 && !(l.members[i - 1] < l.members[i]))) {
            return false;
        }
        leader_in = leader_in || l.members[i] == l.leader;
    }
    return leader_in;
}
}  // namespace

std::vector<std::byte> encode_group_leaders(std::span<const group_leadership> leaders,
                                            uint16_t version) {
    WHARF_ASSERT(version == 1 || version == 2, "group leaders version {}", version);
    size_t size = header_bytes + entry_bytes * leaders.size();
    if (version == 2) {
        for (const auto& l : leaders) size += 2 + 4 * l.members.size();
    }
    std::vector<std::byte> out(size);
    std::span<std::byte> s(out);
    wire::put<uint16_t>(s, 0, version);
    wire::put<uint32_t>(s, 2, static_cast<uint32_t>(leaders.size()));
    size_t off = header_bytes;
    for (const auto& l : leaders) {
        WHARF_ASSERT(l.group.value() > 0 && l.term.value() >= 0 && l.leader.value() >= 0,
                     "group leadership {} term {} leader {}", l.group, l.term, l.leader);
        wire::put<uint16_t>(s, off, l.group.value());
        wire::put<int64_t>(s, off + 2, l.term.value());
        wire::put<int32_t>(s, off + 10, l.leader.value());
        off += entry_bytes;
        if (version == 1) continue;
        WHARF_ASSERT(valid_members(l), "group {}: members not distinct ascending ids with the "
                     "leader {}", l.group, l.leader);
        wire::put<uint16_t>(s, off, static_cast<uint16_t>(l.members.size()));
        off += 2;
        for (node_id n : l.members) {
            wire::put<int32_t>(s, off, n.value());
            off += 4;
        }
    }
    return out;
}

result<std::vector<group_leadership>> decode_group_leaders(const iobuf& payload,
                                                           uint16_t* version) {
    using out_t = result<std::vector<group_leadership>>;
    auto bad = [] { return out_t(make_error_code(rpc_errc::malformed_group_leaders)); };
    if (payload.size() < header_bytes) return bad();
    std::vector<std::byte> bytes(payload.size());
    payload.copy_to(0, bytes.data(), bytes.size());
    std::span<const std::byte> s(bytes);
    const uint16_t v = wire::get<uint16_t>(s, 0);
    if (v != 1 && v != 2) return bad();
    uint64_t count = wire::get<uint32_t>(s, 2);
    // Each entry takes at least entry_bytes: a count the bytes cannot hold allocates nothing.
    if (count > (s.size() - header_bytes) / entry_bytes) return bad();
    std::vector<group_leadership> out(count);
    size_t off = header_bytes;
    for (auto& l : out) {
        if (s.size() - off < entry_bytes) return bad();
        l.group = raft_group_id(wire::get<uint16_t>(s, off));
        l.term = term_id(wire::get<int64_t>(s, off + 2));
        l.leader = node_id(wire::get<int32_t>(s, off + 10));
        if (l.group.value() == 0 || l.term.value() < 0 || l.leader.value() < 0) return bad();
        off += entry_bytes;
        if (v == 1) continue;
        if (s.size() - off < 2) return bad();
        size_t members = wire::get<uint16_t>(s, off);
        off += 2;
        if ((s.size() - off) / 4 < members) return bad();
        for (size_t i = 0; i < members; ++i) {
            l.members.push_back(node_id(wire::get<int32_t>(s, off)));
            off += 4;
        }
        if (!valid_members(l)) return bad();
    }
    if (off != s.size()) return bad();
    if (version != nullptr) *version = v;
    return out;
}

}  // namespace wharf::rpc
