#pragma once

// Files through the shard's io_uring. log/ and raft/ reach the disk only through this header
// (DESIGN.md section 2). Every call must be made on a reactor thread; a `file` belongs to the shard
// that opened it.

#include <sys/types.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "reactor/base/result.h"
#include "reactor/task.h"

namespace wharf {

class file {
public:
    file() noexcept = default;
    explicit file(int fd) noexcept : _fd(fd) {}
    file(file&& o) noexcept;
    file& operator=(file&& o) noexcept;
    file(const file&) = delete;
    file& operator=(const file&) = delete;
    // A file still open at destruction is closed with a plain close(2); prefer close().
    ~file();

    // Opens (or creates, with O_CREAT in flags) through io_uring's openat. O_CLOEXEC is added.
    static task<result<file>> open(std::string path, int flags, mode_t mode = 0644);

    bool is_open() const noexcept { return _fd >= 0; }
    int fd() const noexcept { return _fd; }

    // Writes every byte of iov at offset (short writes are continued; more than IOV_MAX vectors
    // are split). Returns the number of bytes written, which is the sum of the vector lengths.
    task<result<size_t>> write_at(std::span<const iovec> iov, uint64_t offset);
    task<result<size_t>> write_at(const void* data, size_t len, uint64_t offset);
    // write_at followed by fdatasync, linked in io_uring and submitted together (group commit):
    // one writev per IOV_MAX vectors, chained ahead of the sync. Very long vectors (more than 16
    // writevs) or writes over 1 GiB take separate submissions.
    task<result<size_t>> write_and_sync(std::span<const iovec> iov, uint64_t offset);
    // Reads up to len bytes at offset; fewer only at end of file.
    task<result<size_t>> read_at(void* buf, size_t len, uint64_t offset);
    task<result<size_t>> read_at(std::span<const iovec> iov, uint64_t offset);
    task<status> datasync();
    // fallocate(mode, offset, len); mode 0 reserves space and extends the size.
    task<status> allocate(uint64_t offset, uint64_t len, int mode = 0);
    task<status> truncate(uint64_t len);
    task<result<uint64_t>> size();
    task<status> close();

private:
    int _fd = -1;
};

// Directory helpers. `make_directories` creates missing parents, like mkdir -p.
task<status> make_directories(std::string path);
task<status> remove_file(std::string path);
task<status> rename_file(std::string from, std::string to);
// fsync of a directory, to make created, renamed or removed entries durable.
task<status> sync_directory(std::string path);
// Lists the names in a directory (not . and ..), sorted. Uses blocking readdir: call it only at
// start-up or from code that already accepts a short stall.
result<std::vector<std::string>> list_directory(const std::string& path);
bool file_exists(const std::string& path);

}  // namespace wharf
