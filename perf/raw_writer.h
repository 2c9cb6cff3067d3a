#pragma once

// raw_writer: the textbook durable append, for benchmarks to measure the log against (the disk's
// limit): blocking pwrite(2), then fdatasync(2), one file at a time. It deliberately does the
// filesystem work a log segment does, so that the comparison is of the log's own costs only:
// file space is reserved ahead with fallocate(FALLOC_FL_KEEP_SIZE) in the same steps as
// segment::reserve, a new file is started every segment_bytes, and its name is made durable with
// an fsync of the directory, as shard_log::roll does.
//
// Blocking calls: use it on a plain thread, never on a reactor thread (STYLE.md rule 14).

#include <fcntl.h>
#include <fmt/core.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

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

}  // namespace wharf
