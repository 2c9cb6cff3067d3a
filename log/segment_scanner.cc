#include "log/segment_scanner.h"

#include <algorithm>
#include <cstring>

#include "log/errc.h"
#include "log/record_batch.h"

namespace wharf {

segment_scanner::segment_scanner(file& f, uint64_t file_bytes, size_t chunk_bytes,
                                 uint64_t start_position)
    : _file(f),
      _file_bytes(file_bytes),
      _chunk_bytes(chunk_bytes),
      _pos(start_position),
      _buf_pos(start_position) {}

task<status> segment_scanner::fill(size_t n) {
    if (_pos >= _buf_pos && _pos + n <= _buf_pos + _buf_len) co_return status{};
    // Keep the unread bytes, then read enough for n and at least a chunk more.
    size_t keep = 0;
    const std::byte* unread = nullptr;
    if (_pos >= _buf_pos && _pos < _buf_pos + _buf_len) {
        keep = static_cast<size_t>(_buf_pos + _buf_len - _pos);
        unread = _buf.get() + (_pos - _buf_pos);
    }
    uint64_t want = std::min<uint64_t>(std::max(n, _chunk_bytes), _file_bytes - _pos);
    if (_buf_capacity < want) {
        auto bigger = std::make_unique_for_overwrite<std::byte[]>(static_cast<size_t>(want));
        if (keep > 0) std::memcpy(bigger.get(), unread, keep);
        _buf = std::move(bigger);
        _buf_capacity = static_cast<size_t>(want);
    } else if (keep > 0) {
        std::memmove(_buf.get(), unread, keep);
    }
    size_t to_read = static_cast<size_t>(want) - keep;
    auto got = co_await _file.read_at(_buf.get() + keep, to_read, _pos + keep);
    if (!got) co_return got.error();
    if (*got != to_read) co_return log_errc::io_error;  // the file shrank under us
    _buf_pos = _pos;
    _buf_len = static_cast<size_t>(want);
    co_return status{};
}

task<result<std::optional<scanned_entry>>> segment_scanner::next() {
    using out = result<std::optional<scanned_entry>>;
    if (_pos == _file_bytes) {
        _end = scan_end::clean;
        co_return out(std::nullopt);
    }
    if (_file_bytes - _pos < entry_header_bytes) {
        _end = scan_end::incomplete;
        co_return out(std::nullopt);
    }
    if (auto s = co_await fill(entry_header_bytes); !s) co_return s.error();
    auto head = buffered(entry_header_bytes).first<entry_header_bytes>();
    if (!entry_header_plausible(head)) {
        _end = scan_end::bad_entry;
        co_return out(std::nullopt);
    }
    entry_header h = decode_entry_header(head);
    if (h.entry_bytes() > _file_bytes - _pos) {
        _end = scan_end::incomplete;
        co_return out(std::nullopt);
    }
    if (auto s = co_await fill(h.entry_bytes()); !s) co_return s.error();
    auto whole = buffered(h.entry_bytes());
    if (!verify_entry(whole)) {
        _end = scan_end::bad_entry;
        co_return out(std::nullopt);
    }
    scanned_entry e{h, _pos, whole.subspan(entry_header_bytes)};
    _pos += h.entry_bytes();
    co_return out(e);
}

std::optional<batch_entry> indexed_batch(const scanned_entry& e, uint32_t segment_seq,
                                         std::string* why) {
    auto bh = read_batch_header(e.payload);
    if (!bh) {
        *why = "bad record batch: " + bh.error().message();
        return std::nullopt;
    }
    if (bh->total_bytes() != e.payload.size() || bh->last_offset_delta < 0) {
        *why = "record batch length or offsets disagree with the entry";
        return std::nullopt;
    }
    batch_entry b;
    b.base_offset = bh->base_offset.value();
    b.last_offset_delta = bh->last_offset_delta;
    b.max_timestamp = bh->max_timestamp;
    b.segment = segment_seq;
    b.position = static_cast<uint32_t>(e.position);
    b.batch_bytes = e.header.payload_bytes;
    return b;
}

namespace {

// Whether the header at q could be a whole entry written after bad_position; cheap checks only.
bool later_write_candidate(std::span<const std::byte, entry_header_bytes> head, uint64_t q,
                           uint64_t file_bytes, uint64_t bad_position, raft_index last_good) {
    if (!entry_header_plausible(head)) return false;
    entry_header h = decode_entry_header(head);
    return h.write_position.value() > bad_position && h.write_position.value() <= q &&
           h.entry_bytes() <= file_bytes - q && h.index > last_good;
}

}  // namespace

task<result<std::optional<uint64_t>>> find_later_write(file& f, uint64_t file_bytes,
                                                       uint64_t bad_position,
                                                       raft_index last_good_index) {
    using out = result<std::optional<uint64_t>>;
    constexpr size_t window = size_t{1} << 20;
    std::vector<std::byte> chunk(window + entry_header_bytes);
    std::vector<std::byte> entry;
    for (uint64_t base = bad_position + 1; base + entry_header_bytes <= file_bytes;
         base += window) {
        size_t len = static_cast<size_t>(std::min<uint64_t>(chunk.size(), file_bytes - base));
        auto got = co_await f.read_at(chunk.data(), len, base);
        if (!got) co_return got.error();
        if (*got != len) co_return log_errc::io_error;
        size_t last_q = std::min(window, len - entry_header_bytes + 1);
        for (size_t i = 0; i < last_q; ++i) {
            auto head = std::span<const std::byte>(chunk).subspan(i).first<entry_header_bytes>();
            uint64_t q = base + i;
            if (!later_write_candidate(head, q, file_bytes, bad_position, last_good_index)) {
                continue;
            }
            entry_header h = decode_entry_header(head);
            entry.resize(h.entry_bytes());
            auto r = co_await f.read_at(entry.data(), entry.size(), q);
            if (!r) co_return r.error();
            if (*r == entry.size() && verify_entry(entry)) co_return out(q);
        }
    }
    co_return out(std::nullopt);
}

}  // namespace wharf
