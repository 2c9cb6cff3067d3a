// Tests of reactor/iobuf.h: each operation's edge cases, zero-copy and accounting properties,
// reserve/commit and to_iovecs through real pipes, asserted preconditions, and the cross-shard
// release of chunks. iobuf_random_test.cc checks random operation sequences against a model.

#include "reactor/iobuf.h"

#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include "reactor/shard.h"
#include "tests/reactor/iobuf_test_util.h"

namespace wharf {
namespace {

using namespace iobuf_test;

TEST(iobuf, empty_buffer) {
    iobuf b;
    EXPECT_TRUE(b.empty());
    EXPECT_EQ(b.size(), 0u);
    EXPECT_EQ(b.fragment_count(), 0u);
    EXPECT_TRUE(b.fragments().empty());
    EXPECT_TRUE(b.share().empty());
    EXPECT_TRUE(b.copy().empty());
    EXPECT_TRUE(b.linearize(0, 0).empty());
    EXPECT_EQ(b, iobuf());
    EXPECT_TRUE(iobuf::copy_of(nullptr, 0).empty());
}

TEST(iobuf, small_appends_fill_one_chunk) {
    size_t base = iobuf_allocated_bytes();
    {
        iobuf b;
        std::string model;
        for (int i = 0; i < 10000; ++i) {
            char c = static_cast<char>('a' + i % 26);
            b.append(&c, 1);
            model += c;
        }
        EXPECT_EQ(b.fragment_count(), 1u);
        EXPECT_EQ(iobuf_allocated_bytes() - base, iobuf::default_chunk_bytes);
        EXPECT_TRUE(matches(b, model));
        // Past the first chunk's capacity, exactly one more chunk.
        std::string more(iobuf::default_chunk_bytes, 'x');
        append(b, more);
        model += more;
        EXPECT_EQ(b.fragment_count(), 2u);
        EXPECT_EQ(iobuf_allocated_bytes() - base, 2 * iobuf::default_chunk_bytes);
        EXPECT_TRUE(matches(b, model));
    }
    EXPECT_EQ(iobuf_allocated_bytes(), base);
}

TEST(iobuf, large_append_gets_a_chunk_of_its_own_size) {
    size_t base = iobuf_allocated_bytes();
    iobuf b;
    append(b, "0123456789");
    std::string big(100000, 'z');
    append(b, big);
    // The tail chunk's free space is filled first; the rest goes into one chunk, page-rounded.
    ASSERT_EQ(b.fragment_count(), 2u);
    EXPECT_EQ((*b.fragments().begin()).size(), iobuf::default_chunk_bytes - 64);
    size_t rest = 100010 - (iobuf::default_chunk_bytes - 64);
    size_t second = (64 + rest + 4095) / 4096 * 4096;
    EXPECT_EQ(iobuf_allocated_bytes() - base, iobuf::default_chunk_bytes + second);
    EXPECT_TRUE(matches(b, "0123456789" + big));
}

TEST(iobuf, share_is_zero_copy_and_refcounted) {
    size_t base = iobuf_allocated_bytes();
    iobuf a = from("hello, shared world");
    size_t after_alloc = iobuf_allocated_bytes();
    iobuf s = a.share(7, 6);
    EXPECT_EQ(iobuf_allocated_bytes(), after_alloc);
    EXPECT_EQ(first_data(s), first_data(a) + 7);
    EXPECT_TRUE(matches(s, "shared"));
    // The slice keeps the chunk alive after the original is gone (ASan checks the reads).
    a = iobuf();
    EXPECT_EQ(iobuf_allocated_bytes(), after_alloc);
    EXPECT_TRUE(matches(s, "shared"));
    s.clear();
    EXPECT_EQ(iobuf_allocated_bytes(), base);
}

TEST(iobuf, append_iobuf_moves_fragments_without_copying) {
    iobuf a = from("abc");
    iobuf b = from("def");
    const std::byte* b_data = first_data(b);
    size_t before = iobuf_allocated_bytes();
    a.append(std::move(b));
    EXPECT_EQ(iobuf_allocated_bytes(), before);
    EXPECT_TRUE(b.empty());
    ASSERT_EQ(a.fragment_count(), 2u);
    EXPECT_EQ((*std::next(a.fragments().begin())).data(), b_data);
    EXPECT_TRUE(matches(a, "abcdef"));
    // Adjacent slices of one chunk join back into one fragment, holding one reference.
    size_t base = iobuf_allocated_bytes();
    iobuf whole = from("0123456789");
    iobuf left = whole.share(0, 4);
    left.append(whole.share(4, 6));
    EXPECT_EQ(left.fragment_count(), 1u);
    EXPECT_TRUE(matches(left, "0123456789"));
    whole.clear();
    left.clear();
    EXPECT_EQ(iobuf_allocated_bytes(), base);
}

// The free space after a shared tail belongs to one buffer at most; neither side's appends may
// show through the other.
TEST(iobuf, appends_after_share_do_not_overwrite_each_other) {
    iobuf a;
    append(a, "abc");
    iobuf b = a.share();
    append(b, "XYZ");
    append(a, "def");
    EXPECT_TRUE(matches(a, "abcdef"));
    EXPECT_TRUE(matches(b, "abcXYZ"));
    EXPECT_EQ(a.fragment_count(), 1u);  // a kept its claim and appended in place
    EXPECT_EQ(b.fragment_count(), 2u);  // b had to take a new chunk

    // Trimmed bytes may still be seen through a share: no rewriting them.
    iobuf c = from("abcdef");
    iobuf tail = c.share(3, 3);
    c.trim_back(3);
    append(c, "XYZ");
    EXPECT_TRUE(matches(c, "abcXYZ"));
    EXPECT_TRUE(matches(tail, "def"));
}

TEST(iobuf, unshared_tail_is_reclaimed) {
    iobuf a;
    append(a, "abc");
    a.share().clear();  // a share that is gone leaves the chunk to a again
    append(a, "def");
    EXPECT_EQ(a.fragment_count(), 1u);
    iobuf s = a.share(0, 6);
    a.clear();  // the original is gone: the slice is the chunk's only user
    append(s, "ghi");
    EXPECT_EQ(s.fragment_count(), 1u);
    EXPECT_TRUE(matches(s, "abcdefghi"));
}

TEST(iobuf, copy_is_deep) {
    iobuf a;
    append(a, "abc");
    a.append(from("def"));
    iobuf c = a.copy();
    EXPECT_EQ(c, a);
    EXPECT_EQ(c.fragment_count(), 1u);
    EXPECT_NE(first_data(c), first_data(a));
    c.writable(0, 1)[0] = std::byte('X');  // the copy's chunk is its own
    EXPECT_TRUE(matches(a, "abcdef"));
    EXPECT_TRUE(matches(c, "Xbcdef"));
    EXPECT_FALSE(c == a);
    EXPECT_FALSE(from("abc") == from("abd"));
    EXPECT_FALSE(from("abc") == from("ab"));
}

TEST(iobuf, trims_release_chunks) {
    size_t base = iobuf_allocated_bytes();
    iobuf b;
    b.append(from("aaaa"));
    b.append(from("bbbb"));
    b.append(from("cccc"));
    size_t one_chunk = (iobuf_allocated_bytes() - base) / 3;
    b.trim_front(5);
    EXPECT_TRUE(matches(b, "bbbcccc"));
    EXPECT_EQ(iobuf_allocated_bytes() - base, 2 * one_chunk);
    b.trim_back(5);
    EXPECT_TRUE(matches(b, "bb"));
    EXPECT_EQ(iobuf_allocated_bytes() - base, one_chunk);
    b.trim_front(2);
    EXPECT_TRUE(b.empty());
    EXPECT_EQ(iobuf_allocated_bytes(), base);
}

TEST(iobuf, linearize) {
    size_t base = iobuf_allocated_bytes();
    iobuf b;
    b.append(from("abc"));
    b.append(from("def"));
    b.append(from("ghi"));
    // Inside one fragment: a view into it, nothing allocated.
    size_t before = iobuf_allocated_bytes();
    auto v = b.linearize(3, 2);
    EXPECT_EQ(as_view(v), "de");
    EXPECT_EQ(iobuf_allocated_bytes(), before);
    // Across fragments: one fresh fragment in the middle; "def" is released.
    v = b.linearize(1, 7);
    EXPECT_EQ(as_view(v), "bcdefgh");
    EXPECT_EQ(b.fragment_count(), 3u);
    EXPECT_TRUE(matches(b, "abcdefghi"));
    EXPECT_EQ(b.linearize(1, 7).data(), v.data());  // now free
    EXPECT_EQ(b.linearize(2, 3).data(), v.data() + 1);
    // A range reaching the end makes the fresh chunk the tail, which appends may then fill.
    v = b.linearize(0, 9);
    EXPECT_EQ(b.fragment_count(), 1u);
    append(b, "j");
    EXPECT_EQ(b.fragment_count(), 1u);
    EXPECT_TRUE(matches(b, "abcdefghij"));
    // Ranges starting or ending on a fragment boundary.
    b.append(from("klm"));
    b.append(from("nop"));
    EXPECT_EQ(as_view(b.linearize(0, 13)), "abcdefghijklm");  // both ends on boundaries
    EXPECT_EQ(b.fragment_count(), 2u);
    EXPECT_EQ(as_view(b.linearize(12, 4)), "mnop");  // ends on a boundary
    EXPECT_EQ(b.fragment_count(), 2u);
    EXPECT_EQ(as_view(b.linearize(0, 14)), "abcdefghijklmn");  // starts on one
    EXPECT_EQ(b.fragment_count(), 2u);
    EXPECT_TRUE(matches(b, "abcdefghijklmnop"));
    b.clear();
    EXPECT_EQ(iobuf_allocated_bytes(), base);
}

TEST(iobuf, to_iovecs_respects_range_and_limit) {
    iobuf b;
    for (std::string_view s : {"abc", "def", "ghi", "jkl"}) b.append(from(s));
    std::vector<iovec> iov;
    EXPECT_EQ(b.to_iovecs(2, 8, iov), 8u);
    ASSERT_EQ(iov.size(), 4u);
    EXPECT_EQ(iov[0].iov_len, 1u);
    EXPECT_EQ(iov[3].iov_len, 1u);
    iov.clear();
    EXPECT_EQ(b.to_iovecs(2, 8, iov, 2), 4u);  // "c" + "def", then out of iovecs
    EXPECT_EQ(iov.size(), 2u);
    EXPECT_EQ(b.to_iovecs(0, 0, iov), 0u);
    EXPECT_EQ(iov.size(), 2u);
}

// Bytes go out through writev and come back, so the iovecs are what the kernel reads.
TEST(iobuf, to_iovecs_through_writev) {
    std::mt19937 rng(7);
    iobuf b;
    std::string model;
    for (int i = 0; i < 20; ++i) {
        std::string s(1 + rng() % 3000, '\0');
        for (auto& ch : s) ch = static_cast<char>(rng());
        b.append(from(s));
        model += s;
    }
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    std::vector<iovec> iov;
    size_t n = b.to_iovecs(10, b.size() - 20, iov);
    ASSERT_EQ(writev(fds[1], iov.data(), static_cast<int>(iov.size())), static_cast<ssize_t>(n));
    std::string back(n, '\0');
    ASSERT_EQ(read(fds[0], back.data(), n), static_cast<ssize_t>(n));
    EXPECT_EQ(back, model.substr(10, model.size() - 20));
    close(fds[0]);
    close(fds[1]);
}

// readv straight into reserved space, as recv will do.
TEST(iobuf, reserve_and_commit_through_readv) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    auto feed = [&](size_t n, char c) {
        std::string s(n, c);
        EXPECT_EQ(write(fds[1], s.data(), n), static_cast<ssize_t>(n));
        return s;
    };
    size_t base = iobuf_allocated_bytes();
    iobuf b;
    std::string model;
    auto r = b.reserve(100);
    ASSERT_EQ(r.size(), 1u);  // nothing to extend yet: one new chunk
    model += feed(5000, 'a');
    ssize_t got = readv(fds[0], r.data(), static_cast<int>(r.size()));
    ASSERT_EQ(got, 5000);
    b.commit(5000);
    EXPECT_EQ(b.fragment_count(), 1u);
    EXPECT_TRUE(matches(b, model));

