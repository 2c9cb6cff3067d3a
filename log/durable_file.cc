#include "log/durable_file.h"

#include <fcntl.h>
#include <sys/uio.h>

#include "log/errc.h"
#include "reactor/file.h"

namespace wharf {

std::error_code as_log_error(std::error_code ec) noexcept {
    if (!ec || ec.category() == log_category()) return ec;
    if (ec == std::errc::no_space_on_device) return log_errc::disk_full;
    return log_errc::io_error;
}

task<status> write_file_durably(std::string dir, std::string name,
                                std::span<const std::byte> bytes) {
    std::string path = dir + "/" + name;
    std::string tmp = path + std::string(tmp_suffix);
    auto f = co_await file::open(tmp, O_WRONLY | O_CREAT | O_TRUNC);
    if (!f) co_return f.error();
    iovec iov{const_cast<std::byte*>(bytes.data()), bytes.size()};
    auto w = co_await f->write_and_sync(std::span<const iovec>(&iov, 1), 0);
    auto c = co_await f->close();
    if (!w || !c) {
        (void)co_await remove_file(tmp);
        co_return !w ? w.error() : c.error();
    }
    if (auto r = co_await rename_file(tmp, path); !r) co_return r;
    co_return co_await sync_directory(dir);
}

task<result<std::vector<std::byte>>> read_whole_file(std::string path) {
    auto f = co_await file::open(path, O_RDONLY);
    if (!f) co_return f.error();
    auto size = co_await f->size();
    if (!size) co_return size.error();
    std::vector<std::byte> bytes(*size);
    auto got = co_await f->read_at(bytes.data(), bytes.size(), 0);
    (void)co_await f->close();
    if (!got) co_return got.error();
    if (*got != bytes.size()) co_return log_errc::io_error;
    co_return bytes;
}

}  // namespace wharf
