#pragma once

// The `wharf` command-line client (issue 8): `wharf topic|produce|consume|group|cluster ...`.
// It speaks only the Kafka protocol (net/kafka/client), so it works against Apache Kafka and
// Redpanda as well as Wharf. Each command runs on a one-shard reactor and exits.
//
// Brokers: -b/--brokers, else $WHARF_BROKERS, else 127.0.0.1:9092. Output: human tables, or
// --format json. Errors: one line on stderr naming the Kafka error, exit status 1; bad usage 2.

#include <string_view>

namespace wharf::cli {

bool is_command(std::string_view arg);
int run(int argc, char** argv);

}  // namespace wharf::cli
