#include "reactor/logger.h"

#include <spdlog/sinks/stdout_color_sinks.h>

#include <mutex>

namespace wharf {

namespace {

// The sink is shared by all shard loggers; spdlog's _mt sinks serialize the final write, which
// is the only point where shards meet, and only when they log.
std::shared_ptr<spdlog::sinks::sink> g_sink;
spdlog::level::level_enum g_level = spdlog::level::info;
thread_local std::shared_ptr<spdlog::logger> t_logger;
std::once_flag g_init_once;

std::shared_ptr<spdlog::logger> make_logger(const std::string& name) {
    std::call_once(g_init_once, [] {
        if (!g_sink) g_sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
    });
    auto l = std::make_shared<spdlog::logger>(name, g_sink);
    l->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%-5l%$ [%n] %v");
    l->set_level(g_level);
    l->flush_on(spdlog::level::warn);
    return l;
}

}  // namespace

result<spdlog::level::level_enum> parse_log_level(const std::string& level) {
    static const char* names[] = {"trace", "debug", "info", "warn", "error", "critical", "off"};
    for (int i = 0; i < 7; ++i) {
        if (level == names[i]) return static_cast<spdlog::level::level_enum>(i);
    }
    return std::make_error_code(std::errc::invalid_argument);
}

status init_logging(const std::string& level) {
    WHARF_TRY(lvl, parse_log_level(level));
    g_level = lvl;
    auto main_logger = make_logger("main");
    spdlog::set_default_logger(main_logger);
    t_logger = main_logger;
    return {};
}

void install_shard_logger(shard_id id) { t_logger = make_logger(fmt::format("shard {}", id)); }

spdlog::logger& shard_logger() noexcept {
    if (!t_logger) t_logger = make_logger("main");
    return *t_logger;
}

}  // namespace wharf
