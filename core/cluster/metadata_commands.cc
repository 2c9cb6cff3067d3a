#include "core/cluster/metadata_commands.h"

#include <cstring>
#include <type_traits>

namespace wharf {

namespace {

// Appends fields in the wire form described in the header.
class writer {
public:
    void u8(uint8_t v) { _out.push_back(std::byte{v}); }
    void u16(uint16_t v) { put(v); }
    void u32(uint32_t v) { put(v); }
    void i32(int32_t v) { put(static_cast<uint32_t>(v)); }
    void i64(int64_t v) { put(static_cast<uint64_t>(v)); }
    void str(const std::string& s) {
        u32(static_cast<uint32_t>(s.size()));
        auto* p = reinterpret_cast<const std::byte*>(s.data());
        _out.insert(_out.end(), p, p + s.size());
    }
    void id(const topic_id& t) {
        for (auto b : t.bytes) u8(b);
    }
    void assignments(const std::vector<partition_assignment>& v) {
        u32(static_cast<uint32_t>(v.size()));
        for (const auto& a : v) {
            i32(a.partition);
            u32(a.shard.value());
            u32(a.log_partition.value());
            u16(a.group.value());
        }
    }
    void groups(const std::vector<replica_group>& v) {
        u32(static_cast<uint32_t>(v.size()));
        for (const auto& g : v) group(g.id, g.replicas);
    }
    void group(raft_group_id id, const std::vector<int32_t>& replicas) {
        u16(id.value());
        u32(static_cast<uint32_t>(replicas.size()));
        for (int32_t n : replicas) i32(n);
    }
    void map(const config_map& m) {
        u32(static_cast<uint32_t>(m.size()));
        for (const auto& [k, v] : m) {
            str(k);
            str(v);
        }
    }
    void strings(const std::vector<std::string>& v) {
        u32(static_cast<uint32_t>(v.size()));
        for (const auto& s : v) str(s);
    }
    void address(const host_port& a) {
        str(a.host);
        u32(a.port);
    }
    std::vector<std::byte> take() { return std::move(_out); }

private:
    template <typename U>
    void put(U v) {
        for (size_t i = 0; i < sizeof(U); ++i) _out.push_back(std::byte(uint8_t(v >> (8 * i))));
    }
    std::vector<std::byte> _out;
};

// Reads fields back; once anything fails, every later read fails too (ok() is false), so a
// decoder reads a whole command and checks once, without a branch per field.
class reader {
public:
    reader(std::span<const std::byte> in, uint8_t version) : _in(in), _version(version) {}

    bool ok() const noexcept { return _ok; }
    bool at_end() const noexcept { return _in.empty(); }

    uint8_t u8() { return static_cast<uint8_t>(get<1>()); }
    uint16_t u16() { return static_cast<uint16_t>(get<2>()); }
    uint32_t u32() { return static_cast<uint32_t>(get<4>()); }
    int32_t i32() { return static_cast<int32_t>(u32()); }
    int64_t i64() { return static_cast<int64_t>(get<8>()); }
    std::string str() {
        uint32_t n = u32();
        if (!need(n)) return {};
        std::string s(reinterpret_cast<const char*>(_in.data()), n);
        _in = _in.subspan(n);
        return s;
    }
    topic_id id() {
        topic_id t;
        if (!need(t.bytes.size())) return t;
        std::memcpy(t.bytes.data(), _in.data(), t.bytes.size());
        _in = _in.subspan(t.bytes.size());
        return t;
    }
    // A count of elements each at least min_bytes long: refused when the bytes left cannot hold
    // that many, so that no hostile count reserves memory.
    uint32_t count(size_t min_bytes) {
        uint32_t n = u32();
        if (_ok && uint64_t{n} * min_bytes > _in.size()) _ok = false;
        return _ok ? n : 0;
    }
    std::vector<partition_assignment> assignments() {
        const bool grouped = _version >= 2;
        std::vector<partition_assignment> v(count(grouped ? 14 : 12));
        for (auto& a : v) {
            a.partition = i32();
            a.shard = shard_id(u32());
            a.log_partition = partition_id(u32());
            if (grouped) a.group = raft_group_id(u16());
        }
        return v;
    }
    // Absent before version 2.
    std::vector<replica_group> groups() {
        if (_version < 2) return {};
        std::vector<replica_group> v(count(6));
        for (auto& g : v) g = group();
        return v;
    }
    replica_group group() {
        replica_group g;
        g.id = raft_group_id(u16());
        g.replicas.resize(count(4));
        for (auto& n : g.replicas) n = i32();
        return g;
    }
    config_map map() {
        config_map m;
        uint32_t n = count(8);
        for (uint32_t i = 0; i < n && _ok; ++i) {
            auto k = str();
            auto v = str();
            // Keys are written sorted and unique: anything else is not our encoding.
            if (!m.empty() && k <= m.rbegin()->first) _ok = false;
            m.emplace_hint(m.end(), std::move(k), std::move(v));
        }
        return m;
    }
    std::vector<std::string> strings() {
        std::vector<std::string> v(count(4));
        for (auto& s : v) s = str();
        return v;
    }
    host_port address() {
        host_port a;
        a.host = str();
        uint32_t port = u32();
        if (port > 65535) _ok = false;
        a.port = static_cast<uint16_t>(port);
        return a;
    }

private:
    bool need(size_t n) {
        if (_ok && n > _in.size()) _ok = false;
        return _ok;
    }
    template <size_t N>
    uint64_t get() {
        if (!need(N)) return 0;
        uint64_t v = 0;
        for (size_t i = 0; i < N; ++i) v |= uint64_t(std::to_integer<uint8_t>(_in[i])) << (8 * i);
        _in = _in.subspan(N);
        return v;
    }