    // The tail chunk's free space is offered first, right after the last byte.
    r = b.reserve(20000);
    ASSERT_EQ(r.size(), 2u);
    EXPECT_EQ(r[0].iov_base, first_data(b) + 5000);
    EXPECT_GE(r[0].iov_len + r[1].iov_len, 20000u);
    iobuf snapshot = b.share();  // a share taken during a reservation is unaffected by commit
    model += feed(15000, 'b');
    got = readv(fds[0], r.data(), static_cast<int>(r.size()));
    ASSERT_EQ(got, 15000);
    b.commit(15000);
    EXPECT_EQ(b.fragment_count(), 2u);
    EXPECT_TRUE(matches(b, model));
    EXPECT_TRUE(matches(snapshot, model.substr(0, 5000)));

    // commit(0) abandons the reservation but keeps the spare chunk for the next one.
    r = b.reserve(b.size());  // more than the tail has left: needs a spare
    void* spare = r.back().iov_base;
    size_t held = iobuf_allocated_bytes();
    b.commit(0);
    EXPECT_EQ(iobuf_allocated_bytes(), held);
    EXPECT_TRUE(matches(b, model));
    r = b.reserve(1);
    EXPECT_EQ(r.back().iov_base, spare);
    b.commit(0);
    snapshot.clear();
    b.clear();
    EXPECT_EQ(iobuf_allocated_bytes(), base);
    close(fds[0]);
    close(fds[1]);
}

TEST(iobuf, reserve_skips_a_shared_tail) {
    iobuf a;
    append(a, "abc");
    iobuf s = a.share();
    auto r = s.reserve(10);  // a still owns the space after "abc"
    ASSERT_EQ(r.size(), 1u);
    EXPECT_NE(r[0].iov_base, first_data(a) + 3);
    std::memcpy(r[0].iov_base, "XYZ", 3);
    s.commit(3);
    append(a, "def");
    EXPECT_TRUE(matches(a, "abcdef"));
    EXPECT_TRUE(matches(s, "abcXYZ"));
}

TEST(iobuf, writable_rewrites_in_place) {
    iobuf b = from("offset=0000;payload");
    auto w = b.writable(7, 4);
    std::memcpy(w.data(), "1234", 4);
    EXPECT_TRUE(matches(b, "offset=1234;payload"));
    EXPECT_TRUE(b.writable(3, 0).empty());
}

TEST(iobuf_death, preconditions_are_asserted) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    iobuf b = from("0123456789");
    EXPECT_ASSERTS(b.share(5, 6), "share");
    EXPECT_ASSERTS(b.copy_to(11, nullptr, 0), "copy_to");
    EXPECT_ASSERTS(b.byte_at(10), "byte_at");
    EXPECT_ASSERTS(b.trim_front(11), "trim_front");
    EXPECT_ASSERTS(b.linearize(9, 2), "linearize");
    EXPECT_ASSERTS(b.append(std::move(b)), "appended to itself");
    EXPECT_ASSERTS(
        {
            iobuf s = b.share(0, 2);
            b.writable(0, 1);
        },
        "shared");
    EXPECT_ASSERTS(
        {
            iobuf two = from("ab");
            two.append(from("cd"));
            two.writable(1, 2);
        },
        "spans fragments");
    EXPECT_ASSERTS(
        {
            b.reserve(1);
            append(b, "x");
        },
        "reservation");
    EXPECT_ASSERTS(
        {
            b.reserve(1);
            b.reserve(1);
        },
        "second reservation");
    EXPECT_ASSERTS(b.commit(0), "without a reservation");
    EXPECT_ASSERTS(
        {
            auto r = b.reserve(1);
            b.commit(r[0].iov_len + (r.size() > 1 ? r[1].iov_len : 0) + 1);
        },
        "reserved bytes");
}

