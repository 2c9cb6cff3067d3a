#pragma once

// Awaitables for single io_uring operations on the calling shard's ring (DESIGN.md section 3).
//
// `co_await io::recv(fd, buf, len)` prepares one SQE when the coroutine suspends; the SQE goes to
// the kernel with the rest of the turn's submissions, and the completion resumes the coroutine with
// the raw result: a byte count or other non-negative value, or -errno. Everything an operation
// points to (buffers, iovecs, the timeout's timespec) must stay valid until it completes; the
// awaitable itself lives in the awaiting coroutine's frame, so values stored in it do.

#include <liburing.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <chrono>
#include <coroutine>
#include <cstdint>

#include "reactor/reactor.h"

namespace wharf::io {

// One io_uring operation; Prep fills the SQE. The result is the CQE's res.
template <typename Prep>
class op {
public:
    explicit op(Prep prep) noexcept : _prep(std::move(prep)) {}

    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h) {
        _completion.waiter = h;
        io_uring_sqe* sqe = reactor::local().get_sqe();
        _prep(sqe);
        io_uring_sqe_set_data(sqe, &_completion);
    }
    int32_t await_resume() const noexcept { return _completion.res; }

private:
    Prep _prep;
    io_completion _completion;
};

inline auto accept(int fd, sockaddr* addr, socklen_t* len, int flags = SOCK_CLOEXEC) {
    return op([=](io_uring_sqe* s) { io_uring_prep_accept(s, fd, addr, len, flags); });
}
inline auto connect(int fd, const sockaddr* addr, socklen_t len) {
    return op([=](io_uring_sqe* s) { io_uring_prep_connect(s, fd, addr, len); });
}
inline auto recv(int fd, void* buf, size_t len, int flags = 0) {
    return op([=](io_uring_sqe* s) { io_uring_prep_recv(s, fd, buf, len, flags); });
}
inline auto recvmsg(int fd, msghdr* msg, unsigned flags = 0) {
    return op([=](io_uring_sqe* s) { io_uring_prep_recvmsg(s, fd, msg, flags); });
}
inline auto send(int fd, const void* buf, size_t len, int flags = MSG_NOSIGNAL) {
    return op([=](io_uring_sqe* s) { io_uring_prep_send(s, fd, buf, len, flags); });
}
inline auto sendmsg(int fd, const msghdr* msg, unsigned flags = MSG_NOSIGNAL) {
    return op([=](io_uring_sqe* s) { io_uring_prep_sendmsg(s, fd, msg, flags); });
}
inline auto openat(int dfd, const char* path, int flags, mode_t mode) {
    return op([=](io_uring_sqe* s) { io_uring_prep_openat(s, dfd, path, flags, mode); });
}
inline auto read(int fd, void* buf, unsigned len, uint64_t offset) {
    return op([=](io_uring_sqe* s) { io_uring_prep_read(s, fd, buf, len, offset); });
}
inline auto readv(int fd, const iovec* iov, unsigned n, uint64_t offset) {
    return op([=](io_uring_sqe* s) { io_uring_prep_readv(s, fd, iov, n, offset); });
}
inline auto write(int fd, const void* buf, unsigned len, uint64_t offset) {
    return op([=](io_uring_sqe* s) { io_uring_prep_write(s, fd, buf, len, offset); });
}
inline auto writev(int fd, const iovec* iov, unsigned n, uint64_t offset) {
    return op([=](io_uring_sqe* s) { io_uring_prep_writev(s, fd, iov, n, offset); });
}
inline auto fdatasync(int fd) {
    return op([=](io_uring_sqe* s) { io_uring_prep_fsync(s, fd, IORING_FSYNC_DATASYNC); });
}
inline auto fsync(int fd) {
    return op([=](io_uring_sqe* s) { io_uring_prep_fsync(s, fd, 0); });
}
inline auto fallocate(int fd, int mode, uint64_t offset, uint64_t len) {
    return op([=](io_uring_sqe* s) { io_uring_prep_fallocate(s, fd, mode, offset, len); });
}
inline auto close(int fd) {
    return op([=](io_uring_sqe* s) { io_uring_prep_close(s, fd); });
}
inline auto statx(int dfd, const char* path, int flags, unsigned mask, struct statx* out) {
    return op([=](io_uring_sqe* s) { io_uring_prep_statx(s, dfd, path, flags, mask, out); });
}
inline auto unlinkat(int dfd, const char* path, int flags) {
    return op([=](io_uring_sqe* s) { io_uring_prep_unlinkat(s, dfd, path, flags); });
}
inline auto renameat(int olddfd, const char* oldpath, int newdfd, const char* newpath) {
    return op([=](io_uring_sqe* s) {
        io_uring_prep_renameat(s, olddfd, oldpath, newdfd, newpath, 0);
    });
}
inline auto mkdirat(int dfd, const char* path, mode_t mode) {
    return op([=](io_uring_sqe* s) { io_uring_prep_mkdirat(s, dfd, path, mode); });
}

