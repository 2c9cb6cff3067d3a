#include "core/kafka/producer_state.h"

#include <algorithm>
#include <limits>

#include <fmt/format.h>

#include "reactor/base/assert.h"

namespace wharf {

namespace {

constexpr int64_t int32_max = std::numeric_limits<int32_t>::max();

// Kafka's inSequence: next follows last, and after INT32_MAX comes 0.
bool in_sequence(int32_t last_seq, int32_t next_seq) noexcept {
    return int64_t{next_seq} == int64_t{last_seq} + 1 || (next_seq == 0 && last_seq == int32_max);
}

}  // namespace

int16_t kafka_error_code(produce_check_outcome o) noexcept {
    switch (o) {
        case produce_check_outcome::accepted:
        case produce_check_outcome::duplicate:
            return 0;
        case produce_check_outcome::invalid_producer_epoch:
            return 47;
        case produce_check_outcome::out_of_order_sequence:
            return 45;
        case produce_check_outcome::in_flight_conflict:
            return 7;
        case produce_check_outcome::invalid_record:
            return 87;
    }
    return -1;
}

int32_t last_sequence(int32_t base_sequence, int32_t record_count) noexcept {
    int64_t v = int64_t{base_sequence} + record_count - 1;
    if (v > int32_max) v -= int32_max + 1;  // Kafka's DefaultRecordBatch.incrementSequence
    v = std::clamp<int64_t>(v, std::numeric_limits<int32_t>::min(), int32_max);
    return static_cast<int32_t>(v);
}

producer_state_manager::producer_state_manager(size_t max_producers)
    : _max_producers(max_producers) {
    WHARF_ASSERT(max_producers > 0, "a producer state manager must track at least one producer");
}

producer_state_manager::projection producer_state_manager::project(const producer_entry& e) const {
    projection p;
    p.epoch = e.epoch;
    for (const auto& b : e.batches) {
        p.window.push_back(b);
        p.window_pending.push_back(nullptr);
    }
    for (const auto& pb : e.pending) {
        if (pb.state == pending_state::aborted) continue;
        if (pb.doomed && pb.state == pending_state::in_flight) p.in_flight_doomed = true;
        if (pb.epoch != p.epoch) {
            p.window.clear();
            p.window_pending.clear();
            p.epoch = pb.epoch;
        }
        p.window.push_back(pb.meta);
        p.window_pending.push_back(&pb);
    }
    if (p.window.size() > batches_retained) {
        auto drop = static_cast<std::ptrdiff_t>(p.window.size() - batches_retained);
        p.window.erase(p.window.begin(), p.window.begin() + drop);
        p.window_pending.erase(p.window_pending.begin(), p.window_pending.begin() + drop);
    }
    return p;
}

producer_check producer_state_manager::check(const producer_batch& b) {
    if (b.producer_id < 0) return {};
    if (b.base_sequence < 0 || b.record_count <= 0 || b.epoch < 0) {
        return {.outcome = produce_check_outcome::invalid_record};
    }
    int32_t last_seq = last_sequence(b.base_sequence, b.record_count);
    auto it = _producers.find(b.producer_id);
    if (it != _producers.end()) return check_known(b.producer_id, it->second, b, last_seq);
    // Unknown producer: any sequence (see the header).
    auto& e = get_or_create(b.producer_id);
    uint64_t token = _next_token++;
    e.pending.push_back({.token = token,
                         .epoch = b.epoch,
                         .meta = {.first_seq = b.base_sequence, .last_seq = last_seq}});
    return {.reservation = {b.producer_id, token}};
}

producer_check producer_state_manager::check_known(int64_t pid, producer_entry& e,
                                                   const producer_batch& b, int32_t last_seq) {
    touch(e, pid);
    auto p = project(e);
    if (p.in_flight_doomed) return {.outcome = produce_check_outcome::in_flight_conflict};
    if (b.epoch == p.epoch) {
        for (size_t i = 0; i < p.window.size(); ++i) {
            const auto& w = p.window[i];
            if (w.first_seq != b.base_sequence || w.last_seq != last_seq) continue;
            const auto* pending = p.window_pending[i];
            if (pending != nullptr && pending->state == pending_state::in_flight) {
                return {.outcome = produce_check_outcome::in_flight_conflict};
            }
            return {.outcome = produce_check_outcome::duplicate, .duplicate_of = w};
        }
    }
    // p.epoch is -1 only for a producer whose reservations were all aborted: as unknown.
    if (p.epoch >= 0) {
        if (b.epoch < p.epoch) return {.outcome = produce_check_outcome::invalid_producer_epoch};
        bool follows = b.epoch > p.epoch ? b.base_sequence == 0
                                         : in_sequence(p.window.back().last_seq, b.base_sequence);
        if (!follows) return {.outcome = produce_check_outcome::out_of_order_sequence};
    }
    if (e.pending.size() >= max_in_flight_per_producer) {
        return {.outcome = produce_check_outcome::in_flight_conflict};
    }
    uint64_t token = _next_token++;
    e.pending.push_back({.token = token,
                         .epoch = b.epoch,
                         .meta = {.first_seq = b.base_sequence, .last_seq = last_seq}});
    return {.reservation = {pid, token}};
}

producer_state_manager::pending_batch& producer_state_manager::find_pending(
    const producer_reservation& r) {
    auto it = _producers.find(r.producer_id);
    WHARF_ASSERT(it != _producers.end(), "reservation {} of unknown producer {}", r.token,
                 r.producer_id);
    for (auto& p : it->second.pending) {
        if (p.token == r.token) {
            WHARF_ASSERT(p.state == pending_state::in_flight,
                         "reservation {} of producer {} resolved twice", r.token, r.producer_id);
            return p;
        }
    }
    WHARF_ASSERT(false, "reservation {} of producer {} is not in flight", r.token, r.producer_id);
    __builtin_unreachable();
}

produce_check_outcome producer_state_manager::complete(const producer_reservation& r,
                                                       kafka_offset base_offset,
                                                       kafka_offset last_offset,
                                                       timestamp_ms max_timestamp) {
    if (r.empty()) return produce_check_outcome::accepted;
    auto& p = find_pending(r);
    p.state = pending_state::done;
    p.meta.base_offset = base_offset;
    p.meta.last_offset = last_offset;
    p.meta.max_timestamp = max_timestamp;
    auto outcome =
        p.doomed ? produce_check_outcome::out_of_order_sequence : produce_check_outcome::accepted;
    drain(r.producer_id, _producers.at(r.producer_id));
    return outcome;
}

void producer_state_manager::abort(const producer_reservation& r) {
    if (r.empty()) return;
    auto& p = find_pending(r);
    p.state = pending_state::aborted;
    auto& e = _producers.at(r.producer_id);
    bool after = false;
    for (auto& q : e.pending) {
        if (after && q.state != pending_state::aborted) q.doomed = true;
        if (q.token == r.token) after = true;
    }
    drain(r.producer_id, e);
}

bool producer_state_manager::is_doomed(const producer_reservation& r) const {
    if (r.empty()) return false;
    auto it = _producers.find(r.producer_id);
    if (it == _producers.end()) return false;
    for (const auto& p : it->second.pending) {
        if (p.token == r.token) return p.doomed;
    }
    return false;
}

void producer_state_manager::record(producer_entry& e, int16_t epoch, const batch_metadata& meta) {
    if (epoch != e.epoch) {
        // A new epoch starts a new sequence: the old batches can no longer be retried.
        e.batches.clear();
        e.epoch = epoch;
    }
    e.batches.push_back(meta);
    while (e.batches.size() > batches_retained) e.batches.pop_front();
}

void producer_state_manager::drain(int64_t pid, producer_entry& e) {
    while (!e.pending.empty() && e.pending.front().state != pending_state::in_flight) {
        const auto& front = e.pending.front();
        if (front.state == pending_state::done) record(e, front.epoch, front.meta);
        e.pending.pop_front();
    }
    if (e.pending.empty() && e.batches.empty()) {
        // Nothing reached the log: forget the producer, as a rebuild from the log would.
        _lru.erase(e.last_used);
        _producers.erase(pid);
    }
}

void producer_state_manager::observe(const producer_batch& b, kafka_offset base_offset,
                                     kafka_offset last_offset, timestamp_ms max_timestamp) {
    if (b.producer_id < 0) return;
    auto& e = get_or_create(b.producer_id);
    WHARF_ASSERT(e.pending.empty(), "observe() of producer {} with batches in flight",
                 b.producer_id);
    record(e, b.epoch,
           {.first_seq = b.base_sequence,
            .last_seq = last_sequence(b.base_sequence, b.record_count),
            .base_offset = base_offset,
            .last_offset = last_offset,
            .max_timestamp = max_timestamp});
    touch(e, b.producer_id);
}

producer_state_manager::producer_entry& producer_state_manager::get_or_create(int64_t pid) {
    auto it = _producers.find(pid);
    if (it != _producers.end()) return it->second;
    evict_beyond_bound();
    auto& e = _producers[pid];
    touch(e, pid);
    return e;
}

void producer_state_manager::touch(producer_entry& e, int64_t pid) {
    if (e.last_used != 0) _lru.erase(e.last_used);
    e.last_used = ++_clock;
    _lru.emplace(e.last_used, pid);
}

void producer_state_manager::evict_beyond_bound() {
    // Makes room for one more. Producers with batches in flight stay (their reservations must
    // resolve); if all have some, the bound is exceeded until they do.
    auto it = _lru.begin();
    while (_producers.size() >= _max_producers && it != _lru.end()) {
        auto& e = _producers.at(it->second);
        if (!e.pending.empty()) {
            ++it;
            continue;
        }
        _producers.erase(it->second);
        it = _lru.erase(it);
    }
}

std::optional<producer_view> producer_state_manager::find(int64_t producer_id) const {
    auto it = _producers.find(producer_id);
    if (it == _producers.end()) return std::nullopt;
    const auto& e = it->second;
    producer_view v{.epoch = e.epoch, .batches = {e.batches.begin(), e.batches.end()}};
    for (const auto& p : e.pending) v.in_flight += p.state == pending_state::in_flight ? 1 : 0;
    return v;
}

std::string producer_state_manager::describe(int64_t producer_id) const {
    auto it = _producers.find(producer_id);
    if (it == _producers.end()) return "unknown producer";
    const auto& e = it->second;
    std::string out = fmt::format("epoch {}, batches", e.epoch);
    for (const auto& b : e.batches) {
        out += fmt::format(" {}..{}@{}", b.first_seq, b.last_seq, b.base_offset.value());
    }
    if (!e.pending.empty()) out += ", reserved";
    for (const auto& p : e.pending) {
        const char* state = p.state == pending_state::in_flight ? "in flight"
                            : p.state == pending_state::done ? "done"
                                                              : "aborted";
        out += fmt::format(" {}..{} (epoch {}, {}{})", p.meta.first_seq, p.meta.last_seq, p.epoch,
                           state, p.doomed ? ", doomed" : "");
    }
    return out;
}

}  // namespace wharf
