#include "net/rpc/group_leaders.h"

#include "net/rpc/errc.h"
#include "net/rpc/wire.h"
#include "reactor/base/assert.h"

namespace wharf::rpc {

namespace {
constexpr size_t header_bytes = 6;
constexpr size_t entry_bytes = 14;
}  // namespace

std::vector<std::byte> encode_group_leaders(std::span<const group_leadership> leaders) {
    std::vector<std::byte> out(header_bytes + entry_bytes * leaders.size());
    std::span<std::byte> s(out);
    wire::put<uint16_t>(s, 0, group_leaders_version);
    wire::put<uint32_t>(s, 2, static_cast<uint32_t>(leaders.size()));
    size_t off = header_bytes;
    for (const auto& l : leaders) {
        WHARF_ASSERT(l.group.value() > 0 && l.term.value() >= 0 && l.leader.value() >= 0,
                     "group leadership {} term {} leader {}", l.group, l.term, l.leader);
        wire::put<uint16_t>(s, off, l.group.value());
        wire::put<int64_t>(s, off + 2, l.term.value());
        wire::put<int32_t>(s, off + 10, l.leader.value());
        off += entry_bytes;
    }
    return out;
}

result<std::vector<group_leadership>> decode_group_leaders(const iobuf& payload) {
    using out_t = result<std::vector<group_leadership>>;
    auto bad = [] { return out_t(make_error_code(rpc_errc::malformed_group_leaders)); };
    if (payload.size() < header_bytes) return bad();
    std::vector<std::byte> bytes(payload.size());
    payload.copy_to(0, bytes.data(), bytes.size());
    std::span<const std::byte> s(bytes);
    if (wire::get<uint16_t>(s, 0) != group_leaders_version) return bad();
    uint64_t count = wire::get<uint32_t>(s, 2);
    if (header_bytes + count * entry_bytes != s.size()) return bad();
    std::vector<group_leadership> out(count);
    size_t off = header_bytes;
    for (auto& l : out) {
        l.group = raft_group_id(wire::get<uint16_t>(s, off));
        l.term = term_id(wire::get<int64_t>(s, off + 2));
        l.leader = node_id(wire::get<int32_t>(s, off + 10));
        if (l.group.value() == 0 || l.term.value() < 0 || l.leader.value() < 0) return bad();
        off += entry_bytes;
    }
    return out;
}

}  // namespace wharf::rpc
