#pragma once

// Listening again on an address that is still in use for a moment. A killed broker's io_uring
// rings are torn down by the kernel after the process is gone, and a listening socket that a
// pending accept still references stays bound meanwhile: a broker restarted at once (systemd's
// Restart=, a supervisor, the fault tests' SIGKILL and restart) can find its own address in use
// (seen in a 100-round fault run: "cannot listen on --rpc-addr ...: Address already in use").
// A listen that fails with EADDRINUSE is tried again for a few seconds, with one warning.

#include <chrono>
#include <string_view>
#include <system_error>

#include "reactor/clock.h"
#include "reactor/logger.h"
#include "reactor/task.h"
#include "reactor/timer.h"

namespace wharf {

inline constexpr std::chrono::seconds address_in_use_wait{10};
inline constexpr std::chrono::milliseconds address_in_use_retry{200};

// Calls listen() (a callable returning task<result<T>>) until it succeeds, fails otherwise than
// with EADDRINUSE, or address_in_use_wait has passed; returns its last result. `what` names the
// address in the warning (e.g. "--rpc-addr 127.0.0.1:9093").
template <typename Listen>
auto listen_retrying(Listen listen, std::string what) -> decltype(listen()) {
    const auto deadline = steady_now() + address_in_use_wait;
    bool warned = false;
    for (;;) {
        auto r = co_await listen();
        if (r || r.error() != std::errc::address_in_use || steady_now() >= deadline) co_return r;
        if (!warned) {
            shard_logger().warn("{} is in use (a previous process's sockets may still be "
                                "closing); trying again for up to {} s",
                                what, address_in_use_wait.count());
            warned = true;
        }
        bool slept = co_await sleep_for(address_in_use_retry);
        if (!slept) co_return r;
    }
}

}  // namespace wharf
