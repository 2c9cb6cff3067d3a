#pragma once

// The plain durable append that benchmarks measure the log against (the disk's limit): one writer,
// one write at a time, each followed by fdatasync, in two flavours:
//   raw_writer:       blocking pwrite(2) + fdatasync(2), the textbook loop. Blocking: use it on a
//                     plain thread, never on a reactor thread (STYLE.md rule 14).
//   uring_raw_writer: the same through the shard's io_uring (reactor/file.h), write and fdatasync
//                     linked in one submission, the kernel path the shard log itself takes.
// Both deliberately do the filesystem work a log segment does, so that a comparison is of the
// log's own costs only: file space is reserved ahead with fallocate(FALLOC_FL_KEEP_SIZE) in the
// same steps as segment::reserve, a new file is started every segment_bytes, and its name is made
// durable with an fsync of the directory, as shard_log::roll does.

#include <fcntl.h>
#include <fmt/core.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "reactor/base/result.h"
#include "reactor/file.h"
#include "reactor/task.h"

namespace wharf {

class raw_writer {
public:
    enum class sync { each_append, never };

    // Files are created in dir, which must exist.
    raw_writer(std::string dir, sync s, uint64_t file_bytes, uint64_t reserve_step_bytes)
        : _dir(std::move(dir)), _sync(s), _file_bytes(file_bytes), _step(reserve_step_bytes) {}
    ~raw_writer() {
        if (_fd >= 0) ::close(_fd);
    }
    raw_writer(const raw_writer&) = delete;
    raw_writer& operator=(const raw_writer&) = delete;

    // Appends the chunk, then fdatasync unless sync::never. On failure returns false, and error()
    // names the call and errno.
    bool append(const std::vector<std::byte>& chunk) {
        if ((_fd < 0 || _size >= _file_bytes) && !next_file()) return false;
        if (_size + chunk.size() > _reserved_to) {
            uint64_t target = std::max(_size + chunk.size(), _reserved_to + _step);
            if (::fallocate(_fd, FALLOC_FL_KEEP_SIZE, static_cast<off_t>(_reserved_to),
                            static_cast<off_t>(target - _reserved_to)) != 0) {
                return fail("fallocate");
            }
            _reserved_to = target;
        }
        size_t done = 0;
        while (done < chunk.size()) {
            ssize_t n = ::pwrite(_fd, chunk.data() + done, chunk.size() - done,
                                 static_cast<off_t>(_size + done));
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return fail("pwrite");
            done += static_cast<size_t>(n);
        }
        if (_sync == sync::each_append && ::fdatasync(_fd) != 0) return fail("fdatasync");
        _size += chunk.size();
        return true;
    }

    uint64_t files() const noexcept { return _files; }
    const std::string& error() const noexcept { return _error; }

private:
    bool next_file() {
        if (_fd >= 0) ::close(_fd);
        std::string path = fmt::format("{}/{:020}.raw", _dir, _files++);
        _fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (_fd < 0) return fail("open");
        _size = 0;
        _reserved_to = 0;
        int dir_fd = ::open(_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir_fd < 0) return fail("open of the directory");
        int rc = ::fsync(dir_fd);
        ::close(dir_fd);
        return rc == 0 || fail("fsync of the directory");
    }
    bool fail(const char* what) {
        _error = fmt::format("{}: {}", what, std::strerror(errno));
        return false;
    }

    std::string _dir;
    sync _sync;
    uint64_t _file_bytes;
    uint64_t _step;
    int _fd = -1;
    uint64_t _size = 0;
    uint64_t _reserved_to = 0;
    uint64_t _files = 0;
    std::string _error;
};

// Lives on the shard that created it; every call is made there.
class uring_raw_writer {
public:
    uring_raw_writer(std::string dir, bool sync_each, uint64_t file_bytes,
                     uint64_t reserve_step_bytes)
        : _dir(std::move(dir)),
          _sync_each(sync_each),
          _file_bytes(file_bytes),
          _step(reserve_step_bytes) {}

    // Appends the chunk, then fdatasync (linked) when sync_each.
    task<status> append(std::span<const std::byte> chunk) {
        if (!_file.is_open() || _size >= _file_bytes) {
            if (auto s = co_await next_file(); !s) co_return s;
        }
        if (_size + chunk.size() > _reserved_to) {
            uint64_t target = std::max(_size + chunk.size(), _reserved_to + _step);
            auto s =
                co_await _file.allocate(_reserved_to, target - _reserved_to, FALLOC_FL_KEEP_SIZE);
            if (!s) co_return s;
            _reserved_to = target;
        }
        iovec iov{const_cast<std::byte*>(chunk.data()), chunk.size()};
        std::span<const iovec> v(&iov, 1);
        result<size_t> w = 0;
        if (_sync_each) {
            w = co_await _file.write_and_sync(v, _size);
        } else {
            w = co_await _file.write_at(v, _size);
        }
        if (!w) co_return w.error();
        _size += chunk.size();
        co_return status{};
    }
    task<status> close() {
        if (!_file.is_open()) co_return status{};
        co_return co_await _file.close();
    }
    uint64_t files() const noexcept { return _files; }

private:
    task<status> next_file() {
        if (auto s = co_await close(); !s) co_return s;
        auto f = co_await file::open(fmt::format("{}/{:020}.raw", _dir, _files++),
                                     O_RDWR | O_CREAT | O_TRUNC);
        if (!f) co_return f.error();
        _file = std::move(*f);
        _size = 0;
        _reserved_to = 0;
        co_return co_await sync_directory(_dir);
    }

    std::string _dir;
    bool _sync_each;
    uint64_t _file_bytes;
    uint64_t _step;
    file _file;
    uint64_t _size = 0;
    uint64_t _reserved_to = 0;
    uint64_t _files = 0;
};

}  // namespace wharf
