#include "log/shard_log.h"

#include <algorithm>

#include "log/batch_layout.h"
#include "log/durable_file.h"
#include "log/errc.h"
#include "log/record_batch.h"
#include "reactor/clock.h"
#include "reactor/file.h"
#include "reactor/logger.h"

namespace wharf {

namespace {

// A batch as it will be stored, and what stamping decided.
struct stamped_batch {
    iobuf bytes;
    int64_t max_timestamp = 0;
    std::optional<timestamp_ms> log_append_time;
};

// Writes the leader's base offset and epoch into the batch. The common case (a CreateTime topic
// and a producer that set maxTimestamp right) touches only bytes outside the CRC, so only the
// 61-byte header is copied and the records are shared with the request, zero copy. Anything that
// changes CRC-covered bytes copies the batch once and lets stamp_batch recompute the CRC.
stamped_batch stamp(iobuf batch, const validated_batch& v, kafka_offset base, int32_t epoch,
                    const partition_config& cfg) {
    stamped_batch out;
    const auto& h = v.header;
    bool append_time = cfg.message_timestamp_type == timestamp_type::log_append_time;
    bool fix_max = !append_time && v.max_record_timestamp &&
                   v.max_record_timestamp->value() != h.max_timestamp;
    if (!append_time && !fix_max && h.ts_type() == timestamp_type::create_time) {
        iobuf head = iobuf::copy_of(batch.linearize(0, batch_header_bytes));
        auto w = head.writable(0, batch_header_bytes);
        batch_layout::put<int64_t>(w, batch_layout::base_offset, base.value());
        batch_layout::put<int32_t>(w, batch_layout::partition_leader_epoch, epoch);
        head.append(batch.share(batch_header_bytes, batch.size() - batch_header_bytes));
        out.bytes = std::move(head);
        out.max_timestamp = h.max_timestamp;
        return out;
    }
    out.bytes = iobuf::copy_of(batch.linearize(0, batch.size()));
    auto w = out.bytes.writable(0, out.bytes.size());
    if (fix_max) set_max_timestamp(w, timestamp_type::create_time, *v.max_record_timestamp);
    if (append_time) out.log_append_time = wall_now();
    stamp_batch(w, base, epoch, out.log_append_time);
    out.max_timestamp =
        append_time ? out.log_append_time->value() : (fix_max ? v.max_record_timestamp->value()
                                                              : h.max_timestamp);
    return out;
}

}  // namespace

shard_log::shard_log(log_config cfg)
    : _cfg(std::move(cfg)),
      _owner(this_shard()),
      _dir(_cfg.group.value() == 0
               ? fmt::format("{}/shard-{}", _cfg.data_dir, _cfg.shard.value())
               : fmt::format("{}/shard-{}-group-{}", _cfg.data_dir, _cfg.shard.value(),
                             _cfg.group.value())),
      _cache(_cfg.tail_cache_bytes) {}

shard_log::~shard_log() = default;

void shard_log::configure_partition(partition_id p, const partition_config& cfg) {
    check_shard();
    ensure_partition(p).config = cfg;
}

bool shard_log::has_partition(partition_id p) const noexcept {
    return find_partition(p) != nullptr;
}

shard_log::partition_state* shard_log::find_partition(partition_id p) noexcept {
    auto it = _partitions.find(p);
    return it == _partitions.end() ? nullptr : it->second.get();
}

const shard_log::partition_state* shard_log::find_partition(partition_id p) const noexcept {
    auto it = _partitions.find(p);
    return it == _partitions.end() ? nullptr : it->second.get();
}

shard_log::pending_entry shard_log::new_entry(entry_type type, partition_id p, term_id term,
                                              size_t payload_bytes) const {
    pending_entry e;
    e.header.index = _next_index;
    e.header.term = term;
    e.header.partition = p;
    e.header.type = type;
    e.header.payload_bytes = static_cast<uint32_t>(payload_bytes);
    return e;
}

shard_log::partition_state& shard_log::ensure_partition(partition_id p) {
    auto& slot = _partitions[p];
    if (!slot) slot = std::make_unique<partition_state>();
    return *slot;
}

task<result<append_result>> shard_log::append_batch(partition_id p, term_id term, iobuf batch,
                                                    int32_t leader_epoch) {
    // Everything up to enqueue() runs before the first suspension, so appends keep their order.
    // The one exception, a truncation in progress, keeps it too (wait_for_truncation).
    auto hold = _gate.hold();
    if (!hold) co_return log_errc::shutting_down;
    check_shard();
    if (_truncating || _held_appends > 0) co_await wait_for_truncation();
    if (auto s = check_can_append(); !s) co_return s.error();
    partition_state* ps = find_partition(p);
    if (ps == nullptr) co_return log_errc::partition_unknown;
    WHARF_ASSERT(term >= _next_term, "append in term {} after term {}", term, _next_term);
    if (batch.size() < batch_header_bytes) {
        ++_stats.rejected_batches;
        co_return log_errc::truncated_batch;
    }
    auto valid = validate_batch(batch.linearize(0, batch.size()), _cfg.limits, wall_now());
    if (!valid) {
        ++_stats.rejected_batches;
        co_return valid.error();
    }
    stamped_batch st = stamp(std::move(batch), *valid, ps->next_offset, leader_epoch, ps->config);

    pending_entry e = new_entry(entry_type::data, p, term, st.bytes.size());
    e.payload = std::move(st.bytes);
    e.base_offset = ps->next_offset;
    e.last_offset_delta = valid->header.last_offset_delta;
    e.max_timestamp = st.max_timestamp;
    append_result out{e.base_offset, e.base_offset + e.last_offset_delta, _next_index,
                      st.log_append_time};
    ps->next_offset = out.last_offset + 1;
    append_slot slot;
    e.slot = &slot;
    enqueue(std::move(e));

    auto s = co_await await_durable(slot);
    if (!s) co_return s.error();
    co_return out;
}

task<result<raft_index>> shard_log::append_entry(entry_type type, partition_id p, term_id term,
                                                 iobuf payload) {
    auto hold = _gate.hold();
    if (!hold) co_return log_errc::shutting_down;
    check_shard();
    if (_truncating || _held_appends > 0) co_await wait_for_truncation();
    if (auto s = check_can_append(); !s) co_return s.error();
    WHARF_ASSERT(term >= _next_term, "append in term {} after term {}", term, _next_term);
    if (payload.size() > max_entry_payload_bytes) co_return log_errc::batch_too_large;

    pending_entry e = new_entry(type, p, term, payload.size());
    partition_state* ps = find_partition(p);
    if (ps == nullptr && (type == entry_type::data || type == entry_type::control)) {
        // The leader's log has the partition: a follower may get its entries before its own
        // copy of the cluster metadata (another raft group) has configured it. It starts with
        // default settings; the metadata's configure_partition sets them when it arrives.
        configure_partition(p, partition_config{});
        ps = find_partition(p);
    }
    if (type == entry_type::data) {
        // A batch the leader stamped: it must continue the partition exactly.
        if (ps == nullptr) co_return log_errc::partition_unknown;
        // Only the header is read: linearizing a whole batch received in pieces would copy it
        // (35 ms of a follower's turn under load).
        auto view = payload.linearize(0, std::min(payload.size(), batch_header_bytes));
        auto h = peek_batch_header(view);
        if (!h) co_return h.error();
        if (h->total_bytes() != payload.size()) co_return log_errc::invalid_batch_length;
        if (h->last_offset_delta < 0) co_return log_errc::invalid_record_count;
        if (h->base_offset != ps->next_offset) co_return log_errc::out_of_range;
        e.base_offset = h->base_offset;
        e.last_offset_delta = h->last_offset_delta;
        e.max_timestamp = h->max_timestamp;
        ps->next_offset = h->last_offset() + 1;
    } else if (type == entry_type::control) {
        if (ps == nullptr) co_return log_errc::partition_unknown;
        auto c = decode_control(payload.linearize(0, payload.size()));
        if (!c) co_return c.error();
        e.control = *c;
    }
    e.payload = std::move(payload);
    raft_index index = _next_index;
    append_slot slot;
    e.slot = &slot;
    enqueue(std::move(e));

    auto s = co_await await_durable(slot);
    if (!s) co_return s.error();
    co_return index;
}

result<kafka_offset> shard_log::start_offset(partition_id p) const {
    const auto* ps = find_partition(p);
    if (ps == nullptr) return log_errc::partition_unknown;
    return ps->start_offset;
}

result<kafka_offset> shard_log::end_offset(partition_id p) const {
    const auto* ps = find_partition(p);
    if (ps == nullptr) return log_errc::partition_unknown;
    return ps->end_offset;
}

batch_info shard_log::to_info(const batch_entry& e) noexcept {
    return batch_info{e.base(), e.last(), timestamp_ms(e.max_timestamp), e.batch_bytes};
}

result<std::optional<batch_info>> shard_log::find_offset(partition_id p, kafka_offset o) const {
    const auto* ps = find_partition(p);
    if (ps == nullptr) return log_errc::partition_unknown;
    size_t i = ps->index.find_offset(std::max(o, ps->start_offset));
    if (i == ps->index.size()) return std::optional<batch_info>();
    return std::optional<batch_info>(to_info(ps->index[i]));
}

result<std::optional<batch_info>> shard_log::find_timestamp(partition_id p, timestamp_ms t) const {
    const auto* ps = find_partition(p);
    if (ps == nullptr) return log_errc::partition_unknown;
    size_t i = ps->index.find_timestamp(t);
    if (i == ps->index.size()) return std::optional<batch_info>();
    return std::optional<batch_info>(to_info(ps->index[i]));
}

std::optional<term_id> shard_log::term_at(raft_index index) const noexcept {
    if (index == _removed_index && index.value() > 0) return _removed_term;
    auto it = std::partition_point(_segments.begin(), _segments.end(),
                                   [index](const auto& s) { return s->base_index() <= index; });
    if (it == _segments.begin()) return std::nullopt;
    return (*std::prev(it))->term_at(index);
}

raft_index shard_log::first_index() const noexcept {
    return _segments.empty() ? _removed_index + 1 : _segments.front()->base_index();
}

std::shared_ptr<segment> shard_log::segment_by_seq(uint32_t seq) const noexcept {
    if (_segments.empty()) return nullptr;
    uint32_t first = _segments.front()->seq();
    if (seq < first || seq - first >= _segments.size()) return nullptr;
    return _segments[seq - first];
}

size_t shard_log::index_memory_bytes() const noexcept {
    size_t n = 0;
    for (const auto& [p, ps] : _partitions) n += ps->index.memory_bytes() + sizeof(*ps);
    return n;
}

task<status> shard_log::end_repair() {
    auto hold = _gate.hold();
    if (!hold) co_return log_errc::shutting_down;
    check_shard();
    if (!_repairing) co_return status{};
    std::string path = _dir + "/" + std::string(repair_marker_file_name);
    status s = co_await remove_file(path);
    if (s) s = co_await sync_directory(_dir);
    if (!s) {
        shard_logger().error("log {}: cannot remove {}: {}", _dir, path, s.error().message());
        co_return as_log_error(s.error());
    }
    _repairing = false;
    shard_logger().warn("log {}: repaired from the leader after the corruption cut; the replica "
                        "votes again", _dir);
    co_return status{};
}

task<status> shard_log::close() {
    check_shard();
    _closing = true;
    co_await _gate.close();
    status first;
    for (auto& s : _segments) {
        auto r = co_await s->close();
        if (!r && first) first = r;
    }
    co_return first;
}

}  // namespace wharf
