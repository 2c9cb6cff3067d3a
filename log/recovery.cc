// Opening a shard's log (DESIGN.md section 4).
//
//   0. Finish a raft snapshot install that a crash interrupted (snapshot.cc): its marker, written
//      durably before anything else changed, becomes the prefix checkpoint and every segment and
//      index file goes.
//   1. List the directory; drop leftovers of interrupted operations (*.tmp, segments and index
//      files that the prefix checkpoint says were deleted).
//   2. Start from the prefix checkpoint, if any: the partitions' state at the end of the deleted
//      segments.
//   3. Closed segments, oldest first: load each index file; one that is missing, damaged or stale
//      is rebuilt by scanning its segment, where any bad entry is corruption.
//   4. Replay the active (last) segment entry by entry. A bad entry with nothing intact after it
//      from a later write is a torn, never-acknowledged tail and is cut off; a bad entry followed
//      by a later write's intact entry is corruption of acknowledged data: open fails, naming the
//      file and byte offset. Nothing is ever truncated silently.
//   5. With log_config::repair_corruption (a replica whose group has other voters), corruption of
//      acknowledged data (3 or 4) is cut off instead: the repair marker is written durably, later
//      segments are deleted newest first, the damaged segment is cut at the bad entry, and the
//      log is opened again from the start. The marker keeps the replica from voting until raft
//      has repaired the log from its leader (shard_log::repairing); a crash half way finds the
//      same damage again and repeats the cut.

#include <fcntl.h>

#include <algorithm>
#include <set>

#include "log/durable_file.h"
#include "log/errc.h"
#include "log/segment_scanner.h"
#include "log/shard_log.h"
#include "reactor/logger.h"

namespace wharf {

class log_recovery {
public:
    log_recovery(shard_log& log, std::string* detail) : _log(log), _detail(detail) {}

    task<status> run();
    // Whether run() cut corrupt data off: the log must be opened afresh.
    bool cut() const noexcept { return _cut; }

private:
    using partition_state = shard_log::partition_state;

    std::error_code fail(std::error_code ec, std::string message);
    // Corrupt acknowledged data at byte `bad` of seg: refused (`what` says where), or cut off with
    // everything after it when the log may be repaired (step 5).
    task<status> corruption(segment& seg, uint64_t bad, std::string what);
    task<status> cut_for_repair(segment& seg, uint64_t bad, std::string what);
    task<status> finish_install(std::vector<std::string>& names);
    task<status> clean_directory(std::vector<std::string>& names);
    task<status> load_checkpoint();
    task<result<std::shared_ptr<segment>>> open_segment(raft_index base, int flags);
    task<status> load_closed(raft_index base, raft_index next_base);
    task<result<bool>> load_index(segment& seg, raft_index next_base);
    bool index_fits(const index_file_data& d) const;
    void apply_index(segment& seg, const index_file_data& d);
    task<status> scan_closed(segment& seg, raft_index next_base);
    task<status> replay_active(raft_index base);
    std::optional<std::string> apply_entry(segment& seg, const scanned_entry& e);
    // Applies the entries the scanner yields until its end or the first entry that fails its
    // checksum (scan.end() says which), counting them in `applied`.
    task<status> apply_entries(segment& seg, segment_scanner& scan, uint64_t& applied);