// --- cross-shard release ---

// Stands in for the cross-shard mesh: records the chunks it is handed, to be freed at home later.
std::mutex g_sent_mutex;
std::vector<std::pair<shard_id, detail::iobuf_chunk*>> g_sent;

void record_sent_home(shard_id owner, detail::iobuf_chunk* chunk) noexcept {
    std::lock_guard lock(g_sent_mutex);
    g_sent.emplace_back(owner, chunk);
}

std::vector<std::pair<shard_id, detail::iobuf_chunk*>> take_sent() {
    std::lock_guard lock(g_sent_mutex);
    return std::exchange(g_sent, {});
}

class foreign_free_test : public testing::Test {
protected:
    void SetUp() override { take_sent(); }
    void TearDown() override { detail::set_foreign_free_hook(nullptr); }
};

// Runs fn on a fresh thread that believes it is shard s, and waits for it.
template <typename Fn>
void on_shard(uint32_t s, Fn&& fn) {
    std::thread t([&] {
        detail::current_shard = shard_id(s);
        fn();
    });
    t.join();
}

// Buffers of `count` single-chunk pieces each, so that the chunks can be counted.
std::vector<iobuf> make_buffers(int buffers, int pieces) {
    std::vector<iobuf> out;
    for (int i = 0; i < buffers; ++i) {
        iobuf b;
        for (int k = 0; k < pieces; ++k) b.append(from(std::string(1000 + k, char('a' + k))));
        out.push_back(std::move(b));
    }
    return out;
}

