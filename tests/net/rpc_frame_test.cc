// The internal RPC wire format (net/rpc/): frame layout, the streaming decoder under every split
// and every corruption, the size limit checked before a payload is buffered, and the handshake
// with every reply status.

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <xxhash.h>

#include "net/rpc/errc.h"
#include "net/rpc/frame.h"
#include "net/rpc/handshake.h"
#include "reactor/iobuf.h"

namespace wharf::rpc {
namespace {

std::string to_string(const iobuf& b) {
    std::string s(b.size(), '\0');
    b.copy_to(0, s.data(), s.size());
    return s;
}

std::vector<std::byte> to_bytes(const iobuf& b) {
    std::vector<std::byte> v(b.size());
    b.copy_to(0, v.data(), v.size());
    return v;
}

iobuf payload_of(size_t n, char seed) {
    std::string s(n, '\0');
    for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>(seed + i * 7);
    return iobuf::copy_of(s.data(), s.size());
}

template <typename T>
T le(std::span<const std::byte> b, size_t off) {
    T v;
    std::memcpy(&v, b.data() + off, sizeof(T));
    return v;
}

uint64_t seed_from_env(const char* name) {
    const char* s = std::getenv(name);
    uint64_t seed = s != nullptr ? std::strtoull(s, nullptr, 10) : std::random_device{}();
    std::printf("%s=%llu\n", name, static_cast<unsigned long long>(seed));
    return seed;
}

// Feeds everything and returns what the decoder made of it: the frames before the first error,
// and that error (or none).
struct decoded {
    std::vector<frame> frames;
    std::error_code error;
};

decoded drain(frame_decoder& d) {
    decoded out;
    for (;;) {
        auto r = d.next();
        if (!r) {
            out.error = r.error();
            return out;
        }
        if (!*r) return out;
        out.frames.push_back(std::move(**r));
    }
}

// Feeds a damaged frame, then (when the decoder waits for more, as after a corrupt length) zero
// bytes up to what it asks for, and returns the error it must end with.
std::error_code error_of_damaged(const std::vector<std::byte>& bytes, size_t max_frame_bytes) {
    frame_decoder d(max_protocol_version, max_frame_bytes);
    (void)d.feed(std::span<const std::byte>(bytes));
    auto got = drain(d);
    EXPECT_TRUE(got.frames.empty()) << "a damaged frame decoded";
    if (got.error) return got.error;
    std::vector<std::byte> pad(d.bytes_needed());
    EXPECT_FALSE(pad.empty());
    (void)d.feed(std::span<const std::byte>(pad));
    got = drain(d);
    EXPECT_TRUE(got.frames.empty()) << "a damaged frame decoded after padding";
    return got.error;
}

TEST(rpc_frame, header_layout) {
    iobuf f = encode_frame(1, frame_type::raft_message, 0x0102030405060708ULL, payload_of(5, 'a'));
    auto b = to_bytes(f);
    ASSERT_EQ(b.size(), frame_header_bytes + 5);
    EXPECT_EQ(le<uint8_t>(b, 0), 0x57);
    EXPECT_EQ(le<uint8_t>(b, 1), 1);
    EXPECT_EQ(le<uint16_t>(b, 2), 1);
    EXPECT_EQ(le<uint32_t>(b, 4), 5u);
    EXPECT_EQ(le<uint64_t>(b, 8), 0x0102030405060708ULL);
    // The checksum covers bytes [0, 16) of the header and then the payload, computed here
    // independently of the codec.
    std::vector<std::byte> covered(b.begin(), b.begin() + 16);
    covered.insert(covered.end(), b.begin() + 24, b.end());
    EXPECT_EQ(le<uint64_t>(b, 16), XXH3_64bits(covered.data(), covered.size()));
}

TEST(rpc_frame, round_trip_shares_payload) {
    for (size_t n : {size_t{0}, size_t{1}, size_t{100}, size_t{40000}}) {
        iobuf payload = payload_of(n, 'x');
        std::string want = to_string(payload);
        const std::byte* first = n > 0 ? (*payload.fragments().begin()).data() : nullptr;
        frame_decoder d(1);
        ASSERT_TRUE(d.feed(encode_frame(1, frame_type::raft_message, 42 + n, std::move(payload))));
        auto got = drain(d);
        ASSERT_FALSE(got.error) << got.error.message();
        ASSERT_EQ(got.frames.size(), 1u);
        EXPECT_EQ(got.frames[0].type, frame_type::raft_message);
        EXPECT_EQ(got.frames[0].correlation_id, 42 + n);
        EXPECT_EQ(to_string(got.frames[0].payload), want);
        if (n > 0) {
            // Neither encoding nor decoding copied the payload: the frame views its bytes.
            EXPECT_EQ((*got.frames[0].payload.fragments().begin()).data(), first);
        }
        EXPECT_EQ(d.buffered_bytes(), 0u);
        EXPECT_EQ(d.bytes_needed(), frame_header_bytes);
    }
}

TEST(rpc_frame, unknown_type_passes_through) {
    frame_decoder d(1);
    ASSERT_TRUE(d.feed(encode_frame(1, static_cast<frame_type>(0xbeef), 7, payload_of(3, 'q'))));
    auto got = drain(d);
    ASSERT_EQ(got.frames.size(), 1u);
    EXPECT_EQ(static_cast<uint16_t>(got.frames[0].type), 0xbeef);
}

// A stream of frames of assorted sizes, and its expected decoding.
struct stream {
    iobuf bytes;
    std::vector<std::string> payloads;
};

stream make_stream(size_t frames) {
    stream s;
    for (size_t i = 0; i < frames; ++i) {
        iobuf p = payload_of((i * 997) % 3000, static_cast<char>('a' + i));
        s.payloads.push_back(to_string(p));
        s.bytes.append(encode_frame(1, frame_type::raft_message, i, std::move(p)));
    }
    return s;
}

void expect_stream(const decoded& got, const stream& s) {
    ASSERT_FALSE(got.error) << got.error.message();
    ASSERT_EQ(got.frames.size(), s.payloads.size());
    for (size_t i = 0; i < got.frames.size(); ++i) {
        EXPECT_EQ(got.frames[i].correlation_id, i);
        EXPECT_EQ(to_string(got.frames[i].payload), s.payloads[i]) << "frame " << i;
    }
}

TEST(rpc_frame, several_frames_in_one_buffer) {
    stream s = make_stream(6);
    frame_decoder d(1);
    ASSERT_TRUE(d.feed(std::move(s.bytes)));
    expect_stream(drain(d), s);
    EXPECT_EQ(d.buffered_bytes(), 0u);
}

TEST(rpc_frame, byte_at_a_time) {
    stream s = make_stream(4);
    auto bytes = to_bytes(s.bytes);
    frame_decoder d(1);
    decoded got;
    for (size_t i = 0; i < bytes.size(); ++i) {
        // The decoder never asks for more than the frame it is in still lacks.
        ASSERT_GE(d.bytes_needed(), 1u);
        ASSERT_TRUE(d.feed(std::span<const std::byte>(&bytes[i], 1)));
        auto more = drain(d);
        ASSERT_FALSE(more.error);
        for (auto& f : more.frames) got.frames.push_back(std::move(f));
    }
    expect_stream(got, s);
    EXPECT_EQ(d.bytes_needed(), frame_header_bytes);
}

TEST(rpc_frame, random_splits) {
    std::mt19937_64 rng(seed_from_env("WHARF_RPC_SEED"));
    stream s = make_stream(8);
    for (int round = 0; round < 50; ++round) {
        frame_decoder d(1);
        decoded got;
        size_t pos = 0;
        while (pos < s.bytes.size()) {
            size_t n = std::min<size_t>(1 + rng() % 5000, s.bytes.size() - pos);
            ASSERT_TRUE(d.feed(s.bytes.share(pos, n)));
            pos += n;
            auto more = drain(d);
            ASSERT_FALSE(more.error);
            for (auto& f : more.frames) got.frames.push_back(std::move(f));
        }
        expect_stream(got, s);
    }
}

TEST(rpc_frame, every_header_bit_flip_is_refused) {
    // A small maximum, so that a flipped high bit of the length is refused as too large.
    constexpr size_t max_frame = 4096;
    auto good = to_bytes(encode_frame(1, frame_type::raft_message, 99, payload_of(300, 'h')));
    for (size_t pos = 0; pos < frame_header_bytes; ++pos) {
        for (int bit = 0; bit < 8; ++bit) {
            auto bad = good;
            bad[pos] ^= std::byte(1u << bit);
            std::error_code want;
            if (pos == 0) {
                want = rpc_errc::bad_magic;
            } else if (pos == 1) {
                want = rpc_errc::unsupported_version;
            } else if (pos >= 4 && pos < 8 &&
                       le<uint32_t>(bad, 4) + frame_header_bytes > max_frame) {
                want = rpc_errc::frame_too_large;
            } else {
                want = rpc_errc::checksum_mismatch;
            }
            EXPECT_EQ(error_of_damaged(bad, max_frame), want) << "byte " << pos << " bit " << bit;
        }
    }
}

TEST(rpc_frame, payload_bit_flip_anywhere_is_a_checksum_mismatch) {
    auto good = to_bytes(encode_frame(1, frame_type::raft_message, 5, payload_of(200, 'p')));
    for (size_t pos = frame_header_bytes; pos < good.size(); ++pos) {
        for (int bit = 0; bit < 8; ++bit) {
            auto bad = good;
            bad[pos] ^= std::byte(1u << bit);
            EXPECT_EQ(error_of_damaged(bad, default_max_frame_bytes),
                      make_error_code(rpc_errc::checksum_mismatch))
                << "byte " << pos << " bit " << bit;
        }
    }
}

TEST(rpc_frame, oversized_frame_refused_from_its_header) {
    constexpr size_t max_frame = 1024;
    // Exactly at the limit is accepted.
    {
        frame_decoder d(1, max_frame);
        ASSERT_TRUE(d.feed(encode_frame(1, frame_type::raft_message, 1,
                                        payload_of(max_frame - frame_header_bytes, 'm'))));
        auto got = drain(d);
        ASSERT_FALSE(got.error);
        EXPECT_EQ(got.frames.size(), 1u);
    }
    // One byte more is refused as soon as the header is in, before any payload byte.
    auto big = to_bytes(encode_frame(1, frame_type::raft_message, 1,
                                     payload_of(max_frame - frame_header_bytes + 1, 'm')));
    frame_decoder d(1, max_frame);
    ASSERT_TRUE(d.feed(std::span<const std::byte>(big.data(), frame_header_bytes - 1)));
    EXPECT_EQ(d.bytes_needed(), 1u);
    auto fed = d.feed(std::span<const std::byte>(big.data() + frame_header_bytes - 1, 1));
    EXPECT_EQ(fed.error(), make_error_code(rpc_errc::frame_too_large));
    EXPECT_EQ(d.buffered_bytes(), 0u);
    EXPECT_EQ(d.bytes_needed(), 0u);
    // The error sticks: later bytes are dropped, even a valid frame.
    EXPECT_EQ(d.feed(encode_frame(1, frame_type::raft_message, 2, payload_of(10, 'v'))).error(),
              make_error_code(rpc_errc::frame_too_large));
    EXPECT_EQ(d.buffered_bytes(), 0u);
    EXPECT_EQ(drain(d).error, make_error_code(rpc_errc::frame_too_large));
    EXPECT_TRUE(d.failed());
}

TEST(rpc_frame, largest_describable_length_is_refused_not_allocated) {
    std::vector<std::byte> h(frame_header_bytes);
    h[0] = std::byte{0x57};
    h[1] = std::byte{1};
    uint32_t len = 0xffffffffu;
    std::memcpy(h.data() + 4, &len, 4);
    frame_decoder d(1);
    EXPECT_EQ(d.feed(std::span<const std::byte>(h)).error(),
              make_error_code(rpc_errc::frame_too_large));
}

TEST(rpc_frame, error_after_good_frames_keeps_the_good_ones) {
    stream s = make_stream(3);
    auto bytes = to_bytes(s.bytes);
    bytes.push_back(std::byte{0x00});  // a fourth "frame" with a bad magic
    bytes.resize(bytes.size() + frame_header_bytes);
    frame_decoder d(1);
    (void)d.feed(std::span<const std::byte>(bytes));
    auto got = drain(d);
    EXPECT_EQ(got.frames.size(), 3u);
    EXPECT_EQ(got.error, make_error_code(rpc_errc::bad_magic));
}

// ---- handshake

cluster_id cluster(uint8_t fill) {
    cluster_id c;
    c.bytes.fill(fill);
    c.bytes[15] = 0x99;
    return c;
}

acceptor_identity acceptor() {
    return {cluster(0xc1), node_id(2), 4, min_protocol_version, max_protocol_version};
}

handshake_request dialer(uint32_t shard) {
    handshake_request r;
    r.cluster = cluster(0xc1);
    r.node = node_id(7);
    r.target_shard = shard_id(shard);
    return r;
}

TEST(rpc_handshake, request_layout_and_round_trip) {
    auto sent = dialer(3);
    auto b = encode_handshake(sent);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(b.data()), 4), "WRPC");
    EXPECT_EQ(le<uint16_t>(b, 4), min_protocol_version);
    EXPECT_EQ(le<uint16_t>(b, 6), max_protocol_version);
    EXPECT_EQ(le<uint8_t>(b, 8), 0xc1);
    EXPECT_EQ(le<int32_t>(b, 24), 7);
    EXPECT_EQ(le<uint32_t>(b, 28), 3u);
    EXPECT_EQ(le<uint64_t>(b, 32), XXH3_64bits(b.data(), 32));
    auto got = decode_handshake(b);
    ASSERT_TRUE(got);
    EXPECT_EQ(got->min_version, sent.min_version);
    EXPECT_EQ(got->max_version, sent.max_version);
    EXPECT_EQ(got->cluster, sent.cluster);
    EXPECT_EQ(got->node, sent.node);
    EXPECT_EQ(got->target_shard, sent.target_shard);
}

