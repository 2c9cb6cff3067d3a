#include "reactor/cross_shard.h"

#include <algorithm>
#include <array>
#include <atomic>

#include "reactor/base/assert.h"
#include "reactor/iobuf.h"
#include "reactor/reactor.h"

namespace wharf {

namespace {
std::atomic<cross_shard_mesh*> g_mesh{nullptr};

// Buffer chunks whose last reference was dropped away from home travel back to their owner in
// one batch per destination and turn, chained through the chunks' own link field.
struct chunks_home final : cross_shard_item {
    explicit chunks_home(detail::iobuf_chunk* h) noexcept : head(h) {}
    void run() noexcept override {
        while (head != nullptr) {
            auto* next = head->foreign_next;
            detail::iobuf_free_chunk_on_owner(head);
            head = next;
        }
        delete this;
    }
    detail::iobuf_chunk* head;
};

// Per sending shard: the chain of chunks waiting to go home, per owner shard.
thread_local std::vector<detail::iobuf_chunk*> t_chunks_home;

void send_chunk_home(shard_id owner, detail::iobuf_chunk* chunk) noexcept {
    auto* mesh = current_mesh();
    if (mesh == nullptr || !mesh->is_running(owner)) {
        // The owner no longer runs (shutdown): nobody would free it there.
        detail::iobuf_free_chunk_in_place(chunk);
        return;
    }
    if (t_chunks_home.size() < mesh->shard_count()) t_chunks_home.resize(mesh->shard_count());
    chunk->foreign_next = t_chunks_home[owner.value()];
    t_chunks_home[owner.value()] = chunk;
}
}  // namespace

cross_shard_mesh* current_mesh() noexcept { return g_mesh.load(std::memory_order_acquire); }
void set_current_mesh(cross_shard_mesh* m) noexcept { g_mesh.store(m, std::memory_order_release); }

cross_shard_mesh::cross_shard_mesh(unsigned shards, size_t ring_capacity)
    : _shards(shards), _reactors(shards) {
    WHARF_ASSERT(shards >= 1, "a mesh needs at least one shard");
    _rings.reserve(size_t(shards) * shards);
    for (unsigned i = 0; i < shards * shards; ++i) {
        _rings.push_back(std::make_unique<spsc_ring<cross_shard_item*>>(ring_capacity));
    }
    for (unsigned i = 0; i < shards; ++i) {
        auto o = std::make_unique<outgoing>();
        o->to.resize(shards);
        _out.push_back(std::move(o));
        _reactors[i].store(nullptr, std::memory_order_relaxed);
    }
    detail::set_foreign_free_hook(&send_chunk_home);
}

cross_shard_mesh::~cross_shard_mesh() { detail::set_foreign_free_hook(nullptr); }

bool cross_shard_mesh::is_running(shard_id id) const noexcept {
    return id.value() < _shards && _reactors[id.value()].load(std::memory_order_acquire) != nullptr;
}

void cross_shard_mesh::attach(shard_id id, reactor* r) noexcept {
    _reactors[id.value()].store(r, std::memory_order_release);
}

void cross_shard_mesh::detach(shard_id id) noexcept {
    _reactors[id.value()].store(nullptr, std::memory_order_release);
}

void cross_shard_mesh::send(shard_id from, shard_id to, cross_shard_item* item) {
    WHARF_ASSERT(to.value() < _shards, "send to shard {} of {}", to, _shards);
    WHARF_ASSERT(from == this_shard(), "send from shard {} called on shard {}", from, this_shard());
    _out[from.value()]->to[to.value()].push_back(item);
}

bool cross_shard_mesh::flush_outgoing(shard_id from) {
    auto& out = *_out[from.value()];
    for (unsigned owner = 0; owner < t_chunks_home.size(); ++owner) {
        if (auto* head = std::exchange(t_chunks_home[owner], nullptr)) {
            out.to[owner].push_back(new chunks_home(head));
        }
    }
    bool left = false;
    for (unsigned to = 0; to < _shards; ++to) {
        auto& q = out.to[to];
        if (q.empty()) continue;
        size_t pushed = ring(from.value(), to).push(q.data(), q.size());
        out.sent += pushed;
        q.erase(q.begin(), q.begin() + static_cast<ptrdiff_t>(pushed));
        left |= !q.empty();
        if (pushed == 0) continue;
        // Dekker-style handshake with the receiver's sleep: it sets its flag and then looks at the
        // rings; we publish into the ring and then look at its flag. With both sides sequentially
        // consistent, at least one of them sees the other.
        std::atomic_thread_fence(std::memory_order_seq_cst);
        reactor* r = _reactors[to].load(std::memory_order_acquire);
        if (r != nullptr && r->sleeping_flag().load(std::memory_order_relaxed) &&
            r->sleeping_flag().exchange(false, std::memory_order_acq_rel)) {
            r->wake_from_other_thread();
        }
    }
    return left;
}

size_t cross_shard_mesh::poll_incoming(shard_id to) {
    std::array<cross_shard_item*, 64> batch;
    size_t total = 0;
    for (unsigned from = 0; from < _shards; ++from) {
        auto& r = ring(from, to.value());
        // Bounded: at most one ring's capacity per source per turn, so a turn always ends.
        size_t budget = r.capacity();
        while (budget > 0) {
            size_t n = r.pop(batch.data(), std::min(batch.size(), budget));
            if (n == 0) break;
            budget -= n;
            total += n;
            for (size_t i = 0; i < n; ++i) batch[i]->run();
        }
    }
    return total;
}

bool cross_shard_mesh::has_incoming(shard_id to) const noexcept {
    for (unsigned from = 0; from < _shards; ++from) {
        if (!ring(from, to.value()).empty()) return true;
    }
    return false;
}

}  // namespace wharf
