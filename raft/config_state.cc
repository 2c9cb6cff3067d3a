#include "raft/config_state.h"

#include <xxhash.h>

#include <array>
#include <cstring>

#include "log/durable_file.h"
#include "raft/errc.h"

namespace wharf {

namespace {

constexpr std::array<char, 4> magic = {'W', 'C', 'F', 'G'};
constexpr uint32_t version = 1;
// A history holds the committed configuration and the uncommitted ones after it: a handful.
constexpr uint32_t max_history = 1024;

class writer {
public:
    template <typename T>
    void put(T v) {
        auto at = bytes.size();
        bytes.resize(at + sizeof(T));
        std::memcpy(bytes.data() + at, &v, sizeof(T));
    }
    void put_history(const std::vector<config_entry>& h) {
        put(static_cast<uint32_t>(h.size()));
        for (const config_entry& e : h) {
            put(e.index.value());
            put(e.term.value());
            iobuf members = encode_config(e.config);
            put(static_cast<uint32_t>(members.size()));
            auto at = bytes.size();
            bytes.resize(at + members.size());
            members.copy_to(0, bytes.data() + at, members.size());
        }
    }
    std::vector<std::byte> bytes;
};

class reader {
public:
    explicit reader(std::span<const std::byte> in) : _in(in) {}
    template <typename T>
    bool get(T& v) {
        if (_in.size() < sizeof(T)) return false;
        std::memcpy(&v, _in.data(), sizeof(T));
        _in = _in.subspan(sizeof(T));
        return true;
    }
    template <typename S>
    bool get_id(S& out) {
        typename S::value_type v;
        if (!get(v) || v < 0) return false;
        out = S(v);
        return true;
    }
    bool get_history(std::vector<config_entry>& h) {
        uint32_t count = 0;
        if (!get(count) || count > max_history) return false;
        for (uint32_t i = 0; i < count; ++i) {
            config_entry e;
            uint32_t n = 0;
            if (!get_id(e.index) || !get_id(e.term) || !get(n) || n > _in.size()) return false;
            auto members = decode_config(_in.first(n));
            if (!members) return false;
            _in = _in.subspan(n);
            e.config = std::move(*members);
            // Oldest first, each later than the one before.
            if (!h.empty() && e.index <= h.back().index) return false;
            h.push_back(std::move(e));
        }
        return true;
    }
    bool done() const noexcept { return _in.empty(); }

private:
    std::span<const std::byte> _in;
};

}  // namespace

const std::vector<config_entry>& config_state::at_start(raft_index snapshot_index,
                                                        term_id snapshot_term) const noexcept {
    if (installing && installing->index == snapshot_index && installing->term == snapshot_term) {
        return installing->history;
    }
    return history;
}

std::vector<std::byte> encode_config_state(const config_state& s) {
    writer w;
    for (char c : magic) w.put(c);
    w.put(version);
    w.put_history(s.history);
    w.put<uint8_t>(s.installing ? 1 : 0);
    if (s.installing) {
        w.put(s.installing->index.value());
        w.put(s.installing->term.value());
        w.put_history(s.installing->history);
    }
    w.put<uint64_t>(XXH3_64bits(w.bytes.data(), w.bytes.size()));
    return std::move(w.bytes);
}

result<config_state> decode_config_state(std::span<const std::byte> bytes) {
    constexpr size_t sum_bytes = sizeof(uint64_t);
    if (bytes.size() < magic.size() + sizeof(version) + sum_bytes) {
        return raft_errc::corrupt_config_state;
    }
    auto body = bytes.first(bytes.size() - sum_bytes);
    uint64_t sum = 0;
    std::memcpy(&sum, bytes.data() + body.size(), sum_bytes);
    if (sum != XXH3_64bits(body.data(), body.size()) ||
        std::memcmp(body.data(), magic.data(), magic.size()) != 0) {
        return raft_errc::corrupt_config_state;
    }
    reader r(body.subspan(magic.size()));
    uint32_t v = 0;
    uint8_t installing = 0;
    config_state s;
    if (!r.get(v) || v != version || !r.get_history(s.history) || !r.get(installing) ||
        installing > 1) {
        return raft_errc::corrupt_config_state;
    }
    if (installing == 1) {
        config_state::install in;
        if (!r.get_id(in.index) || !r.get_id(in.term) || !r.get_history(in.history)) {
            return raft_errc::corrupt_config_state;
        }
        s.installing = std::move(in);
    }
    if (!r.done()) return raft_errc::corrupt_config_state;
    return s;
}

task<result<config_state>> load_config_state(std::string dir) {
    auto bytes = co_await read_whole_file(dir + "/" + config_file_name);
    if (!bytes) {
        if (bytes.error() == std::errc::no_such_file_or_directory) co_return config_state{};
        co_return bytes.error();
    }
    co_return decode_config_state(*bytes);
}

task<status> save_config_state(std::string dir, const config_state& state) {
    const std::vector<std::byte> bytes = encode_config_state(state);
    co_return co_await write_file_durably(std::move(dir), config_file_name, bytes);
}

}  // namespace wharf
