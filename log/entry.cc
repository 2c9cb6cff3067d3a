#include "log/entry.h"

#include <bit>
#include <cstring>

// The state type of the streaming API is only public with static linking declarations.
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include "log/errc.h"

namespace wharf {

namespace {

// Entries are written with memcpy of native integers; the format is little-endian.
static_assert(std::endian::native == std::endian::little,
              "the entry format is little-endian and written with native stores");

constexpr size_t off_checksum = 0;
constexpr size_t off_index = 8;
constexpr size_t off_term = 16;
constexpr size_t off_write_position = 24;
constexpr size_t off_partition = 32;
constexpr size_t off_payload_bytes = 36;
constexpr size_t off_type = 40;
constexpr size_t off_version = 41;
constexpr size_t off_reserved = 42;
// The layout above fills the header exactly; a field added must grow entry_header_bytes.
static_assert(off_reserved + 6 == entry_header_bytes);
static_assert(entry_header_bytes % 8 == 0, "entries stay 8-byte aligned when payloads are");
// A payload length is stored in 32 bits.
static_assert(max_entry_payload_bytes < (uint64_t{1} << 32));

template <typename T>
void put(std::span<std::byte> out, size_t off, T v) {
    std::memcpy(out.data() + off, &v, sizeof(T));
}

template <typename T>
T get(std::span<const std::byte> in, size_t off) {
    T v;
    std::memcpy(&v, in.data() + off, sizeof(T));
    return v;
}

}  // namespace

void encode_entry_header(const entry_header& h, std::span<std::byte, entry_header_bytes> out) {
    std::memset(out.data(), 0, out.size());
    put<int64_t>(out, off_index, h.index.value());
    put<int64_t>(out, off_term, h.term.value());
    put<uint64_t>(out, off_write_position, h.write_position.value());
    put<uint32_t>(out, off_partition, h.partition.value());
    put<uint32_t>(out, off_payload_bytes, h.payload_bytes);
    put<uint8_t>(out, off_type, static_cast<uint8_t>(h.type));
    put<uint8_t>(out, off_version, entry_format_version);
}

entry_header decode_entry_header(std::span<const std::byte, entry_header_bytes> in) {
    entry_header h;
    h.checksum = get<uint64_t>(in, off_checksum);
    h.index = raft_index(get<int64_t>(in, off_index));
    h.term = term_id(get<int64_t>(in, off_term));
    h.write_position = byte_position(get<uint64_t>(in, off_write_position));
    h.partition = partition_id(get<uint32_t>(in, off_partition));
    h.payload_bytes = get<uint32_t>(in, off_payload_bytes);
    h.type = static_cast<entry_type>(get<uint8_t>(in, off_type));
    return h;
}

bool entry_header_plausible(std::span<const std::byte, entry_header_bytes> in) noexcept {
    if (get<uint8_t>(in, off_version) != entry_format_version) return false;
    for (size_t i = off_reserved; i < entry_header_bytes; ++i) {
        if (in[i] != std::byte{0}) return false;
    }
    if (get<uint32_t>(in, off_payload_bytes) > max_entry_payload_bytes) return false;
    if (get<int64_t>(in, off_index) <= 0 || get<int64_t>(in, off_term) < 0) return false;
    return get<uint8_t>(in, off_type) != 0;
}

uint64_t entry_checksum(std::span<const std::byte, entry_header_bytes> header,
                        std::span<const std::byte> payload) noexcept {
    XXH3_state_t state;
    XXH3_64bits_reset(&state);
    XXH3_64bits_update(&state, header.data() + 8, entry_header_bytes - 8);
    XXH3_64bits_update(&state, payload.data(), payload.size());
    return XXH3_64bits_digest(&state);
}

uint64_t entry_checksum(std::span<const std::byte, entry_header_bytes> header,
                        const iobuf& payload) noexcept {
    XXH3_state_t state;
    XXH3_64bits_reset(&state);
    XXH3_64bits_update(&state, header.data() + 8, entry_header_bytes - 8);
    for (auto frag : payload.fragments()) XXH3_64bits_update(&state, frag.data(), frag.size());
    return XXH3_64bits_digest(&state);
}

void store_entry_checksum(std::span<std::byte, entry_header_bytes> header, uint64_t checksum) {
    put<uint64_t>(header, off_checksum, checksum);
}

result<entry_header> verify_entry(std::span<const std::byte> bytes) {
    if (bytes.size() < entry_header_bytes) return log_errc::corrupt_entry;
    auto head = bytes.first<entry_header_bytes>();
    if (!entry_header_plausible(head)) return log_errc::corrupt_entry;
    entry_header h = decode_entry_header(head);
    if (bytes.size() != h.entry_bytes()) return log_errc::corrupt_entry;
    if (entry_checksum(head, bytes.subspan(entry_header_bytes)) != h.checksum) {
        return log_errc::corrupt_entry;
    }
    return h;
}

std::array<std::byte, control_payload_bytes> encode_control(const control_entry& c) {
    std::array<std::byte, control_payload_bytes> out{};
    put<uint16_t>(out, 0, static_cast<uint16_t>(c.kind));
    put<int64_t>(out, 8, c.value);
    return out;
}

result<control_entry> decode_control(std::span<const std::byte> payload) {
    if (payload.size() != control_payload_bytes) return log_errc::corrupt_entry;
    auto kind = get<uint16_t>(payload, 0);
    if (kind != static_cast<uint16_t>(control_kind::set_start_offset)) {
        return log_errc::corrupt_entry;
    }
    if (get<uint16_t>(payload, 2) != 0 || get<uint32_t>(payload, 4) != 0) {
        return log_errc::corrupt_entry;
    }
    control_entry c{control_kind::set_start_offset, get<int64_t>(payload, 8)};
    if (c.value < 0) return log_errc::corrupt_entry;
    return c;
}

}  // namespace wharf