    std::span<const std::byte> _in;
    uint8_t _version;
    bool _ok = true;
};

void write_fields(writer& w, const create_topic_cmd& c) {
    w.str(c.name);
    w.id(c.id);
    w.assignments(c.partitions);
    w.map(c.configs);
    w.groups(c.groups);
}
void write_fields(writer& w, const delete_topic_cmd& c) {
    w.id(c.id);
}
void write_fields(writer& w, const create_partitions_cmd& c) {
    w.id(c.id);
    w.assignments(c.partitions);
    w.groups(c.groups);
}
void write_fields(writer& w, const alter_topic_configs_cmd& c) {
    w.id(c.id);
    w.map(c.set);
    w.strings(c.remove);
}
void write_fields(writer& w, const allocate_producer_ids_cmd& c) {
    w.i64(c.first);
    w.i32(c.count);
}
void write_fields(writer& w, const register_broker_cmd& c) {
    w.i32(c.node);
    w.address(c.rpc);
    w.address(c.kafka);
}
void write_fields(writer& w, const decommission_broker_cmd& c) {
    w.i32(c.node);
}
void write_fields(writer& w, const move_group_cmd& c) {
    w.group(c.id, c.replicas);
}

metadata_command read_fields(reader& r, uint8_t type) {
    switch (type) {
        case 0: {
            create_topic_cmd c;
            c.name = r.str();
            c.id = r.id();
            c.partitions = r.assignments();
            c.configs = r.map();
            c.groups = r.groups();
            return c;
        }
        case 1:
            return delete_topic_cmd{.id = r.id()};
        case 2: {
            create_partitions_cmd c;
            c.id = r.id();
            c.partitions = r.assignments();
            c.groups = r.groups();
            return c;
        }
        case 3: {
            alter_topic_configs_cmd c;
            c.id = r.id();
            c.set = r.map();
            c.remove = r.strings();
            return c;
        }
        case 4: {
            allocate_producer_ids_cmd c;
            c.first = r.i64();
            c.count = r.i32();
            return c;
        }
        case 5: {
            register_broker_cmd c;
            c.node = r.i32();
            c.rpc = r.address();
            c.kafka = r.address();
            return c;
        }
        case 6:
            return decommission_broker_cmd{.node = r.i32()};
        default: {
            replica_group g = r.group();
            return move_group_cmd{.id = g.id, .replicas = std::move(g.replicas)};
        }
    }
}

static_assert(std::variant_size_v<metadata_command> == 8,
              "a new command needs its type byte in read_fields and write_fields");

}  // namespace

std::vector<std::byte> encode(const metadata_command& cmd) {
    writer w;
    w.u8(metadata_command_version);
    w.u8(static_cast<uint8_t>(cmd.index()));
    std::visit([&](const auto& c) { write_fields(w, c); }, cmd);
    return w.take();
}

result<metadata_command> decode(std::span<const std::byte> bytes) {
    if (bytes.size() < 2) return cluster_errc::corrupt_command;
    const auto version = std::to_integer<uint8_t>(bytes[0]);
    const auto type = std::to_integer<uint8_t>(bytes[1]);
    reader r(bytes.subspan(2), version);
    if (version == 0) return cluster_errc::corrupt_command;
    if (version > metadata_command_version) return cluster_errc::unsupported_command_version;
    if (type >= std::variant_size_v<metadata_command>) return cluster_errc::corrupt_command;
    // Groups of fixed replica sets came with version 2.
    if (type == 7 && version < 2) return cluster_errc::corrupt_command;
    metadata_command cmd = read_fields(r, type);
    if (!r.ok() || !r.at_end()) return cluster_errc::corrupt_command;
    return cmd;
}

}  // namespace wharf
