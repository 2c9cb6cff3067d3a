#include "net/rpc/frame.h"

#include <algorithm>
#include <array>

#include "net/rpc/wire.h"

namespace wharf::rpc {

namespace {

constexpr size_t off_magic = 0;
constexpr size_t off_version = 1;
constexpr size_t off_type = 2;
constexpr size_t off_payload_bytes = 4;
constexpr size_t off_correlation_id = 8;
constexpr size_t off_checksum = 16;
// The layout above fills the header exactly; a field added must grow frame_header_bytes.
static_assert(off_checksum == frame_checksummed_header_bytes);
static_assert(off_checksum + 8 == frame_header_bytes);

bool supported(uint16_t version) noexcept {
    return version >= min_protocol_version && version <= max_protocol_version;
}

}  // namespace

iobuf encode_frame(uint16_t version, frame_type type, uint64_t correlation_id, iobuf payload) {
    WHARF_ASSERT(supported(version), "encoding a frame of unsupported version {}", version);
    WHARF_ASSERT(payload.size() <= max_frame_payload_bytes, "frame payload of {} bytes",
                 payload.size());
    std::array<std::byte, frame_header_bytes> h{};
    wire::put<uint8_t>(h, off_magic, frame_magic);
    wire::put<uint8_t>(h, off_version, static_cast<uint8_t>(version));
    wire::put<uint16_t>(h, off_type, static_cast<uint16_t>(type));
    wire::put<uint32_t>(h, off_payload_bytes, static_cast<uint32_t>(payload.size()));
    wire::put<uint64_t>(h, off_correlation_id, correlation_id);
    auto prefix = std::span<const std::byte>(h).first(frame_checksummed_header_bytes);
    wire::put<uint64_t>(h, off_checksum, wire::checksum(prefix, payload));
    iobuf out = iobuf::copy_of(h.data(), h.size());
    out.append(std::move(payload));
    return out;
}

frame_decoder::frame_decoder(uint16_t version, size_t max_frame_bytes)
    : _version(static_cast<uint8_t>(version)), _max_frame_bytes(max_frame_bytes) {
    WHARF_ASSERT(supported(version), "frame decoder for unsupported version {}", version);
    WHARF_ASSERT(max_frame_bytes >= frame_header_bytes &&
                     max_frame_bytes - frame_header_bytes <= max_frame_payload_bytes,
                 "max_frame_bytes {} outside [{}, header + 2^32 - 1]", max_frame_bytes,
                 frame_header_bytes);
}

status frame_decoder::feed(iobuf bytes) {
    if (failed()) return _error;
    _buffer.append(std::move(bytes));
    check_header();
    if (failed()) return _error;
    return {};
}

status frame_decoder::feed(std::span<const std::byte> bytes) {
    if (failed()) return _error;
    _buffer.append(bytes);
    check_header();
    if (failed()) return _error;
    return {};
}

void frame_decoder::fail(rpc_errc e) noexcept {
    _error = make_error_code(e);
    _header.reset();
    // Nothing after a bad frame can be trusted to start a frame; free the memory at once.
    _buffer.clear();
}

void frame_decoder::check_header() {
    if (failed() || _header || _buffer.size() < frame_header_bytes) return;
    std::array<std::byte, frame_header_bytes> raw;
    _buffer.copy_to(0, raw.data(), raw.size());
    std::span<const std::byte> h(raw);
    if (wire::get<uint8_t>(h, off_magic) != frame_magic) return fail(rpc_errc::bad_magic);
    if (wire::get<uint8_t>(h, off_version) != _version) {
        return fail(rpc_errc::unsupported_version);
    }
    header parsed;
    std::copy_n(raw.begin(), parsed.prefix.size(), parsed.prefix.begin());
    parsed.type = static_cast<frame_type>(wire::get<uint16_t>(h, off_type));
    parsed.payload_bytes = wire::get<uint32_t>(h, off_payload_bytes);
    parsed.correlation_id = wire::get<uint64_t>(h, off_correlation_id);
    parsed.checksum = wire::get<uint64_t>(h, off_checksum);
    // The constructor bounds max_frame_bytes below header + 2^32, so this cannot overflow.
    if (frame_header_bytes + size_t{parsed.payload_bytes} > _max_frame_bytes) {
        return fail(rpc_errc::frame_too_large);
    }
    _header = parsed;
}

result<std::optional<frame>> frame_decoder::next() {
    check_header();
    if (failed()) return _error;
    if (!_header) return std::optional<frame>{};
    size_t frame_bytes = frame_header_bytes + _header->payload_bytes;
    if (_buffer.size() < frame_bytes) return std::optional<frame>{};
    iobuf payload = _buffer.share(frame_header_bytes, _header->payload_bytes);
    if (wire::checksum(_header->prefix, payload) != _header->checksum) {
        fail(rpc_errc::checksum_mismatch);
        return _error;
    }
    frame f{_header->type, _header->correlation_id, std::move(payload)};
    _buffer.trim_front(frame_bytes);
    _header.reset();
    // Judge the next header now if it is already here, so that feed()'s early error reporting
    // also covers frames that arrived in the same piece as this one.
    check_header();
    return std::optional<frame>(std::move(f));
}

size_t frame_decoder::bytes_needed() const noexcept {
    if (failed()) return 0;
    if (!_header) return frame_header_bytes - std::min(_buffer.size(), frame_header_bytes);
    size_t frame_bytes = frame_header_bytes + _header->payload_bytes;
    return frame_bytes - std::min(_buffer.size(), frame_bytes);
}

}  // namespace wharf::rpc
