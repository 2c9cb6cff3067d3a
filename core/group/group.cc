// The membership half of a classic group: construction, members, and JoinGroup (Kafka's
// GroupCoordinator.handleJoinGroup, doNewMemberJoinGroup, doCurrentMemberJoinGroup and
// updateStaticMemberAndRebalance).

#include "core/group/group.h"

#include <sys/random.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <random>

#include "core/group/group_internal.h"
#include "reactor/base/assert.h"

namespace wharf::groups {

const char* state_name(group_state s) noexcept {
    switch (s) {
        case group_state::empty:
            return "Empty";
        case group_state::preparing_rebalance:
            return "PreparingRebalance";
        case group_state::completing_rebalance:
            return "CompletingRebalance";
        case group_state::stable:
            return "Stable";
        case group_state::dead:
            return "Dead";
    }
    return "Unknown";
}

namespace {

join_result join_error(std::string member_id, error_code error) {
    join_result r;
    r.error = error;
    r.member_id = std::move(member_id);
    return r;
}

// Java's UUID.randomUUID().toString(): version 4, 8-4-4-4-12 lower-case hex.
std::string random_uuid() {
    std::array<uint8_t, 16> b{};
    size_t filled = 0;
    while (filled < b.size()) {
        ssize_t n = ::getrandom(b.data() + filled, b.size() - filled, 0);
        if (n > 0) {
            filled += size_t(n);
        } else if (n < 0 && errno != EINTR) {
            std::random_device rd;
            for (auto& x : b) x = uint8_t(rd());
            break;
        }
    }
    b[6] = uint8_t((b[6] & 0x0f) | 0x40);
    b[8] = uint8_t((b[8] & 0x3f) | 0x80);
    static constexpr char hex[] = "0123456789abcdef";
    std::string s;
    s.reserve(36);
    for (size_t i = 0; i < b.size(); ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) s.push_back('-');
        s.push_back(hex[b[i] >> 4]);
        s.push_back(hex[b[i] & 0xf]);
    }
    return s;
}

}  // namespace

group::group(std::string group_id, group_config config, timestamp_ms now)
    : _id(std::move(group_id)),
      _config(config),
      _state_timestamp(now),
      _answers(std::make_unique<answer_queue>()) {}

group::~group() {
    // Whatever still waits is answered: a request is never left without a response.
    if (_state != group_state::dead) unload(_state_timestamp.value_or(timestamp_ms(0)));
}

bool group::has_member(std::string_view member_id) const {
    return find(member_id) != nullptr;
}

std::optional<std::string> group::static_member_id(std::string_view instance_id) const {
    auto it = _static_members.find(instance_id);
    if (it == _static_members.end()) return std::nullopt;
    return it->second;
}

group::member* group::find(std::string_view member_id) {
    auto it = _members.find(member_id);
    return it == _members.end() ? nullptr : it->second.get();
}

const group::member* group::find(std::string_view member_id) const {
    auto it = _members.find(member_id);
    return it == _members.end() ? nullptr : it->second.get();
}

std::vector<group::member*> group::members_in_join_order() {
    std::vector<member*> out;
    out.reserve(_members.size());
    for (auto& [_, m] : _members) out.push_back(m.get());
    std::sort(out.begin(), out.end(),
              [](const member* a, const member* b) { return a->join_order < b->join_order; });
    return out;
}

std::vector<const group::member*> group::members_in_join_order() const {
    std::vector<const member*> out;
    out.reserve(_members.size());
    for (const auto& [_, m] : _members) out.push_back(m.get());
    std::sort(out.begin(), out.end(),
              [](const member* a, const member* b) { return a->join_order < b->join_order; });
    return out;
}

std::string group::generate_member_id(std::string_view prefix) const {
    std::string id(prefix);
    id += '-';
    id += random_uuid();
    return id;
}

void group::inc_protocols(const member& m) {
    for (const auto& p : m.protocols) ++_supported_protocols[p.name];
}

void group::dec_protocols(const member& m) {
    for (const auto& p : m.protocols) {
        auto it = _supported_protocols.find(p.name);
        WHARF_ASSERT(it != _supported_protocols.end() && it->second > 0,
                     "group {}: protocol {} not counted", _id, p.name);
        if (--it->second == 0) _supported_protocols.erase(it);
    }
}

