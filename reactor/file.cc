#include "reactor/file.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "reactor/io.h"

namespace wharf {

namespace {

// io_uring takes at most this many bytes per read or write (a 32-bit length, and the kernel caps
// one call at about 2 GiB).
constexpr size_t max_io_bytes = 1u << 30;

// Advances an iovec array past `done` bytes; returns the index of the first unfinished vector
// and adjusts it in place.
size_t advance(std::vector<iovec>& iov, size_t first, size_t done) {
    while (done > 0 && first < iov.size()) {
        if (done >= iov[first].iov_len) {
            done -= iov[first].iov_len;
            ++first;
        } else {
            iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + done;
            iov[first].iov_len -= done;
            done = 0;
        }
    }
    return first;
}

size_t total_bytes(std::span<const iovec> iov) {
    size_t n = 0;
    for (const auto& v : iov) n += v.iov_len;
    return n;
}

enum class transfer { read, write };

// Reads or writes every byte of iov at offset, IOV_MAX vectors per call, continuing short
// transfers. A read stops early at end of file; a write that makes no progress is a full disk.
task<result<size_t>> transfer_all(int fd, std::span<const iovec> iov_in, uint64_t offset,
                                  transfer dir) {
    std::vector<iovec> iov(iov_in.begin(), iov_in.end());
    size_t done = 0;
    size_t first = 0;
    while (first < iov.size()) {
        unsigned n = static_cast<unsigned>(std::min<size_t>(iov.size() - first, IOV_MAX));
        int32_t res = dir == transfer::write
                          ? co_await io::writev(fd, iov.data() + first, n, offset + done)
                          : co_await io::readv(fd, iov.data() + first, n, offset + done);
        if (res < 0) co_return errno_code(res);
        if (res == 0) {
            if (dir == transfer::read) break;  // end of file
            if (total_bytes(std::span(iov).subspan(first)) > 0) co_return errno_code(ENOSPC);
        }
        done += static_cast<size_t>(res);
        first = advance(iov, first, static_cast<size_t>(res));
        while (first < iov.size() && iov[first].iov_len == 0) ++first;
    }
    co_return done;
}

}  // namespace

file::file(file&& o) noexcept : _fd(std::exchange(o._fd, -1)) {}

file& file::operator=(file&& o) noexcept {
    if (this != &o) {
        if (_fd >= 0) ::close(_fd);
        _fd = std::exchange(o._fd, -1);
    }
    return *this;
}

file::~file() {
    if (_fd >= 0) ::close(_fd);
}

task<result<file>> file::open(std::string path, int flags, mode_t mode) {
    int32_t fd = co_await io::openat(AT_FDCWD, path.c_str(), flags | O_CLOEXEC, mode);
    if (fd < 0) co_return errno_code(fd);
    co_return file(fd);
}

task<result<size_t>> file::write_at(std::span<const iovec> iov, uint64_t offset) {
    co_return co_await transfer_all(_fd, iov, offset, transfer::write);
}

task<result<size_t>> file::write_at(const void* data, size_t len, uint64_t offset) {
    iovec v{const_cast<void*>(data), len};
    co_return co_await write_at(std::span<const iovec>(&v, 1), offset);
}

namespace {

// A linked chain of writevs (each at most IOV_MAX vectors) followed by one fdatasync, submitted
// together. IOSQE_IO_LINK starts each operation only after the previous one completed, and fails
// the rest with -ECANCELED when one fails or writes short.
struct linked_writes_and_sync {
    int fd;
    std::span<const iovec> iov;
    uint64_t offset;
    std::vector<io_completion> writes;
    std::vector<size_t> expected;
    io_completion sync_done;

    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h) {
        reactor& r = reactor::local();
        size_t pieces = (iov.size() + IOV_MAX - 1) / IOV_MAX;
        writes.resize(pieces);
        r.reserve_sqes(static_cast<unsigned>(pieces + 1));
        uint64_t at = offset;
        for (size_t i = 0; i < pieces; ++i) {
            auto part = iov.subspan(i * IOV_MAX, std::min<size_t>(IOV_MAX, iov.size() - i * IOV_MAX));
            expected.push_back(total_bytes(part));
            io_uring_sqe* w = r.get_sqe();
            io_uring_prep_writev(w, fd, part.data(), static_cast<unsigned>(part.size()), at);
            w->flags |= IOSQE_IO_LINK;
            io_uring_sqe_set_data(w, &writes[i]);
            // Only the sync's completion resumes the coroutine: it comes after the writes'.
            writes[i].waiter = std::noop_coroutine();
            at += expected.back();
        }
        io_uring_sqe* s = r.get_sqe();
        io_uring_prep_fsync(s, fd, IORING_FSYNC_DATASYNC);
        io_uring_sqe_set_data(s, &sync_done);
        sync_done.waiter = h;
    }
    void await_resume() const noexcept {}
};

// Links longer than this are not worth it: such a write is huge, and one more round trip is
// nothing next to it.
constexpr size_t max_linked_writes = 16;

}  // namespace

