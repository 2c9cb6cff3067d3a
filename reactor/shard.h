#pragma once

// Which shard the calling thread is. Every reactor thread sets this once at start-up; threads that
// are not reactors (main before start-up, tests) see `no_shard`.

#include <cstdint>

#include "reactor/base/ids.h"

namespace wharf {

inline constexpr shard_id no_shard = shard_id::max();

namespace detail {
inline thread_local shard_id current_shard = no_shard;
}  // namespace detail

inline shard_id this_shard() noexcept { return detail::current_shard; }

}  // namespace wharf
