#pragma once

// Tells systemd how the broker is doing, for `Type=notify` units (deploy/systemd/wharf.service):
// the sd_notify(3) protocol, one datagram such as "READY=1" to the unix socket named by
// $NOTIFY_SOCKET (a path, or an abstract name written with a leading '@'). Written by hand so
// that the binary needs no libsystemd. Without $NOTIFY_SOCKET (not started by systemd) it does
// nothing. One non-blocking sendto: safe on a reactor thread.

#include <string_view>

#include "reactor/base/result.h"

namespace wharf {

// Sends `state` (newline-separated assignments: "READY=1\nSTATUS=...") to $NOTIFY_SOCKET.
// Errors are for logging only: a broker that cannot reach systemd keeps serving.
status notify_systemd(std::string_view state);

}  // namespace wharf