task<result<size_t>> file::write_and_sync(std::span<const iovec> iov, uint64_t offset) {
    const size_t total = total_bytes(iov);
    if (iov.empty() || iov.size() > IOV_MAX * max_linked_writes || total > max_io_bytes) {
        auto w = co_await write_at(iov, offset);
        if (!w) co_return w.error();
        auto s = co_await datasync();
        if (!s) co_return s.error();
        co_return total;
    }
    linked_writes_and_sync op{_fd, iov, offset, {}, {}, {}};
    co_await op;
    // The kernel completes a linked chain in order, so once the sync has completed every write's
    // completion has been reaped too.
    size_t done = 0;
    for (size_t i = 0; i < op.writes.size(); ++i) {
        int32_t res = op.writes[i].res;
        if (res < 0 && res != -ECANCELED) co_return errno_code(res);
        if (res < 0 || static_cast<size_t>(res) < op.expected[i]) {
            // A short write (a signal, a disk filling up mid-way) broke the chain: finish the
            // rest one write at a time, then sync.
            done += res < 0 ? 0 : static_cast<size_t>(res);
            std::vector<iovec> rest(iov.begin(), iov.end());
            size_t first = advance(rest, 0, done);
            auto w = co_await write_at(std::span(rest).subspan(first), offset + done);
            if (!w) co_return w.error();
            auto s = co_await datasync();
            if (!s) co_return s.error();
            co_return total;
        }
        done += static_cast<size_t>(res);
    }
    if (op.sync_done.res < 0) co_return errno_code(op.sync_done.res);
    co_return total;
}

task<result<size_t>> file::read_at(void* buf, size_t len, uint64_t offset) {
    size_t done = 0;
    while (done < len) {
        unsigned n = static_cast<unsigned>(std::min(len - done, max_io_bytes));
        int32_t res = co_await io::read(_fd, static_cast<char*>(buf) + done, n, offset + done);
        if (res < 0) co_return errno_code(res);
        if (res == 0) break;  // end of file
        done += static_cast<size_t>(res);
    }
    co_return done;
}

task<result<size_t>> file::read_at(std::span<const iovec> iov, uint64_t offset) {
    co_return co_await transfer_all(_fd, iov, offset, transfer::read);
}

task<status> file::datasync() {
    int32_t res = co_await io::fdatasync(_fd);
    if (res < 0) co_return errno_code(res);
    co_return status{};
}

task<status> file::allocate(uint64_t offset, uint64_t len, int mode) {
    int32_t res = co_await io::fallocate(_fd, mode, offset, len);
    if (res < 0) co_return errno_code(res);
    co_return status{};
}

task<status> file::truncate(uint64_t len) {
    // ftruncate has no io_uring operation in the kernels we support; it is metadata-only and
    // used at recovery and segment roll, not per request.
    if (::ftruncate(_fd, static_cast<off_t>(len)) != 0) co_return errno_code(errno);
    co_return status{};
}

task<result<uint64_t>> file::size() {
    struct statx stx{};
    int32_t res = co_await io::statx(_fd, "", AT_EMPTY_PATH, STATX_SIZE, &stx);
    if (res < 0) co_return errno_code(res);
    co_return static_cast<uint64_t>(stx.stx_size);
}

task<status> file::close() {
    if (_fd < 0) co_return status{};
    int fd = std::exchange(_fd, -1);
    int32_t res = co_await io::close(fd);
    if (res < 0) co_return errno_code(res);
    co_return status{};
}

task<status> make_directories(std::string path) {
    // Create each missing prefix in order, tolerating ones that exist.
    for (size_t pos = 1; pos <= path.size(); ++pos) {
        if (pos != path.size() && path[pos] != '/') continue;
        std::string prefix = path.substr(0, pos);
        int32_t res = co_await io::mkdirat(AT_FDCWD, prefix.c_str(), 0755);
        if (res < 0 && res != -EEXIST) co_return errno_code(res);
    }
    co_return status{};
}

task<status> remove_file(std::string path) {
    int32_t res = co_await io::unlinkat(AT_FDCWD, path.c_str(), 0);
    if (res < 0) co_return errno_code(res);
    co_return status{};
}

task<status> rename_file(std::string from, std::string to) {
    int32_t res = co_await io::renameat(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str());
    if (res < 0) co_return errno_code(res);
    co_return status{};
}

task<status> sync_directory(std::string path) {
    auto dir = co_await file::open(path, O_RDONLY | O_DIRECTORY);
    if (!dir) co_return dir.error();
    int32_t res = co_await io::fsync(dir->fd());
    auto closed = co_await dir->close();
    if (res < 0) co_return errno_code(res);
    co_return closed;
}

result<std::vector<std::string>> list_directory(const std::string& path) {
    DIR* d = ::opendir(path.c_str());
    if (d == nullptr) return errno_code(errno);
    std::vector<std::string> names;
    while (dirent* e = ::readdir(d)) {
        std::string_view n = e->d_name;
        if (n == "." || n == "..") continue;
        names.emplace_back(n);
    }
    ::closedir(d);
    std::sort(names.begin(), names.end());
    return names;
}

bool file_exists(const std::string& path) {
    struct stat st{};
    return ::stat(path.c_str(), &st) == 0;
}

}  // namespace wharf
