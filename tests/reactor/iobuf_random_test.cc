// Random operation sequences on an iobuf and on slices of it, each checked against a std::string
// model after every step. The seed is printed first; WHARF_IOBUF_SEED=<seed> replays a run.

#include <sys/uio.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "reactor/iobuf.h"
#include "tests/reactor/iobuf_test_util.h"

namespace wharf {
namespace {

using namespace iobuf_test;

struct modeled {
    iobuf buf;
    std::string model;
};

class random_ops {
public:
    explicit random_ops(uint64_t seed) : _rng(seed) {}

    // Runs n operations, checking the main buffer after each and the slices now and then.
    void run(int n) {
        for (int i = 0; i < n; ++i) {
            SCOPED_TRACE(testing::Message() << "operation " << i);
            ASSERT_NO_FATAL_FAILURE(step());
            ASSERT_TRUE(matches(_main.buf, _main.model));
            if (i % 64 == 0 || i == n - 1) {
                for (auto& p : _pool) ASSERT_TRUE(matches(p.buf, p.model));
            }
        }
    }

private:
    size_t below(size_t n) { return n == 0 ? 0 : _rng() % n; }
    std::string bytes(size_t n) {
        std::string s(n + sizeof(uint64_t), '\0');
        for (size_t i = 0; i < n; i += sizeof(uint64_t)) {
            uint64_t r = _rng();
            std::memcpy(s.data() + i, &r, sizeof(r));
        }
        s.resize(n);
        return s;
    }
    // A random [pos, pos + len) of b; its ends often fall on fragment boundaries, where the
    // edge cases of slicing and rearranging are.
    std::pair<size_t, size_t> range(const iobuf& b) {
        std::vector<size_t> bounds{0};
        for (auto f : b.fragments()) bounds.push_back(bounds.back() + f.size());
        size_t pos = below(3) == 0 ? bounds[below(bounds.size())] : below(b.size() + 1);
        size_t end = pos + below(b.size() - pos + 1);
        if (below(3) == 0 && bounds.back() > pos) {
            end = *std::lower_bound(bounds.begin(), bounds.end(), end);
        }
        return {pos, end - pos};
    }
    size_t some_len() { return below(8) == 0 ? 1 + below(40000) : 1 + below(200); }

    void step() {
        switch (below(6)) {
            case 0:
                return grow();
            case 1:
                return slice();
            case 2:
                return shrink();
            case 3:
                return read();
            case 4:
                return receive();
            case 5:
                return copy_and_rewrite();
        }
    }

    void grow() {
        auto& [buf, model] = _main;
        std::string s = bytes(some_len());
        switch (below(4)) {
            case 0:
                append(buf, s);
                model += s;
                break;
            case 1:
                buf.append(from(s));
                model += s;
                break;
            case 2: {  // a slice of itself at its end
                auto [pos, len] = range(buf);
                buf.append(buf.share(pos, len));
                model += model.substr(pos, len);
                break;
            }
            case 3: {  // a slice that lived (and maybe grew) on its own comes back
                if (_pool.empty()) break;
                size_t k = below(_pool.size());
                buf.append(std::move(_pool[k].buf));
                model += _pool[k].model;
                _pool.erase(_pool.begin() + k);
                break;
            }
        }
        // Keep the buffer bounded so that checking it after every step stays cheap.
        if (model.size() > 100000) {
            size_t n = model.size() - 30000;
            buf.trim_front(n);
            model.erase(0, n);
        }
    }

    void slice() {
        if (below(2) == 0 || _pool.empty()) {
            auto [pos, len] = range(_main.buf);
            _pool.push_back({_main.buf.share(pos, len), _main.model.substr(pos, len)});
            if (_pool.size() > 6) _pool.erase(_pool.begin() + below(_pool.size()));
            return;
        }
        // Slices shrink and grow on their own: the main buffer must not notice.
        auto& p = _pool[below(_pool.size())];
        size_t cut = below(p.model.size() + 1);
        p.buf.trim_back(cut);
        p.model.resize(p.model.size() - cut);
        std::string s = bytes(some_len());
        append(p.buf, s);
        p.model += s;
    }