TEST_F(foreign_free_test, chunks_dropped_away_from_home_are_sent_home) {
    detail::set_foreign_free_hook(record_sent_home);
    std::vector<iobuf> bufs;
    size_t base0 = 0, held = 0;
    on_shard(0, [&] {
        base0 = iobuf_allocated_bytes();
        bufs = make_buffers(4, 3);
        held = iobuf_allocated_bytes() - base0;
    });
    ASSERT_GT(held, 0u);
    on_shard(1, [&] {
        size_t base1 = iobuf_allocated_bytes();
        EXPECT_EQ(to_string(bufs[0]).substr(0, 3), "aaa");
        bufs.clear();
        EXPECT_EQ(iobuf_allocated_bytes(), base1);  // nothing was this shard's
    });
    auto sent = take_sent();
    ASSERT_EQ(sent.size(), 12u);
    on_shard(0, [&] {
        EXPECT_EQ(iobuf_allocated_bytes(), base0 + held);  // not freed until it is home
        for (auto [owner, chunk] : sent) {
            EXPECT_EQ(owner, shard_id(0));
            detail::iobuf_free_chunk_on_owner(chunk);
        }
        EXPECT_EQ(iobuf_allocated_bytes(), base0);
    });
}

TEST_F(foreign_free_test, chunks_dropped_at_home_are_freed_there) {
    detail::set_foreign_free_hook(record_sent_home);
    on_shard(0, [&] {
        size_t base = iobuf_allocated_bytes();
        make_buffers(2, 2).clear();
        EXPECT_EQ(iobuf_allocated_bytes(), base);
    });
    EXPECT_TRUE(take_sent().empty());
}

