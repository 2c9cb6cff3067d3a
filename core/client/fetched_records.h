#pragma once

// Reading the record batches of a Fetch response partition on the client side (`wharf consume`,
// the `wharf bench` consumers): every codec decompressed (log/compression.h, hence core/ rather
// than net/), control batches skipped, records below the consumer's position skipped (a fetch
// may return a batch that starts before it), a partial batch at the end ignored (fetches cut
// batches at the byte limit). The bytes come from a broker, so every length is checked; a batch
// that does not read is skipped, not trusted.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>

#include "log/record_reader.h"

namespace wharf::client {

struct fetched_record {
    int64_t offset = 0;
    int64_t timestamp = 0;  // ms: the create time, or the log-append time of such a batch
    const record_view* record = nullptr;
};

// Calls fn for every record at or above `position` and returns the next position: one past the
// last complete batch read (control and unreadable batches included), or `position` when there
// was none.
int64_t for_each_record(std::span<const std::byte> records, int64_t position,
                        const std::function<void(const fetched_record&)>& fn);

}  // namespace wharf::client
