#pragma once

// Sequential reading of a segment file at open: the replay of the active segment and the rebuild
// of a closed segment's missing index. Reads through the shard's io_uring in large chunks and
// checks each entry's header and checksum (the read-side half of "checked when written, checked
// again when read").
//
// Also the torn-write judge (see entry.h): after a bad entry, find_later_write() looks for a valid
// entry written by a later group commit, which proves the bad entry was acknowledged.
//
// A scanner is a short-lived local object of recovery; it borrows the file.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "log/entry.h"
#include "log/partition_index.h"
#include "reactor/base/result.h"
#include "reactor/file.h"
#include "reactor/task.h"

namespace wharf {

struct scanned_entry {
    entry_header header;
    uint64_t position = 0;
    // The payload, valid until the next call to next().
    std::span<const std::byte> payload;
};

// Why a scan ended.
enum class scan_end {
    clean,       // at the end of the file, after a whole entry
    incomplete,  // the file ends inside an entry
    bad_entry,   // an implausible header or a checksum mismatch
};

class segment_scanner {
public:
    // Scans from start_position, which must be where an entry starts (0, or a point of the
    // segment's sparse raft index). REQUIRES: f stays open while the scanner is used.
    segment_scanner(file& f, uint64_t file_bytes, size_t chunk_bytes = size_t{1} << 20,
                    uint64_t start_position = 0);

    // The next good entry, or nullopt when the scan ends (then end() and position() say how and
    // where). Errors are I/O errors only.
    task<result<std::optional<scanned_entry>>> next();

    // Where the next entry starts: after a scan ended, the end of the last good entry.
    uint64_t position() const noexcept { return _pos; }
    scan_end end() const noexcept { return _end; }

private:
    // The n buffered bytes at _pos. REQUIRES: fill(n) succeeded since _pos last moved.
    std::span<const std::byte> buffered(size_t n) const noexcept {
        return {_buf.get() + (_pos - _buf_pos), n};
    }
    // Makes [_pos, _pos + n) available in _buf. REQUIRES: _pos + n <= _file_bytes.
    task<status> fill(size_t n);

    file& _file;
    uint64_t _file_bytes;
    size_t _chunk_bytes;
    uint64_t _pos = 0;
    // _buf holds file bytes [_buf_pos, _buf_pos + _buf_len) in its first _buf_len of
    // _buf_capacity bytes. Not a vector: growing one zero-fills bytes that the read overwrites
    // at once (up to a megabyte per read of a leader sending entries).
    std::unique_ptr<std::byte[]> _buf;
    size_t _buf_capacity = 0;
    uint64_t _buf_pos = 0;
    size_t _buf_len = 0;
    scan_end _end = scan_end::clean;
};

// The batch-index entry of a scanned data entry of segment `segment_seq`: the payload must be one
// whole record batch. nullopt, with *why set, when it is not; recovery and the truncation's
// rebuild of a partition (truncate.cc) read stored batches the same way.
std::optional<batch_entry> indexed_batch(const scanned_entry& e, uint32_t segment_seq,
                                         std::string* why);

// After a bad entry at `bad_position`, looks for a checksum-valid entry further on that a later
// write put there (its write_position is after bad_position) and whose raft index is after
// `last_good_index`. Returns its position, or nullopt when everything after the bad entry could
// come from the same torn write. Errors are I/O errors only.
task<result<std::optional<uint64_t>>> find_later_write(file& f, uint64_t file_bytes,
                                                       uint64_t bad_position,
                                                       raft_index last_good_index);

}  // namespace wharf