    void shrink() {
        auto& [buf, model] = _main;
        size_t n = std::min(below(4) == 0 ? below(model.size() + 1) : below(300), model.size());
        switch (below(5)) {
            case 0:
            case 1:
                buf.trim_front(n);
                model.erase(0, n);
                break;
            case 2:
            case 3:
                buf.trim_back(n);
                model.resize(model.size() - n);
                break;
            case 4:
                if (below(4) == 0) {
                    buf.clear();
                    model.clear();
                }
                break;
        }
    }

    void read() {
        auto& [buf, model] = _main;
        auto [pos, len] = range(buf);
        if (below(2) == 0) {
            auto v = buf.linearize(pos, len);
            ASSERT_EQ(as_view(v), std::string_view(model).substr(pos, len));
            ASSERT_EQ(buf.linearize(pos, len).data(), v.data());
        }
        std::string out(len, '\0');
        buf.copy_to(pos, out.data(), len);
        ASSERT_EQ(out, model.substr(pos, len));
        if (pos < model.size()) {
            ASSERT_EQ(buf.byte_at(pos), std::byte(model[pos]));
        }
        size_t max_iov = 1 + below(4);
        std::vector<iovec> iov;
        size_t covered = buf.to_iovecs(pos, len, iov, max_iov);
        std::string joined;
        for (auto& v : iov) joined.append(static_cast<const char*>(v.iov_base), v.iov_len);
        ASSERT_EQ(joined.size(), covered);
        ASSERT_EQ(joined, model.substr(pos, covered));
        ASSERT_TRUE(covered == len || iov.size() == max_iov);
    }

    // What a recv does: fill the reserved space, then commit a part of it (or all, or none).
    void receive() {
        size_t min_bytes = some_len();
        auto r = _main.buf.reserve(min_bytes);
        std::string filled;
        for (const iovec& v : r) {
            std::string s = bytes(v.iov_len);
            std::memcpy(v.iov_base, s.data(), s.size());
            filled += s;
        }
        ASSERT_GE(filled.size(), min_bytes);
        size_t n = below(3) == 0 ? filled.size() : below(filled.size() + 1);
        _main.buf.commit(n);
        _main.model += filled.substr(0, n);
    }

    // A deep copy is a buffer of its own, rewritable in place.
    void copy_and_rewrite() {
        modeled c{_main.buf.copy(), _main.model};
        ASSERT_TRUE(matches(c.buf, c.model));
        auto [pos, len] = range(c.buf);
        if (len > 0) {
            std::string s = bytes(len);
            std::memcpy(c.buf.writable(pos, len).data(), s.data(), len);
            c.model.replace(pos, len, s);
        }
        ASSERT_TRUE(matches(c.buf, c.model));
        if (below(2) == 0) _main = std::move(c);
    }

    std::mt19937_64 _rng;
    modeled _main;
    std::vector<modeled> _pool;  // slices of the main buffer, each with its own model
};

TEST(iobuf_random, matches_string_model) {
    uint64_t base_seed = std::random_device{}();
    if (const char* env = std::getenv("WHARF_IOBUF_SEED")) base_seed = std::strtoull(env, 0, 10);
    std::printf("iobuf_random: seed %llu (replay with WHARF_IOBUF_SEED=%llu)\n",
                static_cast<unsigned long long>(base_seed),
                static_cast<unsigned long long>(base_seed));
    size_t base = iobuf_allocated_bytes();
    for (uint64_t s = base_seed; s < base_seed + 24; ++s) {
        SCOPED_TRACE(testing::Message() << "seed " << s);
        random_ops(s).run(1500);
        if (HasFatalFailure()) return;
        ASSERT_EQ(iobuf_allocated_bytes(), base);  // every chunk came back
    }
}

}  // namespace
}  // namespace wharf