// Kafka's GroupMetadata.add.
void group::add(std::unique_ptr<member> m, join_callback cb) {
    if (m->instance_id) {
        WHARF_ASSERT(!_static_members.contains(*m->instance_id),
                     "group {}: static member {} added twice", _id, *m->instance_id);
        _static_members[*m->instance_id] = m->id;
    }
    if (_members.empty()) _protocol_type = m->protocol_type;
    if (!_leader_id) _leader_id = m->id;
    m->join_order = _next_join_order++;
    inc_protocols(*m);
    _pending_members.erase(m->id);
    member& ref = *m;
    _members.emplace(m->id, std::move(m));
    if (cb) set_awaiting_join(ref, std::move(cb));
}

// Kafka's GroupMetadata.remove. Whatever the member still waits for is answered
// UNKNOWN_MEMBER_ID, so that no request is left without a response.
void group::remove(std::string_view member_id) {
    auto it = _members.find(member_id);
    if (it != _members.end()) {
        member& m = *it->second;
        answer_join(m, join_error("", error_code::unknown_member_id));
        answer_sync(m, sync_result{.error = error_code::unknown_member_id});
        dec_protocols(m);
        if (m.instance_id) _static_members.erase(*m.instance_id);
        _members.erase(it);
    }
    if (_leader_id && *_leader_id == member_id) {
        auto order = members_in_join_order();
        _leader_id = order.empty() ? std::nullopt : std::optional<std::string>(order[0]->id);
    }
    _pending_members.erase(std::string(member_id));
    _pending_sync.erase(std::string(member_id));
}

void group::set_awaiting_join(member& m, join_callback cb) {
    if (m.awaiting_join) {
        // The member sent another JoinGroup while one was waiting (a client retry): the older
        // request is answered so that it does not wait forever; the client rejoins.
        answer_join(m, join_error(m.id, error_code::rebalance_in_progress));
    }
    if (!cb) return;
    m.awaiting_join = std::move(cb);
    ++_awaiting_join;
}

void group::answer_join(member& m, join_result r) {
    if (!m.awaiting_join) return;
    _answers->push(
        [cb = std::move(m.awaiting_join), r = std::move(r)]() mutable { cb(std::move(r)); });
    m.awaiting_join = nullptr;
    --_awaiting_join;
}

void group::answer_sync(member& m, sync_result r) {
    if (!m.awaiting_sync) return;
    _answers->push(
        [cb = std::move(m.awaiting_sync), r = std::move(r)]() mutable { cb(std::move(r)); });
    m.awaiting_sync = nullptr;
}

void group::renew_session(member& m, timestamp_ms now, int64_t timeout_ms) {
    m.heartbeat_deadline = now + timeout_ms;
}

void group::renew_session(member& m, timestamp_ms now) {
    renew_session(m, now, m.session_timeout_ms);
}

error_code group::validate_current_member(std::string_view member_id,
                                          const std::optional<std::string>& instance_id) const {
    if (instance_id) {
        auto it = _static_members.find(*instance_id);
        if (it == _static_members.end()) return error_code::unknown_member_id;
        if (it->second != member_id) return error_code::fenced_instance_id;
    }
    return has_member(member_id) ? error_code::none : error_code::unknown_member_id;
}

// Kafka's GroupCoordinator.acceptJoiningMember.
bool group::accept_joining_member(std::string_view member_id) const {
    const member* m = find(member_id);
    switch (_state) {
        case group_state::empty:
        case group_state::dead:
            return true;
        case group_state::preparing_rebalance:
            return (m != nullptr && m->awaiting_join) || _awaiting_join < _config.max_size;
        case group_state::completing_rebalance:
        case group_state::stable:
            return m != nullptr || _members.size() < size_t(_config.max_size);
    }
    return false;
}

// Kafka's GroupMetadata.supportsProtocols: an Empty group takes any non-empty type and list;
// otherwise the type must match and one protocol must be supported by every member.
bool group::supports_protocols(std::string_view type,
                               const std::vector<member_protocol>& protocols) const {
    if (_state == group_state::empty) return !type.empty() && !protocols.empty();
    if (!_protocol_type || *_protocol_type != type) return false;
    for (const auto& p : protocols) {
        auto it = _supported_protocols.find(p.name);
        if (it != _supported_protocols.end() && size_t(it->second) == _members.size()) {
            return true;
        }
    }
    return false;
}

join_result group::current_generation_result(const member& m, bool with_members) const {
    join_result r;
    r.member_id = m.id;
    r.generation = _generation;
    r.protocol_type = _protocol_type;
    r.protocol_name = _protocol_name;
    r.leader_id = _leader_id.value_or("");
    if (with_members) {
        for (const member* o : members_in_join_order()) {
            const bytes* md = _protocol_name ? o->metadata(*_protocol_name) : nullptr;
            r.members.push_back({o->id, o->instance_id, md ? *md : bytes{}});
        }
    }
    return r;
}

