#include "core/kafka/cluster_view.h"

#include "core/cluster/metadata_service.h"
#include "core/kafka/errors.h"
#include "reactor/submit_to.h"

namespace wharf::kafka {

namespace {
thread_local cluster_view t_view;
}

const cluster_view& local_cluster_view() noexcept { return t_view; }
void set_local_cluster_view(cluster_view v) { t_view = std::move(v); }

task<int16_t> auto_create_topic(std::string name) {
    auto fn = [name]() -> task<int16_t> {
        auto* m = local_metadata_service();
        if (m == nullptr) co_return code(error_code::coordinator_not_available);
        if (m->table().find(name) != nullptr) co_return 0;
        config_map no_overrides;
        auto out = co_await m->create_topic(name, -1, -1, std::move(no_overrides), false);
        if (!out.error || out.error->code == cluster_errc::topic_already_exists) co_return 0;
        co_return kafka_error_code(out.error->code);
    };
    co_return co_await submit_to(shard_id(0), std::move(fn));
}

}  // namespace wharf::kafka
