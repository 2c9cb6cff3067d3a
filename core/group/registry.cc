#include "core/group/registry.h"

#include <type_traits>
#include <variant>

namespace wharf::groups {

group_registry::group_registry(group_config config) : _config(config) {}

group_registry::~group_registry() = default;

group* group_registry::find(std::string_view group_id) {
    auto it = _groups.find(group_id);
    return it == _groups.end() ? nullptr : it->second.g.get();
}

const group* group_registry::find(std::string_view group_id) const {
    auto it = _groups.find(group_id);
    return it == _groups.end() ? nullptr : it->second.g.get();
}

group& group_registry::get_or_create(const std::string& group_id, timestamp_ms now) {
    auto it = _groups.find(group_id);
    if (it == _groups.end()) {
        it =
            _groups.emplace(group_id, entry{std::make_unique<group>(group_id, _config, now)}).first;
    }
    return *it->second.g;
}

std::vector<group_listing> group_registry::list() const {
    std::vector<group_listing> out;
    out.reserve(_groups.size());
    for (const auto& [_, e] : _groups) out.push_back(e.g->listing());
    return out;
}

group_description group_registry::describe(const std::string& group_id) const {
    if (const group* g = find(group_id)) return g->describe();
    return {.group_id = group_id, .state = state_name(group_state::dead)};
}

void group_registry::erase_if_unused(std::map<std::string, entry, std::less<>>::iterator it) {
    const group& g = *it->second.g;
    if (!it->second.has_metadata_record && g.state() == group_state::empty &&
        g.member_count() == 0 && g.pending_member_count() == 0 && g.offsets().empty()) {
        _groups.erase(it);
    }
}

void group_registry::join(const std::string& group_id, join_request req, timestamp_ms now,
                          join_callback cb) {
    if (find(group_id) == nullptr && !req.member_id.empty()) {
        join_result r;
        r.error = error_code::unknown_member_id;
        r.member_id = req.member_id;
        cb(std::move(r));
        return;
    }
    bool created = find(group_id) == nullptr;
    get_or_create(group_id, now).join(std::move(req), now, std::move(cb));
    // A refused first JoinGroup leaves no group behind.
    if (auto it = _groups.find(group_id); created && it != _groups.end()) erase_if_unused(it);
}

void group_registry::sync(const std::string& group_id, sync_request req, timestamp_ms now,
                          sync_callback cb) {
    group* g = find(group_id);
    if (g == nullptr) {
        cb(sync_result{.error = error_code::unknown_member_id});
        return;
    }
    g->sync(std::move(req), now, std::move(cb));
}

error_code group_registry::heartbeat(const std::string& group_id, std::string_view member_id,
                                     const std::optional<std::string>& instance_id,
                                     int32_t generation, timestamp_ms now) {
    group* g = find(group_id);
    if (g == nullptr) return error_code::unknown_member_id;
    return g->heartbeat(member_id, instance_id, generation, now);
}

leave_result group_registry::leave(const std::string& group_id,
                                   const std::vector<leave_member>& members, timestamp_ms now) {
    group* g = find(group_id);
    if (g == nullptr) {
        leave_result r;
        r.member_errors.assign(members.size(), error_code::unknown_member_id);
        return r;
    }
    return g->leave(members, now);
}

error_code group_registry::validate_commit(const std::string& group_id, std::string_view member_id,
                                           const std::optional<std::string>& instance_id,
                                           int32_t generation, timestamp_ms now) {
    group* g = find(group_id);
    if (g == nullptr) {
        // Not relying on Kafka for group management: a "simple" group that stores offsets.
        if (generation >= 0) return error_code::illegal_generation;
        g = &get_or_create(group_id, now);
    }
    return g->validate_commit(member_id, instance_id, generation, now);
}

error_code group_registry::delete_group(const std::string& group_id, timestamp_ms now,
                                        std::vector<offsets_record>& out) {
    auto it = _groups.find(group_id);
    if (it == _groups.end()) return error_code::group_id_not_found;
    group& g = *it->second.g;
    std::vector<topic_partition> offsets;
    for (const auto& [tp, _] : g.offsets()) offsets.push_back(tp);
    if (auto err = g.prepare_delete(now); err != error_code::none) return err;
    for (const auto& tp : offsets) out.push_back(offset_tombstone(group_id, tp));
    out.push_back(group_tombstone(group_id));
    _groups.erase(it);
    return error_code::none;
}

offset_delete_result group_registry::delete_offsets(const std::string& group_id,
                                                    const std::vector<topic_partition>& partitions,
                                                    std::vector<offsets_record>& out) {
    auto it = _groups.find(group_id);
    if (it == _groups.end()) return {.error = error_code::group_id_not_found};
    group& g = *it->second.g;
    std::vector<topic_partition> had;
    for (const auto& tp : partitions) {
        if (g.offset(tp) != nullptr) had.push_back(tp);
    }
    offset_delete_result r = g.delete_offsets(partitions);
    for (const auto& tp : had) {
        if (g.offset(tp) == nullptr) out.push_back(offset_tombstone(group_id, tp));
    }
    // Kafka's cleanupGroupMetadata: an Empty group without offsets is gone.
    if (g.state() == group_state::empty && g.offsets().empty() && g.pending_member_count() == 0) {
        (void)g.prepare_delete(timestamp_ms(0));
        out.push_back(group_tombstone(group_id));
        _groups.erase(it);
    }
    return r;
}

std::vector<offsets_record> group_registry::expire_offsets(timestamp_ms now, int64_t retention_ms) {
    std::vector<offsets_record> out;
    for (auto it = _groups.begin(); it != _groups.end();) {
        group& g = *it->second.g;
        for (const auto& tp : g.expire_offsets(now, retention_ms)) {
            out.push_back(offset_tombstone(it->first, tp));
        }
        if (g.state() == group_state::empty && g.offsets().empty() &&
            g.pending_member_count() == 0) {
            (void)g.prepare_delete(now);
            out.push_back(group_tombstone(it->first));
            it = _groups.erase(it);
        } else {
            ++it;
        }
    }
    return out;
}

void group_registry::tick(timestamp_ms now) {
    for (auto& [_, e] : _groups) e.g->tick(now);
}

std::optional<timestamp_ms> group_registry::next_deadline() const {
    std::optional<timestamp_ms> best;
    for (const auto& [_, e] : _groups) {
        auto t = e.g->next_deadline();
        if (t && (!best || *t < *best)) best = t;
    }
    return best;
}

void group_registry::unload_all(timestamp_ms now) {
    for (auto& [_, e] : _groups) e.g->unload(now);
    _groups.clear();
}

status group_registry::apply(std::span<const uint8_t> key,
                             std::optional<std::span<const uint8_t>> value, timestamp_ms now) {
    auto k = decode_key(key);
    if (!k) return k.error();
    if (auto* ok = std::get_if<offset_commit_key>(&*k)) {
        topic_partition tp{ok->topic, ok->partition};
        if (!value) {
            auto it = _groups.find(ok->group);
            if (it != _groups.end() && it->second.g->remove_offset(tp)) erase_if_unused(it);
            return {};
        }
        auto v = decode_offset_commit_value(*value);
        if (!v) return v.error();
        committed_offset c{.offset = v->offset,
                           .leader_epoch = v->leader_epoch,
                           .metadata = std::move(v->metadata),
                           .commit_timestamp = timestamp_ms(v->commit_timestamp_ms)};
        if (v->expire_timestamp_ms >= 0) c.expire_timestamp = timestamp_ms(v->expire_timestamp_ms);
        get_or_create(ok->group, now).commit_offset(tp, std::move(c));
        return {};
    }
    if (auto* gk = std::get_if<group_metadata_key>(&*k)) {
        if (!value) {
            auto it = _groups.find(gk->group);
            if (it == _groups.end()) return {};
            // The group record is deleted; offsets without it make an offsets-only group.
            auto fresh = std::make_unique<group>(gk->group, _config, now);
            for (const auto& [tp, c] : it->second.g->offsets()) fresh->commit_offset(tp, c);
            it->second.g = std::move(fresh);
            it->second.has_metadata_record = false;
            erase_if_unused(it);
            return {};
        }
        auto v = decode_group_metadata_value(*value);
        if (!v) return v.error();
        get_or_create(gk->group, now).load(*v, now);
        _groups.find(gk->group)->second.has_metadata_record = true;
        return {};
    }
    return {};  // a record type of the KIP-848 protocol: not this coordinator's
}

void group_registry::finish_load(timestamp_ms now) {
    for (auto& [_, e] : _groups) e.g->loaded(now);
}

std::vector<offsets_record> group_registry::records_for_commit(
    const std::string& group_id,
    const std::vector<std::pair<topic_partition, committed_offset>>& offsets) {
    std::vector<offsets_record> out;
    out.reserve(offsets.size());
    for (const auto& [tp, c] : offsets) {
        offset_commit_value v{
            .offset = c.offset,
            .leader_epoch = c.leader_epoch,
            .metadata = c.metadata,
            .commit_timestamp_ms = c.commit_timestamp.value(),
            .expire_timestamp_ms = c.expire_timestamp ? c.expire_timestamp->value() : -1};
        out.push_back(
            {encode_key(offset_commit_key{group_id, tp.topic, tp.partition}), encode_value(v)});
    }
    return out;
}

offsets_record group_registry::records_for_group(const group& g) {
    return {encode_key(group_metadata_key{g.id()}), encode_value(g.metadata_value())};
}

offsets_record group_registry::offset_tombstone(const std::string& group_id,
                                                const topic_partition& tp) {
    return {encode_key(offset_commit_key{group_id, tp.topic, tp.partition}), std::nullopt};
}

offsets_record group_registry::group_tombstone(const std::string& group_id) {
    return {encode_key(group_metadata_key{group_id}), std::nullopt};
}

}  // namespace wharf::groups
