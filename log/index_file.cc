#include "log/index_file.h"

#include <bit>
#include <cstring>

// The state type of the streaming API is only public with static linking declarations.
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include "log/entry.h"
#include "log/errc.h"

namespace wharf {

namespace {

static_assert(std::endian::native == std::endian::little, "index files are little-endian");

constexpr uint32_t index_magic = 0x58495857;  // "WXIX" read as little-endian bytes
constexpr uint16_t index_version = 1;
constexpr size_t checksum_offset = 48;
// Header: magic, version, kind, three 8-byte fields, four counts, the checksum, reserved.
static_assert(4 + 2 + 2 + 3 * 8 + 4 * 4 + 8 + 8 == index_header_bytes);
static_assert(8 + 8 == index_term_run_bytes);
static_assert(4 + 4 + 3 * 8 == index_partition_bytes);
static_assert(4 * 4 + 2 * 8 == index_batch_bytes);

// Appends fixed-width little-endian fields.
class writer {
public:
    explicit writer(std::vector<std::byte>& out) : _out(out) {}
    template <typename T>
    void put(T v) {
        size_t at = _out.size();
        _out.resize(at + sizeof(T));
        std::memcpy(_out.data() + at, &v, sizeof(T));
    }

private:
    std::vector<std::byte>& _out;
};

// Reads fixed-width fields; the caller checked the total size first.
class reader {
public:
    explicit reader(std::span<const std::byte> in) : _in(in) {}
    template <typename T>
    T get() {
        T v;
        std::memcpy(&v, _in.data() + _pos, sizeof(T));
        _pos += sizeof(T);
        return v;
    }

private:
    std::span<const std::byte> _in;
    size_t _pos = 0;
};

uint64_t file_checksum(std::span<const std::byte> bytes) {
    XXH3_state_t st;
    XXH3_64bits_reset(&st);
    XXH3_64bits_update(&st, bytes.data(), checksum_offset);
    const uint64_t zero = 0;
    XXH3_64bits_update(&st, &zero, sizeof(zero));
    XXH3_64bits_update(&st, bytes.data() + checksum_offset + 8, bytes.size() - checksum_offset - 8);
    return XXH3_64bits_digest(&st);
}

// Orders and bounds that every index file must satisfy; anything else is a damaged file.
bool records_consistent(const index_file_data& d) {
    for (size_t i = 0; i < d.terms.size(); ++i) {
        const auto& t = d.terms[i];
        if (t.term.value() < 0 || t.first < d.base_index || t.first > d.last_index) return false;
        if (i > 0 && (t.first <= d.terms[i - 1].first || t.term <= d.terms[i - 1].term)) {
            return false;
        }
    }
    for (size_t i = 0; i < d.partitions.size(); ++i) {
        const auto& p = d.partitions[i];
        if (i > 0 && p.partition <= d.partitions[i - 1].partition) return false;
        if (p.start_offset.value() < 0 || p.next_offset < p.start_offset) return false;
    }
    for (size_t i = 0; i < d.batches.size(); ++i) {
        const auto& b = d.batches[i];
        const auto& e = b.entry;
        if (e.last_offset_delta < 0 || e.base_offset < 0) return false;
        if (uint64_t{e.position} + entry_header_bytes + e.batch_bytes > d.segment_bytes) {
            return false;
        }
        if (i > 0) {
            const auto& prev = d.batches[i - 1];
            if (b.partition < prev.partition) return false;
            if (b.partition == prev.partition && e.base() <= prev.entry.last()) return false;
        }
    }
    return true;
}

}  // namespace

std::vector<std::byte> encode_index_file(const index_file_data& d) {
    std::vector<std::byte> out;
    out.reserve(index_header_bytes + d.terms.size() * index_term_run_bytes +
                d.partitions.size() * index_partition_bytes +
                d.batches.size() * index_batch_bytes);
    writer w(out);
    w.put<uint32_t>(index_magic);
    w.put<uint16_t>(index_version);
    w.put<uint16_t>(static_cast<uint16_t>(d.kind));
    w.put<int64_t>(d.base_index.value());
    w.put<int64_t>(d.last_index.value());
    w.put<uint64_t>(d.segment_bytes);
    w.put<uint32_t>(static_cast<uint32_t>(d.terms.size()));
    w.put<uint32_t>(static_cast<uint32_t>(d.partitions.size()));
    w.put<uint32_t>(static_cast<uint32_t>(d.batches.size()));
    w.put<uint32_t>(0);
    w.put<uint64_t>(0);  // the checksum, filled in below
    w.put<uint64_t>(0);
    for (const auto& t : d.terms) {
        w.put<int64_t>(t.first.value());
        w.put<int64_t>(t.term.value());
    }
    for (const auto& p : d.partitions) {
        w.put<uint32_t>(p.partition.value());
        w.put<uint32_t>(0);
        w.put<int64_t>(p.start_offset.value());
        w.put<int64_t>(p.next_offset.value());
        w.put<int64_t>(p.max_timestamp);
    }
    for (const auto& b : d.batches) {
        w.put<uint32_t>(b.partition.value());
        w.put<uint32_t>(b.entry.position);
        w.put<uint32_t>(b.entry.batch_bytes);
        w.put<int32_t>(b.entry.last_offset_delta);
        w.put<int64_t>(b.entry.base_offset);
        w.put<int64_t>(b.entry.max_timestamp);
    }
    uint64_t sum = file_checksum(out);
    std::memcpy(out.data() + checksum_offset, &sum, sizeof(sum));
    return out;
}

result<index_file_data> decode_index_file(std::span<const std::byte> bytes) {
    if (bytes.size() < index_header_bytes) return log_errc::corrupt_segment;
    reader r(bytes);
    index_file_data d;
    if (r.get<uint32_t>() != index_magic || r.get<uint16_t>() != index_version) {
        return log_errc::corrupt_segment;
    }
    auto kind = r.get<uint16_t>();
    if (kind != 1 && kind != 2) return log_errc::corrupt_segment;
    d.kind = static_cast<index_file_kind>(kind);
    d.base_index = raft_index(r.get<int64_t>());
    d.last_index = raft_index(r.get<int64_t>());
    d.segment_bytes = r.get<uint64_t>();
    uint64_t terms = r.get<uint32_t>();
    uint64_t partitions = r.get<uint32_t>();
    uint64_t batches = r.get<uint32_t>();
    if (r.get<uint32_t>() != 0) return log_errc::corrupt_segment;
    uint64_t sum = r.get<uint64_t>();
    if (r.get<uint64_t>() != 0) return log_errc::corrupt_segment;
    uint64_t expected = index_header_bytes + terms * index_term_run_bytes +
                        partitions * index_partition_bytes + batches * index_batch_bytes;
    if (bytes.size() != expected || file_checksum(bytes) != sum) return log_errc::corrupt_segment;
    d.terms.resize(terms);
    for (auto& t : d.terms) {
        t.first = raft_index(r.get<int64_t>());
        t.term = term_id(r.get<int64_t>());
    }
    d.partitions.resize(partitions);
    for (auto& p : d.partitions) {
        p.partition = partition_id(r.get<uint32_t>());
        if (r.get<uint32_t>() != 0) return log_errc::corrupt_segment;
        p.start_offset = kafka_offset(r.get<int64_t>());
        p.next_offset = kafka_offset(r.get<int64_t>());
        p.max_timestamp = r.get<int64_t>();
    }
    d.batches.resize(batches);
    for (auto& b : d.batches) {
        b.partition = partition_id(r.get<uint32_t>());
        b.entry.position = r.get<uint32_t>();
        b.entry.batch_bytes = r.get<uint32_t>();
        b.entry.last_offset_delta = r.get<int32_t>();
        b.entry.base_offset = r.get<int64_t>();
        b.entry.max_timestamp = r.get<int64_t>();
    }
    if (!records_consistent(d)) return log_errc::corrupt_segment;
    return d;
}

}  // namespace wharf