// Slices of the same chunks dropped on two shards at once: each chunk goes home exactly once.
TEST_F(foreign_free_test, shared_chunks_released_on_two_shards) {
    detail::set_foreign_free_hook(record_sent_home);
    std::vector<iobuf> for_1, for_2;
    size_t base0 = 0;
    on_shard(0, [&] {
        base0 = iobuf_allocated_bytes();
        auto bufs = make_buffers(50, 4);
        for (auto& b : bufs) {
            for (int k = 0; k < 8; ++k) {
                for_1.push_back(b.share(k, b.size() - 2 * k));
                for_2.push_back(b.share(2 * k, b.size() - 2 * k));
            }
        }
    });  // the originals are dropped at home; the slices keep the chunks alive
    std::thread t1([&] {
        detail::current_shard = shard_id(1);
        for_1.clear();
    });
    std::thread t2([&] {
        detail::current_shard = shard_id(2);
        for_2.clear();
    });
    t1.join();
    t2.join();
    auto sent = take_sent();
    std::set<detail::iobuf_chunk*> unique;
    for (auto [owner, chunk] : sent) unique.insert(chunk);
    EXPECT_EQ(sent.size(), 200u);
    EXPECT_EQ(unique.size(), sent.size());
    on_shard(0, [&] {
        for (auto [owner, chunk] : sent) detail::iobuf_free_chunk_on_owner(chunk);
        EXPECT_EQ(iobuf_allocated_bytes(), base0);
    });
}

// Without a hook (tests, shutdown) or on a thread that is no shard, chunks are freed where they
// are dropped, and their owner's count is still debited.
TEST_F(foreign_free_test, without_a_hook_chunks_are_freed_in_place) {
    std::vector<iobuf> bufs;
    size_t base0 = 0, base1 = 0;
    on_shard(0, [&] {
        base0 = iobuf_allocated_bytes();
        bufs = make_buffers(3, 2);
    });
    on_shard(1, [&] {
        base1 = iobuf_allocated_bytes();
        bufs.clear();
        EXPECT_EQ(iobuf_allocated_bytes(), base1);
    });
    on_shard(0, [&] { EXPECT_EQ(iobuf_allocated_bytes(), base0); });

    detail::set_foreign_free_hook(record_sent_home);
    on_shard(0, [&] { bufs = make_buffers(3, 2); });
    bufs.clear();  // this thread is no shard: it has no ring to send on
    EXPECT_TRUE(take_sent().empty());
    on_shard(0, [&] { EXPECT_EQ(iobuf_allocated_bytes(), base0); });
}

TEST_F(foreign_free_test, freeing_away_from_home_is_asserted) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    detail::set_foreign_free_hook(record_sent_home);
    std::vector<iobuf> bufs;
    on_shard(0, [&] { bufs = make_buffers(1, 1); });
    on_shard(1, [&] { bufs.clear(); });
    auto sent = take_sent();
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_ASSERTS(detail::iobuf_free_chunk_on_owner(sent[0].second), "freed on shard");
    on_shard(0, [&] { detail::iobuf_free_chunk_on_owner(sent[0].second); });
}

}  // namespace
}  // namespace wharf
