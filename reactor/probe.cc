#include "reactor/probe.h"

#include <liburing.h>

#include <cstring>

#include <fmt/format.h>

namespace wharf {

std::vector<std::string> probe_kernel() {
    std::vector<std::string> missing;
    io_uring ring{};
    int rc = io_uring_queue_init(8, &ring, 0);
    if (rc < 0) {
        missing.push_back(fmt::format("io_uring itself (io_uring_setup failed: {}; check "
                                      "/proc/sys/kernel/io_uring_disabled and seccomp)",
                                      std::strerror(-rc)));
        return missing;
    }
    io_uring_probe* probe = io_uring_get_probe_ring(&ring);
    if (probe == nullptr) {
        missing.push_back("IORING_REGISTER_PROBE (kernel older than 5.6)");
        io_uring_queue_exit(&ring);
        return missing;
    }
    struct needed {
        int op;
        const char* name;
    };
    static constexpr needed ops[] = {
        {IORING_OP_ACCEPT, "IORING_OP_ACCEPT"},     {IORING_OP_CONNECT, "IORING_OP_CONNECT"},
        {IORING_OP_RECV, "IORING_OP_RECV"},         {IORING_OP_SEND, "IORING_OP_SEND"},
        {IORING_OP_SENDMSG, "IORING_OP_SENDMSG"},   {IORING_OP_RECVMSG, "IORING_OP_RECVMSG"},
        {IORING_OP_OPENAT, "IORING_OP_OPENAT"},     {IORING_OP_READ, "IORING_OP_READ"},
        {IORING_OP_READV, "IORING_OP_READV"},       {IORING_OP_WRITE, "IORING_OP_WRITE"},
        {IORING_OP_WRITEV, "IORING_OP_WRITEV"},     {IORING_OP_FSYNC, "IORING_OP_FSYNC"},
        {IORING_OP_FALLOCATE, "IORING_OP_FALLOCATE"}, {IORING_OP_CLOSE, "IORING_OP_CLOSE"},
        {IORING_OP_TIMEOUT, "IORING_OP_TIMEOUT"},   {IORING_OP_LINK_TIMEOUT, "IORING_OP_LINK_TIMEOUT"},
        {IORING_OP_ASYNC_CANCEL, "IORING_OP_ASYNC_CANCEL"}, {IORING_OP_STATX, "IORING_OP_STATX"},
        {IORING_OP_UNLINKAT, "IORING_OP_UNLINKAT"}, {IORING_OP_RENAMEAT, "IORING_OP_RENAMEAT"},
        {IORING_OP_MKDIRAT, "IORING_OP_MKDIRAT"},
    };
    for (const auto& n : ops) {
        if (!io_uring_opcode_supported(probe, n.op)) missing.push_back(n.name);
    }
    io_uring_free_probe(probe);
    // Cancelling every operation at once at shutdown (IORING_ASYNC_CANCEL_ANY) needs 5.19; the
    // probe has no flag for it, so try it on an idle ring: an unsupported flag answers -EINVAL.
    io_uring_sqe* sqe = io_uring_get_sqe(&ring);
    io_uring_prep_cancel(sqe, nullptr, IORING_ASYNC_CANCEL_ANY);
    io_uring_submit(&ring);
    io_uring_cqe* cqe = nullptr;
    if (io_uring_wait_cqe(&ring, &cqe) == 0) {
        if (cqe->res == -EINVAL) missing.push_back("IORING_ASYNC_CANCEL_ANY (kernel 5.19)");
        io_uring_cqe_seen(&ring, cqe);
    }
    io_uring_queue_exit(&ring);
    return missing;
}

}  // namespace wharf