void group::join(join_request req, timestamp_ms now, join_callback cb) {
    answer_scope scope(*this);
    auto reply = [&](join_result r) {
        _answers->push([cb = std::move(cb), r = std::move(r)]() mutable { cb(std::move(r)); });
    };
    if (req.session_timeout_ms < _config.min_session_timeout_ms ||
        req.session_timeout_ms > _config.max_session_timeout_ms) {
        reply(join_error(req.member_id, error_code::invalid_session_timeout));
        return;
    }
    if (!accept_joining_member(req.member_id)) {
        reply(join_error("", error_code::group_max_size_reached));
        return;
    }
    if (req.member_id.empty()) {
        join_new_member(req, now, cb);
    } else {
        join_current_member(req, now, cb);
    }
    WHARF_ASSERT(!cb, "group {}: a JoinGroup was neither answered nor queued", _id);
    if (_state == group_state::preparing_rebalance) try_complete_join(now);
}

// Kafka's doNewMemberJoinGroup. Every path consumes `cb` (moves it into the group or queues
// an answer).
void group::join_new_member(join_request& req, timestamp_ms now, join_callback& cb) {
    auto reply = [&](join_result r) {
        _answers->push([cb = std::move(cb), r = std::move(r)]() mutable { cb(std::move(r)); });
        cb = nullptr;
    };
    if (_state == group_state::dead) {
        reply(join_error("", error_code::coordinator_not_available));
        return;
    }
    if (!supports_protocols(req.protocol_type, req.protocols)) {
        reply(join_error("", error_code::inconsistent_group_protocol));
        return;
    }
    std::string new_id = generate_member_id(req.instance_id ? *req.instance_id : req.client_id);
    if (req.instance_id) {
        join_static_new_member(req, std::move(new_id), now, cb);
    } else if (req.version >= 4) {
        // KIP-394: the member must rejoin with the id it is given, so that a client that
        // retries does not leave defunct members behind.
        _pending_members[new_id] = now + int64_t(req.session_timeout_ms);
        reply(join_error(std::move(new_id), error_code::member_id_required));
    } else {
        add_member_and_rebalance(req, std::move(new_id), now, std::exchange(cb, nullptr));
    }
}

void group::join_static_new_member(join_request& req, std::string new_id, timestamp_ms now,
                                   join_callback& cb) {
    auto existing = static_member_id(*req.instance_id);
    if (!existing) {
        add_member_and_rebalance(req, std::move(new_id), now, std::exchange(cb, nullptr));
    } else {
        replace_static_member(req, *existing, std::move(new_id), now, cb);
    }
}

// Kafka's doCurrentMemberJoinGroup.
void group::join_current_member(join_request& req, timestamp_ms now, join_callback& cb) {
    auto reply = [&](join_result r) {
        _answers->push([cb = std::move(cb), r = std::move(r)]() mutable { cb(std::move(r)); });
        cb = nullptr;
    };
    if (_state == group_state::dead) {
        reply(join_error(req.member_id, error_code::coordinator_not_available));
        return;
    }
    if (!supports_protocols(req.protocol_type, req.protocols)) {
        reply(join_error(req.member_id, error_code::inconsistent_group_protocol));
        return;
    }
    if (_pending_members.contains(req.member_id) && !req.instance_id) {
        std::string id = req.member_id;
        add_member_and_rebalance(req, std::move(id), now, std::exchange(cb, nullptr));
        return;
    }
    if (auto err = validate_current_member(req.member_id, req.instance_id);
        err != error_code::none) {
        reply(join_error(req.member_id, err));
        return;
    }
    member& m = *find(req.member_id);
    switch (_state) {
        case group_state::preparing_rebalance:
            update_member_and_rebalance(m, req, now, std::exchange(cb, nullptr));
            return;
        case group_state::completing_rebalance:
            if (m.matches(req.protocols)) {
                // The member missed the answer to its JoinGroup: the current generation again.
                reply(current_generation_result(m, _leader_id == m.id));
            } else {
                update_member_and_rebalance(m, req, now, std::exchange(cb, nullptr));
            }
            return;
        case group_state::stable:
            // The leader rejoining forces a rebalance (it saw a change that the metadata does
            // not show, such as new partitions); so does a follower with new metadata.
            if (_leader_id == m.id || !m.matches(req.protocols)) {
                update_member_and_rebalance(m, req, now, std::exchange(cb, nullptr));
            } else {
                reply(current_generation_result(m, false));
            }
            return;
        case group_state::empty:
        case group_state::dead:
            reply(join_error(req.member_id, error_code::unknown_member_id));
            return;
    }
}

