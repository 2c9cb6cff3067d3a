#include "raft/vote_state.h"

#include <xxhash.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "log/durable_file.h"
#include "raft/errc.h"

namespace wharf {

namespace {

constexpr std::array<char, 4> magic = {'W', 'V', 'O', 'T'};
constexpr uint32_t version = 1;
constexpr size_t file_bytes = 32;
constexpr size_t checked_bytes = 24;

template <typename T>
void put(std::byte* at, T v) {
    std::memcpy(at, &v, sizeof(v));
}
template <typename T>
T get(const std::byte* at) {
    T v;
    std::memcpy(&v, at, sizeof(v));
    return v;
}

std::array<std::byte, file_bytes> encode(const vote_state& s) {
    std::array<std::byte, file_bytes> out{};
    std::memcpy(out.data(), magic.data(), magic.size());
    put<uint32_t>(out.data() + 4, version);
    put<int64_t>(out.data() + 8, s.term.value());
    put<int32_t>(out.data() + 16, s.voted_for ? s.voted_for->value() : -1);
    put<uint32_t>(out.data() + 20, 0);
    put<uint64_t>(out.data() + 24, XXH3_64bits(out.data(), checked_bytes));
    return out;
}

result<vote_state> decode(const std::vector<std::byte>& bytes) {
    if (bytes.size() != file_bytes || std::memcmp(bytes.data(), magic.data(), magic.size()) != 0 ||
        get<uint32_t>(bytes.data() + 4) != version ||
        get<uint64_t>(bytes.data() + 24) != XXH3_64bits(bytes.data(), checked_bytes)) {
        return raft_errc::corrupt_vote_state;
    }
    vote_state s;
    s.term = term_id(get<int64_t>(bytes.data() + 8));
    int32_t vote = get<int32_t>(bytes.data() + 16);
    if (s.term.value() < 0 || vote < -1) return raft_errc::corrupt_vote_state;
    if (vote >= 0) s.voted_for = node_id(vote);
    return s;
}

}  // namespace

task<result<vote_state>> load_vote_state(std::string dir) {
    auto bytes = co_await read_whole_file(dir + "/" + vote_file_name);
    if (!bytes) {
        if (bytes.error() == std::errc::no_such_file_or_directory) co_return vote_state{};
        co_return bytes.error();
    }
    co_return decode(*bytes);
}

task<status> save_vote_state(std::string dir, vote_state state) {
    auto bytes = encode(state);
    co_return co_await write_file_durably(std::move(dir), vote_file_name, bytes);
}

}  // namespace wharf
