// libFuzzer target: the internal RPC decoders. Bytes go to the frame decoder (net/rpc/frame.h) in
// pieces of a size the input chooses, and every frame's payload to the raft message decoder
// (raft/message_codec.h). Nothing may crash, leak or over-read; the frame decoder must deliver
// exactly the frames that were encoded into the stream; whatever raft message decodes must be
// valid and encode back to the very bytes it came from. Build and run: `make fuzz`
// (tests/README.md).
//
// Input layout. Byte 0 is a control byte: bit 0 chooses the mode, the other bits the piece size
// (1 to 128 bytes) in which the stream is fed.
//   raw mode (bit 0 clear): the rest of the input is the stream itself. Random bytes rarely carry
//     a valid checksum, so this mode mostly exercises the header checks and the error paths.
//   framed mode (bit 0 set): the rest is a sequence of [u16 length][length bytes] payloads; each is
//     encoded as a frame with a correct checksum, so the payloads reach the raft decoder. Bytes
//     left over that do not make a whole payload follow the frames raw.
//
// With WHARF_RPC_FUZZ_SEEDS=DIR in the environment, the target first writes seed inputs (one
// encoded message of each kind, and all of them in one stream) into DIR, which `make fuzz` passes
// as the corpus.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "net/rpc/broker_info.h"
#include "net/rpc/group_leaders.h"
#include "net/rpc/frame.h"
#include "raft/message_codec.h"
#include "reactor/iobuf.h"

using namespace wharf;

// The transport must fit an append request carrying one entry of the log's largest payload in a
// frame of the default maximum size (DESIGN.md section 5: any entry the log holds can be
// replicated). Both sides meet here and in core, which wires raft to net.
static_assert(rpc::default_max_frame_bytes >=
              rpc::frame_header_bytes + append_request_bytes(1, max_entry_payload_bytes));

namespace {

constexpr uint16_t version = rpc::max_protocol_version;
// Small, so that the size check is reachable with inputs of a few bytes' length prefixes.
constexpr size_t max_frame_bytes = 1 << 20;

std::vector<std::byte> bytes_of(const iobuf& b) {
    std::vector<std::byte> v(b.size());
    b.copy_to(0, v.data(), v.size());
    return v;
}

// The decoders' contracts on one payload: the raft message decoder's, and the broker_info and
// group_leaders decoders' (a decoded record encodes to the same bytes).
void check_payload(const iobuf& payload) {
    if (auto b = rpc::decode_broker_info(payload)) {
        auto again = rpc::encode_broker_info(*b);
        if (again != bytes_of(payload)) std::abort();
    }
    uint16_t version = 0;
    if (auto l = rpc::decode_group_leaders(payload, &version)) {
        if (rpc::encode_group_leaders(*l, version) != bytes_of(payload)) std::abort();
    }
    auto m = decode_raft_message(payload);
    if (!m) return;
    if (!validate_raft_message(*m)) std::abort();
    // The encoding is canonical: a decoded message encodes to the bytes it was decoded from.
    iobuf again = encode_raft_message(*m);
    if (!(again == payload)) std::abort();
}

// Builds the stream of the input and the payloads the decoder must deliver from it.
void build_stream(const uint8_t* data, size_t size, bool framed, iobuf& stream,
                  std::vector<std::vector<std::byte>>& expected) {
    size_t pos = 0;
    uint64_t correlation = 0;
    while (framed && size - pos >= 2) {
        uint16_t len;
        std::memcpy(&len, data + pos, 2);
        if (size - pos - 2 < len) break;
        iobuf payload = iobuf::copy_of(data + pos + 2, len);
        expected.push_back(bytes_of(payload));
        stream.append(rpc::encode_frame(version, rpc::frame_type::raft_message, correlation++,
                                        std::move(payload)));
        pos += 2 + size_t{len};
    }
    stream.append(data + pos, size - pos);
}

void write_seed(const std::string& dir, const std::string& name, const iobuf& body,
                uint8_t control) {
    std::ofstream f(dir + "/" + name, std::ios::binary);
    f.put(static_cast<char>(control));
    auto bytes = bytes_of(body);
    f.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

void write_seeds(const std::string& dir) {
    std::vector<raft_message> messages;
    messages.push_back(
        {node_id(1), node_id(2), vote_request{term_id(5), raft_index(9), term_id(4), true, false}});
    messages.push_back({node_id(2), node_id(1), vote_reply{term_id(5), true, true}});
    append_request a{term_id(3), raft_index(9), term_id(2), raft_index(8), {}};
    a.entries.push_back(
        {raft_index(10), term_id(2), entry_type::raft_noop, partition_id(0), iobuf()});
    a.entries.push_back({raft_index(11), term_id(3), entry_type::data, partition_id(4),
                         iobuf::copy_of("batch", 5)});
    messages.push_back({node_id(1), node_id(3), std::move(a)});
    messages.push_back(
        {node_id(3), node_id(1), append_reply{term_id(3), true, raft_index(11), raft_index(11)}});
    messages.push_back({node_id(1), node_id(2), timeout_now{term_id(6)}});
    messages.push_back({node_id(1), node_id(3),
                        install_snapshot{term_id(6), raft_index(40), term_id(5), raft_index(41),
                                         iobuf::copy_of("checkpoint", 10)}});
    iobuf all_framed;
    iobuf all_raw;
    for (size_t i = 0; i < messages.size(); ++i) {
        iobuf m = encode_raft_message(messages[i]);
        auto len = static_cast<uint16_t>(m.size());
        iobuf one = iobuf::copy_of(&len, 2);
        one.append(m.share());
        write_seed(dir, "message-" + std::to_string(i), one, 0x01 | 0x7e);
        all_framed.append(std::move(one));
        all_raw.append(rpc::encode_frame(version, rpc::frame_type::raft_message, i, std::move(m)));
    }
    write_seed(dir, "framed-all", all_framed, 0x01 | 0x0e);
    write_seed(dir, "raw-all", all_raw, 0x00 | 0x20);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    if (const char* dir = std::getenv("WHARF_RPC_FUZZ_SEEDS")) write_seeds(dir);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    const bool framed = (data[0] & 1) != 0;
    const size_t piece = 1 + (data[0] >> 1);
    iobuf stream;
    std::vector<std::vector<std::byte>> expected;
    build_stream(data + 1, size - 1, framed, stream, expected);

    rpc::frame_decoder decoder(version, max_frame_bytes);
    size_t delivered = 0;
    bool alternate = false;
    for (size_t pos = 0; pos < stream.size() && !decoder.failed(); pos += piece) {
        size_t n = std::min(piece, stream.size() - pos);
        // Half the pieces arrive as shared iobufs, half as copied spans.
        if (alternate) {
            (void)decoder.feed(stream.share(pos, n));
        } else {
            auto bytes = bytes_of(stream.share(pos, n));
            (void)decoder.feed(std::span<const std::byte>(bytes));
        }
        alternate = !alternate;
        for (;;) {
            auto f = decoder.next();
            if (!f) break;
            if (!*f) {
                // Waiting for bytes: it says how many, never more than one frame's worth.
                size_t needed = decoder.bytes_needed();
                if (needed == 0 || needed > max_frame_bytes) std::abort();
                break;
            }
            if (delivered < expected.size() && bytes_of((*f)->payload) != expected[delivered]) {
                std::abort();
            }
            ++delivered;
            check_payload((*f)->payload);
        }
    }
    // Every frame encoded into the stream came out; a failed decoder holds nothing.
    if (delivered < expected.size()) std::abort();
    if (decoder.failed() && decoder.buffered_bytes() != 0) std::abort();
    return 0;
}
