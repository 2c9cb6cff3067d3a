#pragma once

// The primitive layer of the Kafka codec: reading and writing the protocol's scalar, string,
// bytes, array and tagged-field encodings, in both the classic and the flexible (compact) forms
// (KIP-482). The generated message code (messages.h) is written entirely in terms of these.
//
// Hostile input. A reader never trusts a declared length or count: each is checked against the
// bytes remaining in the frame before anything is allocated (an array element takes at least one
// byte, a tagged field at least two), negative lengths other than -1 (null) are errors, and a
// varint longer than its type allows is an error. The first error sticks: every later read
// returns a zero value, so generated decoders can read straight on and check ok() at the end.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "reactor/iobuf.h"

namespace wharf::kafka {

// A Kafka UUID (topic ids): 16 bytes, all zero for "no id".
struct uuid {
    std::array<uint8_t, 16> bytes{};

    bool is_nil() const noexcept;
    bool operator==(const uuid&) const = default;
};

// A tagged field that the codec does not know (a newer client's field): kept raw so that
// re-encoding a decoded message reproduces it byte for byte. A plain copy (not an iobuf) so that
// messages without bytes fields stay copyable.
struct tagged_field {
    uint32_t tag = 0;
    std::vector<uint8_t> data;

    bool operator==(const tagged_field&) const = default;
};

// Reads one frame. Lives on the stack of the decoding call; the frame must outlive it and every
// iobuf it hands out shares the frame's chunks (zero copy), so those may outlive the reader.
class protocol_reader {
public:
    // Linearizes the frame once when it spans fragments. REQUIRES: frame outlives the reader.
    explicit protocol_reader(iobuf& frame);

    bool ok() const noexcept { return _error == nullptr; }
    // Why decoding failed; "" while ok().
    const char* error() const noexcept { return _error == nullptr ? "" : _error; }
    // Marks the input malformed (first message wins).
    void fail(const char* why) noexcept;

    size_t position() const noexcept { return _pos; }
    // Bytes left before the end of the frame (or of the tagged field being read).
    size_t remaining() const noexcept { return _end - _pos; }

    int8_t read_int8();
    int16_t read_int16();
    int32_t read_int32();
    int64_t read_int64();
    uint16_t read_uint16();
    double read_float64();
    bool read_bool();
    uuid read_uuid();
    uint32_t read_uvarint();
    int32_t read_varint();
    int64_t read_varlong();

    // Classic: int16 length; flexible: unsigned varint length + 1. An error when null.
    std::string read_string(bool flexible);
    // null only when `nullable` (the field's nullable versions); otherwise null is an error.
    std::optional<std::string> read_nullable_string(bool nullable, bool flexible);
    // Classic: int32 length; flexible: unsigned varint length + 1. Shares the frame.
    iobuf read_bytes(bool flexible);
    std::optional<iobuf> read_nullable_bytes(bool nullable, bool flexible);
    // The element count of an array, checked against the bytes remaining; -1 for a null array
    // (only when `nullable`); 0 after an error.
    int32_t read_array_len(bool nullable, bool flexible);
    // The next n bytes, shared with the frame; an error when fewer remain.
    iobuf read_raw(size_t n);

    // Tagged fields: the count of a tagged-field section (checked: each takes >= 2 bytes), then
    // per field begin (reads tag and size, limits reads to the field's bytes), a decode of a
    // known field followed by end (which requires the field's bytes consumed exactly), or
    // read_unknown_tagged_field to keep the bytes raw.
    struct tagged_field_span {
        uint32_t tag = 0;
        size_t end = 0;
        size_t outer_end = 0;
    };
    uint32_t read_tag_count();
    tagged_field_span begin_tagged_field();
    void end_tagged_field(const tagged_field_span& t);
    void read_unknown_tagged_field(const tagged_field_span& t, std::vector<tagged_field>& out);

private:
    // The next n bytes, or nullptr (with an error set) when fewer remain.
    const std::byte* take(size_t n);
    // A length read as signed; validates against remaining(); -1 means null.
    int64_t read_length(bool flexible, bool wide);

    iobuf& _frame;
    const std::byte* _data = nullptr;
    size_t _pos = 0;
    size_t _end = 0;
    const char* _error = nullptr;
};

// Appends encoded values to an iobuf. bytes and records are appended as shared fragments of the
// caller's buffers (zero copy); everything else is copied into the tail chunk.
class protocol_writer {
public:
    protocol_writer() = default;

    iobuf& buffer() noexcept { return _buf; }
    const iobuf& buffer() const noexcept { return _buf; }
    iobuf release() noexcept { return std::move(_buf); }

    void write_int8(int8_t v);
    void write_int16(int16_t v);
    void write_int32(int32_t v);
    void write_int64(int64_t v);
    void write_uint16(uint16_t v);
    void write_float64(double v);
    void write_bool(bool v);
    void write_uuid(const uuid& v);
    void write_uvarint(uint32_t v);
    void write_varint(int32_t v);
    void write_varlong(int64_t v);

    void write_string(std::string_view s, bool flexible);
    // Writes null only when `nullable`; a null value at a version where the field is not
    // nullable is written as the empty string (the handler's mistake, never the client's).
    void write_nullable_string(const std::optional<std::string>& s, bool nullable, bool flexible);
    void write_bytes(const iobuf& b, bool flexible);
    void write_nullable_bytes(const std::optional<iobuf>& b, bool nullable, bool flexible);
    void write_array_len(size_t n, bool flexible);
    // A null array when `nullable`, else an empty one.
    void write_null_array(bool nullable, bool flexible);
    // Appends the buffer's fragments, shared (zero copy).
    void write_records(const iobuf& records);
    // A records field: length (null only when `nullable`), then the batches shared.
    void write_nullable_records(const std::optional<iobuf>& r, bool nullable, bool flexible);
    void write_raw(const void* data, size_t len);

    // One tagged field: tag, size, then the bytes of `value` (moved in).
    void write_tagged_field(uint32_t tag, iobuf&& value);
    // Writes the fields of `unknown` from index `from` while their tag is below `below`;
    // returns the index of the first one not written. Keeps unknown and known tags in order.
    size_t write_unknown_tagged_fields(const std::vector<tagged_field>& unknown, size_t from,
                                       uint32_t below);

private:
    void put(const void* data, size_t len) { _buf.append(data, len); }

    iobuf _buf;
};

}  // namespace wharf::kafka