TEST(rpc_handshake, reply_layout_and_round_trip) {
    handshake_reply r{handshake_status::no_such_shard, 1, node_id(9), 12};
    auto b = encode_handshake_reply(r);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(b.data()), 4), "WRPR");
    EXPECT_EQ(le<uint16_t>(b, 4), 4);
    EXPECT_EQ(le<uint64_t>(b, 16), XXH3_64bits(b.data(), 16));
    auto got = decode_handshake_reply(b);
    ASSERT_TRUE(got);
    EXPECT_EQ(got->status, r.status);
    EXPECT_EQ(got->version, 1);
    EXPECT_EQ(got->node, node_id(9));
    EXPECT_EQ(got->shard_count, 12u);
}

// Rewrites the checksum of damaged handshake bytes so that only the field change is judged.
template <size_t N>
void reseal(std::array<std::byte, N>& b) {
    uint64_t c = XXH3_64bits(b.data(), N - 8);
    std::memcpy(b.data() + N - 8, &c, 8);
}

// The acceptor's reply to the bytes, sent through the reply codec and judged by the dialer.
struct exchange {
    handshake_reply reply;
    result<uint16_t> outcome;
};

exchange shake(const std::array<std::byte, handshake_request_bytes>& bytes,
               const handshake_request& sent) {
    handshake_reply reply = answer_handshake(decode_handshake(bytes), acceptor());
    auto wire = decode_handshake_reply(encode_handshake_reply(reply));
    EXPECT_TRUE(wire);
    EXPECT_EQ(wire->status, reply.status);
    EXPECT_EQ(wire->node, node_id(2));
    EXPECT_EQ(wire->shard_count, 4u);
    return {reply, handshake_outcome(*wire, sent)};
}

