#include "core/kafka/fetch_wakeup.h"

#include <algorithm>

#include "reactor/shard.h"
#include "reactor/spawn.h"
#include "reactor/submit_to.h"
#include "reactor/timer.h"

namespace wharf::kafka {

namespace {

struct home_table {
    uint64_t next_id = 1;
    std::unordered_map<uint64_t, std::shared_ptr<wake_slot>> slots;
};

thread_local home_table t_home;
thread_local bool t_shutting_down = false;
thread_local partition_waiters t_waiters;

void wake_local(uint64_t id) {
    auto it = t_home.slots.find(id);
    if (it != t_home.slots.end()) it->second->fire();
}

task<void> wake_remote(shard_id home, uint64_t id) {
    auto fn = [id] { wake_local(id); };
    co_await submit_to(home, fn);
}

task<void> fire_at_deadline(std::shared_ptr<wake_slot> slot, std::chrono::milliseconds d) {
    co_await sleep_for(d);
    // Also on shutdown (the sleep was cancelled): the fetch must not wait forever.
    slot->fire();
}

}  // namespace

fetch_wait::fetch_wait(std::chrono::milliseconds max_wait)
    : _slot(std::make_shared<wake_slot>()),
      _target{this_shard(), t_home.next_id++, steady_now() + max_wait} {
    t_home.slots.emplace(_target.id, _slot);
    spawn(fire_at_deadline(_slot, max_wait), "fetch deadline");
}

fetch_wait::~fetch_wait() { t_home.slots.erase(_target.id); }

task<void> fetch_wait::wait() {
    if (!_slot->fired()) co_await _slot->wait();
}

void partition_waiters::add(partition_id p, wake_target t) {
    auto& list = _waiting[p];
    auto now = steady_now();
    std::erase_if(list, [now](const wake_target& w) { return w.deadline <= now; });
    list.push_back(t);
}

void partition_waiters::notify(partition_id p) {
    auto it = _waiting.find(p);
    if (it == _waiting.end()) return;
    std::vector<wake_target> list = std::move(it->second);
    _waiting.erase(it);
    auto now = steady_now();
    for (const auto& w : list) {
        if (w.deadline <= now) continue;
        if (w.home == this_shard()) {
            wake_local(w.id);
        } else {
            spawn(wake_remote(w.home, w.id), "fetch wake-up");
        }
    }
}

size_t partition_waiters::size() const noexcept {
    size_t n = 0;
    for (const auto& [p, list] : _waiting) n += list.size();
    return n;
}

partition_waiters& local_partition_waiters() noexcept { return t_waiters; }

void wake_fetches_for_shutdown() {
    t_shutting_down = true;
    for (auto& [id, slot] : t_home.slots) slot->fire();
}

bool fetches_shutting_down() noexcept { return t_shutting_down; }

}  // namespace wharf::kafka