    shard_log& _log;
    std::string* _detail;
    std::vector<raft_index> _bases;  // segments found, in order
    bool _cut = false;
};

std::error_code log_recovery::fail(std::error_code ec, std::string message) {
    shard_logger().error("log {}: {}", _log._dir, message);
    if (_detail != nullptr) *_detail = std::move(message);
    return as_log_error(ec);
}

task<status> log_recovery::run() {
    if (auto s = co_await make_directories(_log._dir); !s) {
        co_return fail(s.error(), fmt::format("cannot create {}: {}", _log._dir,
                                              s.error().message()));
    }
    auto names = list_directory(_log._dir);
    if (!names) co_return fail(names.error(), "cannot list " + _log._dir);
    if (auto s = co_await finish_install(*names); !s) co_return s;
    if (auto s = co_await load_checkpoint(); !s) co_return s;
    if (auto s = co_await clean_directory(*names); !s) co_return s;
    _log._repairing = file_exists(_log._dir + "/" + std::string(repair_marker_file_name));

    raft_index expected = _log._removed_index + 1;
    if (!_bases.empty() && _bases.front() != expected) {
        co_return fail(log_errc::corrupt_segment,
                       fmt::format("{}: the log should begin at raft index {} but its first "
                                   "segment is {}", _log._dir, expected,
                                   segment_file_name(_bases.front())));
    }
    for (size_t i = 0; i + 1 < _bases.size(); ++i) {
        if (auto s = co_await load_closed(_bases[i], _bases[i + 1]); !s) co_return s;
        if (_cut) co_return status{};
    }
    if (_bases.empty()) {
        auto seg = co_await open_segment(expected, O_RDWR | O_CREAT | O_TRUNC);
        if (!seg) co_return seg.error();
        if (auto s = co_await sync_directory(_log._dir); !s) {
            co_return fail(s.error(), "cannot sync " + _log._dir);
        }
        _log._segments.push_back(std::move(*seg));
    } else if (auto s = co_await replay_active(_bases.back()); !s) {
        co_return s;
    }
    if (_cut) co_return status{};
    for (auto& [p, ps] : _log._partitions) ps->index.trim_before(ps->start_offset);
    _log.rewind_to_durable();
    co_return status{};
}

task<status> log_recovery::finish_install(std::vector<std::string>& names) {
    const std::string marker(snapshot_marker_file_name);
    if (std::find(names.begin(), names.end(), marker) == names.end()) co_return status{};
    const std::string& dir = _log._dir;
    std::string path = dir + "/" + marker;
    auto bytes = co_await read_whole_file(path);
    if (!bytes) co_return fail(bytes.error(), "cannot read " + path);
    // write_file_durably renames a complete file into place: a marker that does not decode was
    // damaged after it was written, and the old log may be partly gone already.
    std::string why;
    auto snap = shard_log::decode_snapshot(*bytes, &why);
    if (!snap) {
        co_return fail(
            log_errc::corrupt_segment,
            fmt::format("{}: damaged snapshot left by an interrupted install ({})", path, why));
    }
    shard_logger().warn("log {}: finishing the install of the snapshot at raft index {} (term {})",
                        dir, snap->last_index, snap->terms.front().term);
    for (const auto& n : names) {
        if (!parse_segment_file_name(n) && !parse_index_file_name(n)) continue;
        std::string p = dir + "/" + n;
        if (auto s = co_await remove_file(p); !s) co_return fail(s.error(), "cannot remove " + p);
    }
    if (auto s = co_await sync_directory(dir); !s) co_return fail(s.error(), "cannot sync " + dir);
    std::string checkpoint = dir + "/" + std::string(checkpoint_file_name);
    if (auto s = co_await rename_file(path, checkpoint); !s) {
        co_return fail(s.error(), "cannot rename " + path + " to " + checkpoint);
    }
    if (auto s = co_await sync_directory(dir); !s) co_return fail(s.error(), "cannot sync " + dir);
    auto listed = list_directory(dir);
    if (!listed) co_return fail(listed.error(), "cannot list " + dir);
    names = std::move(*listed);
    co_return status{};
}

task<status> log_recovery::clean_directory(std::vector<std::string>& names) {
    std::set<int64_t> segments;
    std::vector<std::string> remove;
    for (const auto& n : names) {
        if (auto b = parse_segment_file_name(n)) {
            segments.insert(b->value());
        } else if (n.ends_with(tmp_suffix)) {
            remove.push_back(n);  // an interrupted write_file_durably
        }
    }
    // Segments the checkpoint covers entirely were being deleted when the process stopped.
    std::vector<int64_t> ordered(segments.begin(), segments.end());
    for (size_t i = 0; i < ordered.size(); ++i) {
        bool covered = i + 1 < ordered.size() && ordered[i + 1] <= _log._removed_index.value() + 1;
        if (covered) {
            remove.push_back(segment_file_name(raft_index(ordered[i])));
        } else {
            _bases.push_back(raft_index(ordered[i]));
        }
    }
    for (const auto& n : names) {
        auto b = parse_index_file_name(n);
        // Index files of removed segments, and of the active one (a roll that failed half way).
        bool kept = b && std::find(_bases.begin(), _bases.end(), *b) != _bases.end();
        if (b && (!kept || *b == _bases.back())) remove.push_back(n);
    }
    if (!_bases.empty() && _bases.front() <= _log._removed_index) {
        co_return fail(log_errc::corrupt_segment,
                       fmt::format("{}: segment {} holds entries that {} says were removed",
                                   _log._dir, segment_file_name(_bases.front()),
                                   checkpoint_file_name));
    }
    if (remove.empty()) co_return status{};
    for (const auto& n : remove) {
        shard_logger().info("log {}: removing leftover {}", _log._dir, n);
        if (auto s = co_await remove_file(_log._dir + "/" + n); !s) {
            co_return fail(s.error(), "cannot remove " + n);
        }
    }
    if (auto s = co_await sync_directory(_log._dir); !s) {
        co_return fail(s.error(), "cannot sync " + _log._dir);
    }
    co_return status{};
}

task<status> log_recovery::load_checkpoint() {
    std::string path = _log._dir + "/" + std::string(checkpoint_file_name);
    if (!file_exists(path)) co_return status{};
    auto bytes = co_await read_whole_file(path);
    if (!bytes) co_return fail(bytes.error(), "cannot read " + path);
    auto d = decode_index_file(*bytes);
    if (!d || d->kind != index_file_kind::prefix_checkpoint || d->terms.size() != 1) {
        // Unlike an index file, the checkpoint is not derived from anything still on disk.
        co_return fail(log_errc::corrupt_segment, path + ": damaged prefix checkpoint");
    }
    for (const auto& row : d->partitions) {
        partition_state& ps = _log.ensure_partition(row.partition);
        ps.start_offset = row.start_offset;
        ps.end_offset = row.next_offset;
        ps.index.set_max_timestamp(row.max_timestamp);
    }
    _log._removed_index = d->last_index;
    _log._removed_term = d->terms.front().term;
    _log._durable_index = _log._removed_index;
    _log._durable_term = _log._removed_term;
    co_return status{};
}

task<status> log_recovery::corruption(segment& seg, uint64_t bad, std::string what) {
    if (!_log._cfg.repair_corruption) co_return fail(log_errc::corrupt_segment, std::move(what));
    co_return co_await cut_for_repair(seg, bad, std::move(what));
}

task<status> log_recovery::cut_for_repair(segment& seg, uint64_t bad, std::string what) {
    const std::string& dir = _log._dir;
    const raft_index first_lost = seg.last_index() + 1;
    shard_logger().error("log {}: {}; cutting the log before raft index {} to repair it from the "
                         "leader (the replica does not vote until then)",
                         dir, what, first_lost);
    // The marker before anything goes: from here on the replica may lack entries it acknowledged.
    std::string note = fmt::format("cut before raft index {}: {}\n", first_lost, what);
    std::string marker(repair_marker_file_name);
    auto note_bytes = std::as_bytes(std::span<const char>(note.data(), note.size()));
    auto marked = co_await write_file_durably(dir, marker, note_bytes);
    if (!marked) co_return fail(marked.error(), "cannot write the repair marker in " + dir);
    // Later segments newest first, each deletion durable before the next, so that a crash leaves
    // a prefix of the log with the same damage in it; then the damaged segment's index file (it
    // becomes the active segment) and its bytes from the bad entry on.
    std::vector<std::string> doomed;
    for (auto it = _bases.rbegin(); it != _bases.rend() && *it > seg.base_index(); ++it) {
        doomed.push_back(dir + "/" + index_file_name(*it));
        doomed.push_back(dir + "/" + segment_file_name(*it));
    }
    doomed.push_back(seg.index_path());
    for (const auto& doomed_path : doomed) {
        if (!file_exists(doomed_path)) continue;
        if (auto r = co_await remove_file(doomed_path); !r) {
            co_return fail(r.error(), "cannot remove " + doomed_path);
        }
        if (auto r = co_await sync_directory(dir); !r) co_return fail(r.error(), "cannot sync " + dir);
    }
    std::string path = seg.path();
    auto f = co_await file::open(path, O_RDWR);
    if (!f) co_return fail(f.error(), "cannot open " + path);
    status cut = co_await f->truncate(bad);
    if (cut) cut = co_await f->datasync();
    (void)co_await f->close();
    if (!cut) co_return fail(cut.error(), path + ": cannot cut the damage off");
    _cut = true;
    co_return status{};
}

task<result<std::shared_ptr<segment>>> log_recovery::open_segment(raft_index base, int flags) {
    std::string path = _log._dir + "/" + segment_file_name(base);
    auto f = co_await file::open(path, flags);
    if (!f) co_return fail(f.error(), fmt::format("cannot open {}: {}", path, f.error().message()));
    auto size = co_await f->size();
    if (!size) co_return fail(size.error(), "cannot stat " + path);
    co_return std::make_shared<segment>(_log._next_seq++, base, _log._dir, std::move(*f), *size);
}

task<status> log_recovery::load_closed(raft_index base, raft_index next_base) {
    auto seg = co_await open_segment(base, O_RDONLY);
    if (!seg) co_return seg.error();
    auto loaded = co_await load_index(**seg, next_base);
    if (!loaded) co_return loaded.error();
    if (!*loaded) {
        shard_logger().warn("log {}: rebuilding the index of {}", _log._dir, (*seg)->path());
        if (auto s = co_await scan_closed(**seg, next_base); !s) co_return s;
        // Closed segments start without raft index points: reads take them within their bound.
        (*seg)->points().clear();
    }
    (*seg)->mark_closed();
    _log._segments.push_back(std::move(*seg));
    co_return status{};
}

task<result<bool>> log_recovery::load_index(segment& seg, raft_index next_base) {
    if (!file_exists(seg.index_path())) co_return false;
    auto bytes = co_await read_whole_file(seg.index_path());
    if (!bytes) co_return false;
    auto d = decode_index_file(*bytes);
    // The segment size and the next segment's first index tie the index to this very file.
    if (!d || d->kind != index_file_kind::segment_index || d->base_index != seg.base_index() ||
        d->segment_bytes != seg.size_bytes() || d->last_index + 1 != next_base ||
        d->terms.empty() || d->terms.front().first != seg.base_index() ||
        d->terms.front().term < _log._durable_term || !index_fits(*d)) {
        co_return false;
    }
    apply_index(seg, *d);
    ++_log._stats.index_files_loaded;
    co_return true;
}

bool log_recovery::index_fits(const index_file_data& d) const {
    // Offsets must continue each partition as recovered so far (batches sorted by partition).
    size_t b = 0;
    for (const auto& row : d.partitions) {
        const partition_state* ps = _log.find_partition(row.partition);
        kafka_offset end = ps ? ps->end_offset : kafka_offset(0);
        kafka_offset start = ps ? ps->start_offset : kafka_offset(0);
        if (row.next_offset < end || row.start_offset < start) return false;
        if (b < d.batches.size() && d.batches[b].partition < row.partition) return false;
        bool first = true;
        for (; b < d.batches.size() && d.batches[b].partition == row.partition; ++b) {
            const auto& e = d.batches[b].entry;
            if ((first && e.base() < end) || e.last() >= row.next_offset) return false;
            first = false;
        }
    }
    return b == d.batches.size();  // every batch's partition has a row
}

void log_recovery::apply_index(segment& seg, const index_file_data& d) {
    for (const auto& b : d.batches) {
        batch_entry e = b.entry;
        e.segment = seg.seq();
        _log.ensure_partition(b.partition).index.push_back(e);
    }
    for (const auto& row : d.partitions) {
        partition_state& ps = _log.ensure_partition(row.partition);
        // The row does not say which entry moved the start: the segment's last is an upper bound.
        _log.apply_start_offset(row.partition, ps, row.start_offset, d.last_index);
        ps.end_offset = row.next_offset;
        ps.index.set_max_timestamp(std::max(ps.index.max_timestamp(), row.max_timestamp));
    }
    seg.set_term_runs(d.terms, d.last_index, d.segment_bytes);
    _log._durable_index = d.last_index;
    _log._durable_term = d.terms.back().term;
}

task<status> log_recovery::apply_entries(segment& seg, segment_scanner& scan, uint64_t& applied) {
    for (;;) {
        auto e = co_await scan.next();
        if (!e) co_return fail(e.error(), seg.path() + ": read failed");
        if (!*e) co_return status{};
        // A checksum-valid entry that does not follow the log is no torn write: refuse it.
        if (auto why = apply_entry(seg, **e)) {
            co_return fail(log_errc::corrupt_segment,
                           fmt::format("{}: bad entry at byte {}: {}", seg.path(), (*e)->position,
                                       *why));
        }
        ++applied;
    }
}

task<status> log_recovery::scan_closed(segment& seg, raft_index next_base) {
    segment_scanner scan(seg.handle(), seg.size_bytes());
    uint64_t size = seg.size_bytes();
    seg.set_term_runs({}, seg.base_index() - 1, 0);
    uint64_t applied = 0;
    if (auto s = co_await apply_entries(seg, scan, applied); !s) co_return s;
    if (scan.end() != scan_end::clean) {
        std::string what = fmt::format("{}: corrupt entry at byte {} of a closed segment",
                                       seg.path(), scan.position());
        co_return co_await corruption(seg, scan.position(), std::move(what));
    }
    if (seg.last_index() + 1 != next_base || seg.size_bytes() != size) {
        co_return fail(log_errc::corrupt_segment,
                       fmt::format("{}: ends at raft index {} but the next segment begins at {}",
                                   seg.path(), seg.last_index(), next_base));
    }
    index_file_data d;
    d.base_index = seg.base_index();
    d.last_index = seg.last_index();
    d.segment_bytes = seg.size_bytes();
    d.terms = seg.term_runs();
    d.partitions = _log.state_rows();
    auto& touched = seg.partitions();
    std::sort(touched.begin(), touched.end());
    touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
    for (partition_id p : touched) {
        const auto& index = _log.find_partition(p)->index;
        for (const auto& b : index.entries()) {
            if (b.segment == seg.seq()) d.batches.push_back(index_file_batch{p, b});
        }
    }
    std::vector<partition_id>().swap(touched);
    auto w = co_await write_file_durably(_log._dir, index_file_name(seg.base_index()),
                                         encode_index_file(d));
    if (!w) co_return fail(w.error(), seg.index_path() + ": cannot write the rebuilt index");
    ++_log._stats.index_files_rebuilt;
    co_return status{};
}

task<status> log_recovery::replay_active(raft_index base) {
    auto opened = co_await open_segment(base, O_RDWR);
    if (!opened) co_return opened.error();
    segment& seg = **opened;
    _log._segments.push_back(std::move(*opened));
    uint64_t size = seg.size_bytes();
    seg.set_term_runs({}, base - 1, 0);
    segment_scanner scan(seg.handle(), size);
    if (auto s = co_await apply_entries(seg, scan, _log._stats.entries_replayed); !s) co_return s;
    if (scan.end() == scan_end::clean) co_return status{};

    uint64_t bad = scan.position();
    auto later = co_await find_later_write(seg.handle(), size, bad, _log._durable_index);
    if (!later) co_return fail(later.error(), seg.path() + ": read failed");
    if (*later) {
        std::string what = fmt::format("{}: corrupt entry at byte {}, followed by an intact entry "
                                       "of a later write at byte {}: acknowledged data is damaged",
                                       seg.path(), bad, **later);
        co_return co_await corruption(seg, bad, std::move(what));
    }
    shard_logger().warn("log {}: cutting a torn write off {} at byte {} ({} bytes)", _log._dir,
                        seg.path(), bad, size - bad);
    if (auto t = co_await seg.handle().truncate(bad); !t) {
        co_return fail(t.error(), seg.path() + ": cannot cut the torn write off");
    }
    if (auto t = co_await seg.handle().datasync(); !t) {
        co_return fail(t.error(), seg.path() + ": cannot sync the cut");
    }
    _log._stats.truncated_bytes += size - bad;
    co_return status{};
}

std::optional<std::string> log_recovery::apply_entry(segment& seg, const scanned_entry& e) {
    const entry_header& h = e.header;
    raft_index expected = seg.last_index() + 1;
    if (h.index != expected) return fmt::format("raft index {} where {} was due", h.index, expected);
    if (h.term < _log._durable_term) {
        return fmt::format("term {} after term {}", h.term, _log._durable_term);
    }
    if (h.write_position.value() > e.position) {
        return fmt::format("its write began at byte {}, after it", h.write_position);
    }
    uint64_t end = e.position + h.entry_bytes();
    if (end >= max_segment_file_bytes) return std::string("segment too large");
    if (h.type == entry_type::data) {
        std::string why;
        auto b = indexed_batch(e, seg.seq(), &why);
        if (!b) return why;
        partition_state& ps = _log.ensure_partition(h.partition);
        if (b->base() < ps.end_offset) {
            return fmt::format("partition {} offset {} goes back (next is {})", h.partition,
                               b->base(), ps.end_offset);
        }
        if (ps.index.empty() || ps.index.back().segment != seg.seq()) {
            seg.partitions().push_back(h.partition);
        }
        ps.index.push_back(*b);
        ps.end_offset = b->last() + 1;
    } else if (h.type == entry_type::control) {
        auto c = decode_control(e.payload);
        if (!c) return std::string("undecodable control entry");
        _log.apply_start_offset(h.partition, _log.ensure_partition(h.partition),
                                kafka_offset(c->value), h.index);
    }
    _log.note_append_point(seg, h.index, e.position);
    seg.note_entry(h.index, h.term, end);
    _log._durable_index = h.index;
    _log._durable_term = h.term;
    return std::nullopt;
}

task<result<std::unique_ptr<shard_log>>> shard_log::open(log_config cfg, std::string* error_detail) {
    if (cfg.segment_bytes == 0 || cfg.segment_bytes > max_configurable_segment_bytes ||
        cfg.max_write_bytes == 0 || cfg.max_write_bytes > max_configurable_write_bytes ||
        cfg.limits.max_batch_bytes > max_entry_payload_bytes || cfg.data_dir.empty() ||
        cfg.raft_index_interval_bytes == 0) {
        if (error_detail != nullptr) *error_detail = "invalid log configuration";
        co_return std::make_error_code(std::errc::invalid_argument);
    }
    // A cut for repair changes the files under what recovery has built: open once more. (The
    // cut leaves no damage behind it, so a second cut means new damage: give up after a few.)
    uint64_t cuts = 0;
    for (;;) {
        std::unique_ptr<shard_log> log(new shard_log(cfg));
        log_recovery recovery(*log, error_detail);
        auto s = co_await recovery.run();
        if (!s || recovery.cut()) {
            for (auto& seg : log->_segments) (void)co_await seg->close();
        }
        if (!s) co_return s.error();
        if (!recovery.cut()) {
            log->_stats.corruption_cuts = cuts;
            co_return std::move(log);
        }
        if (++cuts == 4) {
            if (error_detail != nullptr) *error_detail = "the log was cut for repair 4 times";
            co_return log_errc::corrupt_segment;
        }
    }
}

}  // namespace wharf