TEST(rpc_handshake, every_reply_status) {
    auto sent = dialer(3);
    auto good = encode_handshake(sent);

    auto ok = shake(good, sent);
    EXPECT_EQ(ok.reply.status, handshake_status::accepted);
    ASSERT_TRUE(ok.outcome);
    EXPECT_EQ(*ok.outcome, max_protocol_version);

    auto magic = good;
    magic[0] = std::byte{'K'};
    auto m = shake(magic, sent);
    EXPECT_EQ(m.reply.status, handshake_status::bad_magic);
    EXPECT_EQ(m.outcome.error(), make_error_code(rpc_errc::bad_magic));

    auto flipped = good;
    flipped[12] ^= std::byte{0x10};
    auto c = shake(flipped, sent);
    EXPECT_EQ(c.reply.status, handshake_status::checksum_mismatch);
    EXPECT_EQ(c.outcome.error(), make_error_code(rpc_errc::checksum_mismatch));

    auto inverted = good;  // min_version 2 > max_version 1
    inverted[4] = std::byte{2};
    reseal(inverted);
    auto bad = shake(inverted, sent);
    EXPECT_EQ(bad.reply.status, handshake_status::malformed);
    EXPECT_EQ(bad.outcome.error(), make_error_code(rpc_errc::malformed_handshake));

    auto future = sent;
    future.min_version = max_protocol_version + 1;
    future.max_version = max_protocol_version + 3;
    auto v = shake(encode_handshake(future), future);
    EXPECT_EQ(v.reply.status, handshake_status::unsupported_version);
    EXPECT_EQ(v.reply.version, max_protocol_version);
    EXPECT_EQ(v.outcome.error(), make_error_code(rpc_errc::unsupported_version));

    auto other = sent;
    other.cluster = cluster(0xc2);
    auto w = shake(encode_handshake(other), other);
    EXPECT_EQ(w.reply.status, handshake_status::wrong_cluster);
    EXPECT_EQ(w.outcome.error(), make_error_code(rpc_errc::wrong_cluster));

    auto far = dialer(4);  // the acceptor has shards 0..3
    auto s = shake(encode_handshake(far), far);
    EXPECT_EQ(s.reply.status, handshake_status::no_such_shard);
    EXPECT_EQ(s.outcome.error(), make_error_code(rpc_errc::no_such_shard));
}