// Kafka's addMemberAndRebalance.
void group::add_member_and_rebalance(join_request& req, std::string member_id, timestamp_ms now,
                                     join_callback cb) {
    auto m = std::make_unique<member>();
    m->id = std::move(member_id);
    m->instance_id = req.instance_id;
    m->client_id = std::move(req.client_id);
    m->client_host = std::move(req.client_host);
    m->rebalance_timeout_ms = req.rebalance_timeout_ms;
    m->session_timeout_ms = req.session_timeout_ms;
    m->protocol_type = std::move(req.protocol_type);
    m->protocols = std::move(req.protocols);
    m->is_new = true;
    // A second member joining the first generation extends the initial rebalance delay.
    if (_state == group_state::preparing_rebalance && _generation == 0) _new_member_added = true;
    member& ref = *m;
    add(std::move(m), std::move(cb));
    // A new member cannot heartbeat before it has its id: only the join timeout bounds it.
    renew_session(ref, now, _config.new_member_join_timeout_ms);
    maybe_prepare_rebalance(now);
}

void group::update_member_and_rebalance(member& m, join_request& req, timestamp_ms now,
                                        join_callback cb) {
    dec_protocols(m);
    m.protocols = std::move(req.protocols);
    inc_protocols(m);
    m.rebalance_timeout_ms = req.rebalance_timeout_ms;
    m.session_timeout_ms = req.session_timeout_ms;
    set_awaiting_join(m, std::move(cb));
    maybe_prepare_rebalance(now);
}

// Kafka's GroupMetadata.replaceStaticMember: the member keeps its place under a new id; whatever
// the old id still waits for is fenced.
group::member& group::rekey_static_member(const std::string& instance_id, const std::string& old_id,
                                          const std::string& new_id) {
    auto node = _members.extract(old_id);
    WHARF_ASSERT(!node.empty(), "group {}: static member {} not found", _id, old_id);
    std::unique_ptr<member> m = std::move(node.mapped());
    answer_join(*m, join_error(old_id, error_code::fenced_instance_id));
    answer_sync(*m, sync_result{.error = error_code::fenced_instance_id});
    m->id = new_id;
    if (_leader_id == old_id) _leader_id = new_id;
    _static_members[instance_id] = new_id;
    if (_pending_sync.erase(old_id) > 0) _pending_sync.insert(new_id);
    member& ref = *m;
    _members.emplace(new_id, std::move(m));
    return ref;
}

// Kafka's updateStaticMemberAndRebalance: a static member came back with a new member id.
// The old id is fenced; a Stable group whose protocol would not change keeps its generation.
void group::replace_static_member(join_request& req, const std::string& old_id, std::string new_id,
                                  timestamp_ms now, join_callback& cb) {
    std::optional<std::string> old_leader = _leader_id;
    member& ref = rekey_static_member(*req.instance_id, old_id, new_id);
    renew_session(ref, now);

    dec_protocols(ref);
    ref.protocols = std::move(req.protocols);
    inc_protocols(ref);
    ref.rebalance_timeout_ms = req.rebalance_timeout_ms;
    ref.session_timeout_ms = req.session_timeout_ms;
    ref.client_id = std::move(req.client_id);
    ref.client_host = std::move(req.client_host);
    set_awaiting_join(ref, std::exchange(cb, nullptr));

    switch (_state) {
        case group_state::stable:
            if (_protocol_name == select_protocol()) {
                // Nothing the assignment depends on changed: persist the new member id and
                // answer with the current generation.
                _needs_store = true;
                join_result r = current_generation_result(ref, false);
                if (req.version >= 9) {
                    // KIP-814: the leader learns that it leads but skips the assignor.
                    bool leads = _leader_id == new_id;
                    r = current_generation_result(ref, leads);
                    r.skip_assignment = leads;
                } else {
                    // Older leaders must not think they lead (their new assignment would be
                    // ignored by a Stable group): the old leader id is returned.
                    r.leader_id = old_leader.value_or("");
                }
                answer_join(ref, std::move(r));
            } else {
                maybe_prepare_rebalance(now);
            }
            return;
        case group_state::completing_rebalance:
            // The leader may already have been given the old id: rebalance so that the new id
            // gets an assignment.
            prepare_rebalance(now);
            return;
        case group_state::preparing_rebalance:
            return;  // the join phase in progress takes the new id
        case group_state::empty:
        case group_state::dead:
            WHARF_ASSERT(false, "group {}: static member {} in state {}", _id, *req.instance_id,
                         state_name(_state));
    }
}

}  // namespace wharf::groups