// A relative kernel timespec; negative durations are zero.
inline __kernel_timespec to_timespec(std::chrono::nanoseconds d) noexcept {
    auto ns = d.count() < 0 ? 0 : d.count();
    return __kernel_timespec{.tv_sec = ns / 1'000'000'000, .tv_nsec = ns % 1'000'000'000};
}

// Completes with -ETIME after `d`, or -ECANCELED when cancelled at shutdown.
class timeout {
public:
    explicit timeout(std::chrono::nanoseconds d) noexcept : _ts(to_timespec(d)) {}
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h) {
        _completion.waiter = h;
        io_uring_sqe* sqe = reactor::local().get_sqe();
        io_uring_prep_timeout(sqe, &_ts, 0, 0);
        io_uring_sqe_set_data(sqe, &_completion);
    }
    int32_t await_resume() const noexcept { return _completion.res; }

private:
    __kernel_timespec _ts{};
    io_completion _completion;
};

// An operation that the kernel cancels with -ECANCELED when it has not completed within `d`
// (IORING_OP_LINK_TIMEOUT). Used for connects and reads from peers that may never answer.
template <typename Prep>
class op_with_timeout {
public:
    op_with_timeout(Prep prep, std::chrono::nanoseconds d) noexcept
        : _prep(std::move(prep)), _ts(to_timespec(d)) {}
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h) {
        _completion.waiter = h;
        reactor& r = reactor::local();
        r.reserve_sqes(2);  // a link must not be split by an early submit
        io_uring_sqe* sqe = r.get_sqe();
        io_uring_sqe* link = r.get_sqe();
        _prep(sqe);
        io_uring_sqe_set_data(sqe, &_completion);
        sqe->flags |= IOSQE_IO_LINK;
        io_uring_prep_link_timeout(link, &_ts, 0);
        io_uring_sqe_set_data(link, nullptr);  // its completion is ignored
    }
    int32_t await_resume() const noexcept { return _completion.res; }

private:
    Prep _prep;
    __kernel_timespec _ts{};
    io_completion _completion;
};

inline auto recv_for(int fd, void* buf, size_t len, std::chrono::nanoseconds d) {
    return op_with_timeout([=](io_uring_sqe* s) { io_uring_prep_recv(s, fd, buf, len, 0); }, d);
}
// sendmsg with MSG_NOSIGNAL, cancelled when the peer has not taken the bytes within `d`.
inline auto sendmsg_for(int fd, const msghdr* msg, std::chrono::nanoseconds d) {
    return op_with_timeout(
        [=](io_uring_sqe* s) { io_uring_prep_sendmsg(s, fd, msg, MSG_NOSIGNAL); }, d);
}
inline auto connect_for(int fd, const sockaddr* addr, socklen_t len, std::chrono::nanoseconds d) {
    return op_with_timeout([=](io_uring_sqe* s) { io_uring_prep_connect(s, fd, addr, len); }, d);
}

}  // namespace wharf::io
