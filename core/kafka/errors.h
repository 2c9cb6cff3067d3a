#pragma once

// The one place where the broker's error values become Kafka error codes (DESIGN.md section 2:
// modules report their own errc; the handler edge picks the Kafka code).

#include <system_error>

#include "net/kafka/error_code.h"

namespace wharf::kafka {

// The Kafka error a produce/fetch/list-offsets answer carries for a log or raft failure.
error_code to_kafka_error(std::error_code ec) noexcept;

inline int16_t code(error_code e) noexcept { return static_cast<int16_t>(e); }

}  // namespace wharf::kafka
