#pragma once

// The routes of the admin API (admin_api.h lists them) and the JSON they answer with. Runs on
// shard 0, in the admin HTTP server's connections.

#include <chrono>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/config/broker_config.h"
#include "core/metrics/shard_report.h"
#include "net/http/http_server.h"

namespace wharf::admin {

// What the routes read; owned by admin_api.cc, alive while the server runs.
struct admin_context {
    const broker_config& cfg;
    // Every shard serves Kafka (set by the broker once its listeners accept).
    const bool& ready;
    // The server itself, for its counters in /metrics; set before start.
    const net::http::server* server = nullptr;
    std::chrono::steady_clock::time_point started;
};

// Registers every route. REQUIRES: ctx outlives the server.
void add_routes(net::http::server& server, const admin_context& ctx);

// --- JSON (admin_json.cc) -----------------------------------------------------------------------
// The effective configuration, keyed by flag name (without the dashes); sizes in bytes,
// durations in the unit of the flag's name or its unitless default.
nlohmann::json config_json(const broker_config& cfg);
nlohmann::json shards_json(const std::vector<metrics::shard_summary>& shards,
                           const broker_config& cfg);
nlohmann::json partitions_json(const std::vector<metrics::partition_row>& partitions);

// A JSON body; json.dump() with invalid UTF-8 (client-chosen names) replaced, never thrown.
net::http::response json_response(int status, const nlohmann::json& body);

}  // namespace wharf::admin
