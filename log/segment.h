#pragma once

// A segment: one file of a shard's log, holding the entries from its first raft index on
// (DESIGN.md section 4). Named <first-raft-index>.log, zero-padded to 20 digits so that names sort
// in log order; a closed segment has a <first-raft-index>.index file beside it (index_file.h).
//
// Lives on the shard that owns the log, inside shard_log's segment table, from creation (roll) or
// open (recovery) until retention deletes it. Readers hold it through a shared_ptr, so a read in
// flight keeps the file open while retention unlinks it.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "log/raft_index.h"
#include "reactor/base/ids.h"
#include "reactor/base/result.h"
#include "reactor/clock.h"
#include "reactor/file.h"
#include "reactor/task.h"

namespace wharf {

inline constexpr std::string_view segment_suffix = ".log";
inline constexpr std::string_view index_suffix = ".index";

// "00000000000000000042.log" for raft index 42.
std::string segment_file_name(raft_index first);
std::string index_file_name(raft_index first);
// The first raft index a segment or index file name stands for; nullopt for other names.
std::optional<raft_index> parse_segment_file_name(std::string_view name);
std::optional<raft_index> parse_index_file_name(std::string_view name);

// A run of entries with one term: from `first` up to the next run's first.
struct term_run {
    raft_index first{0};
    term_id term{0};
};

class segment {
public:
    // seq: the shard-local sequence number batch_entry::segment refers to.
    segment(uint32_t seq, raft_index base, std::string dir, file f, uint64_t size_bytes) noexcept;
    ~segment();
    segment(const segment&) = delete;
    segment& operator=(const segment&) = delete;

    uint32_t seq() const noexcept { return _seq; }
    raft_index base_index() const noexcept { return _base; }
    // The last entry's index; base_index() - 1 while empty.
    raft_index last_index() const noexcept { return _last; }
    bool empty() const noexcept { return _last < _base; }
    // Bytes of whole entries in the file (everything written and not rolled back).
    uint64_t size_bytes() const noexcept { return _size; }
    std::string path() const;
    std::string index_path() const;
    file& handle() noexcept { return _file; }

    bool closed() const noexcept { return _closed; }
    void mark_closed() noexcept { _closed = true; }
    steady_time created() const noexcept { return _created; }

    // Records that the entry (index, term) now ends the segment at byte size_bytes.
    // REQUIRES: index == last_index() + 1, term >= the last term, size_bytes grows.
    void note_entry(raft_index index, term_id term, uint64_t size_bytes);
    // The term of an entry of this segment; nullopt outside it.
    std::optional<term_id> term_at(raft_index index) const noexcept;
    std::optional<term_id> last_term() const noexcept;
    const std::vector<term_run>& term_runs() const noexcept { return _terms; }
    // Replaces the term runs, from an index file. REQUIRES: consistent with last_index.
    void set_term_runs(std::vector<term_run> runs, raft_index last, uint64_t size_bytes);

    // Forgets the entries after `last`, which now ends the segment at byte size_bytes (a raft
    // truncation; truncate.cc). The file is cut by cut_back().
    // REQUIRES: base_index() - 1 <= last <= last_index(), size_bytes <= size_bytes().
    void cut_to(raft_index last, uint64_t size_bytes);

    // The sparse raft index of the segment (raft_index.h).
    segment_points& points() noexcept { return _points; }
    const segment_points& points() const noexcept { return _points; }

    // Partitions with a batch in this segment, in order of their first batch here; the roll sorts
    // them to write the index file.
    std::vector<partition_id>& partitions() noexcept { return _partitions; }

    // Reserves file space up to `end` (in steps of `step` bytes) without changing the file size.
    task<status> reserve(uint64_t end, uint64_t step);
    // Cuts the file back to size_bytes() after a failed write or a truncation, so that none of its
    // bytes can be mistaken for entries later; forgets the reservation (truncation frees it).
    task<status> cut_back();
    task<status> close();

private:
    uint32_t _seq;
    raft_index _base;
    raft_index _last;
    std::string _dir;
    file _file;
    uint64_t _size;
    uint64_t _reserved_to = 0;
    bool _closed = false;
    steady_time _created;
    std::vector<term_run> _terms;
    std::vector<partition_id> _partitions;
    segment_points _points;
};

}  // namespace wharf