TEST(rpc_handshake, negotiates_the_newest_common_version) {
    acceptor_identity self = acceptor();
    self.max_version = 5;  // a future acceptor speaking 1..5
    auto sent = dialer(0);
    sent.max_version = 3;
    auto reply = answer_handshake(decode_handshake(encode_handshake(sent)), self);
    EXPECT_EQ(reply.status, handshake_status::accepted);
    EXPECT_EQ(reply.version, 3);
    // An acceptance that names a version the dialer never offered is refused by the dialer.
    reply.version = 4;
    EXPECT_EQ(handshake_outcome(reply, sent).error(),
              make_error_code(rpc_errc::malformed_handshake));
}

TEST(rpc_handshake, bad_replies) {
    auto good = encode_handshake_reply({handshake_status::accepted, 1, node_id(2), 4});
    auto unknown = good;
    unknown[4] = std::byte{7};
    reseal(unknown);
    EXPECT_EQ(decode_handshake_reply(unknown).error(),
              make_error_code(rpc_errc::malformed_handshake));
    auto flipped = good;
    flipped[9] ^= std::byte{1};
    EXPECT_EQ(decode_handshake_reply(flipped).error(),
              make_error_code(rpc_errc::checksum_mismatch));
    // A request reflected back at the dialer is no reply.
    auto request = encode_handshake(dialer(0));
    std::array<std::byte, handshake_reply_bytes> reflected;
    std::memcpy(reflected.data(), request.data(), reflected.size());
    EXPECT_EQ(decode_handshake_reply(reflected).error(), make_error_code(rpc_errc::bad_magic));
}

TEST(rpc_errors, messages) {
    EXPECT_STREQ(rpc_category().name(), "wharf.rpc");
    for (int e = 1; e <= static_cast<int>(rpc_errc::malformed_handshake); ++e) {
        EXPECT_EQ(std::error_code(e, rpc_category()).message().find("unknown"), std::string::npos);
    }
    for (uint16_t s = 0; s <= max_handshake_status; ++s) {
        EXPECT_STRNE(to_string(static_cast<handshake_status>(s)), "unknown");
    }
}

}  // namespace
}  // namespace wharf::rpc
