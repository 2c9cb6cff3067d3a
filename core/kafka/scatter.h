#pragma once

// scatter: send per-partition work to the shards that own the partitions and gather the answers
// back in request order (DESIGN.md section 1: a request is split per owning shard, the payload
// buffers move with the messages, the answers are gathered on the connection's shard). The
// messages to all shards are queued before the first suspension, in item order, so two requests
// scattered one after the other reach every shard in that order.

#include <map>
#include <type_traits>
#include <utility>
#include <vector>

#include "reactor/base/ids.h"
#include "reactor/submit_to.h"
#include "reactor/task.h"
#include "reactor/when_all.h"

namespace wharf::kafka {

// items[i] goes to items[i].first; on_shard (a copyable callable taking std::vector<Item> and
// returning task<std::vector<Result>>, with no references to the caller's frame) runs there over
// that shard's items, in order, and returns one result per item. Returns one result per item, in
// the order of items.
template <typename Item, typename OnShard,
          typename Result = typename std::invoke_result_t<OnShard, std::vector<Item>>::value_type::value_type>
task<std::vector<Result>> scatter(std::vector<std::pair<shard_id, Item>> items, OnShard on_shard) {
    std::map<shard_id, std::vector<size_t>> positions;
    std::map<shard_id, std::vector<Item>> batches;
    for (size_t i = 0; i < items.size(); ++i) {
        positions[items[i].first].push_back(i);
        batches[items[i].first].push_back(std::move(items[i].second));
    }
    std::vector<task<std::vector<Result>>> sends;
    std::vector<shard_id> order;
    for (auto& [shard, batch] : batches) {
        auto fn = [on_shard, batch = std::move(batch)]() mutable {
            return on_shard(std::move(batch));
        };
        sends.push_back(submit_to(shard, std::move(fn)));
        order.push_back(shard);
    }
    auto answers = co_await when_all(std::move(sends));
    std::vector<Result> out(items.size());
    for (size_t k = 0; k < order.size(); ++k) {
        const auto& pos = positions[order[k]];
        for (size_t j = 0; j < pos.size() && j < answers[k].size(); ++j) {
            out[pos[j]] = std::move(answers[k][j]);
        }
    }
    co_return out;
}

}  // namespace wharf::kafka
