#include "core/tune/sys_root.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <system_error>

#include "core/config/read_file.h"
#include "reactor/placement.h"

namespace wharf::tune {

namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
}

}  // namespace

sys_root::sys_root(std::filesystem::path root) : _root(std::move(root)) {}

bool sys_root::is_host() const {
    std::error_code ec;
    auto canonical = std::filesystem::weakly_canonical(_root, ec);
    return !ec && canonical == "/";
}

std::filesystem::path sys_root::path_of(std::string_view host_path) const {
    while (!host_path.empty() && host_path.front() == '/') host_path.remove_prefix(1);
    return _root / host_path;
}

std::optional<std::string> sys_root::read(std::string_view host_path) const {
    auto text = read_whole_file(path_of(host_path));
    if (!text) return std::nullopt;
    return std::string(trim(*text));
}

bool sys_root::exists(std::string_view host_path) const {
    std::error_code ec;
    return std::filesystem::exists(path_of(host_path), ec);
}

std::vector<std::string> sys_root::list(std::string_view host_path) const {
    std::vector<std::string> names;
    std::error_code ec;
    for (std::filesystem::directory_iterator it(path_of(host_path), ec), end; !ec && it != end;
         it.increment(ec)) {
        names.push_back(it->path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
}

std::string sys_root::write_existing(std::string_view host_path, std::string_view value) const {
    auto path = path_of(host_path);
    // No O_CREAT: a kernel attribute that does not exist must not appear as a regular file.
    // O_TRUNC matters only for a fake tree; the kernel ignores it on /proc/sys and /sys.
    int fd = ::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
    if (fd < 0) return std::strerror(errno);
    std::string line(value);
    line += '\n';
    // The kernel rejects a bad value (an unknown scheduler, an IRQ it manages) on write or close.
    ssize_t n = ::write(fd, line.data(), line.size());
    int write_errno = errno;
    int rc = ::close(fd);
    if (n < 0) return std::strerror(write_errno);
    if (static_cast<size_t>(n) != line.size()) return "short write";
    if (rc != 0) return std::strerror(errno);
    return {};
}

std::string sys_root::write_file(std::string_view host_path, std::string_view content) const {
    auto path = path_of(host_path);
    std::error_code ec;
    std::filesystem::create_directories(path.parent_path(), ec);
    if (ec) return ec.message();
    // Write a temporary file and rename it, so that a reader (udev, systemd-sysctl) never sees a
    // half-written file.
    auto tmp = path;
    tmp += ".tmp";
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        if (!out) return std::strerror(errno);
        out << content;
        out.flush();
        if (!out) return "write failed";
    }
    std::filesystem::rename(tmp, path, ec);
    if (ec) return ec.message();
    return {};
}

std::optional<std::vector<unsigned>> parse_cpu_list(std::string_view text) {
    // The kernel writes an empty list for no CPUs, which parse_cpuset refuses.
    text = trim(text);
    if (text.empty()) return std::vector<unsigned>{};
    auto cpus = parse_cpuset(std::string(text));
    if (!cpus) return std::nullopt;
    return std::move(cpus).value();
}

std::string format_cpu_list(const std::vector<unsigned>& cpus) {
    std::string out;
    for (size_t i = 0; i < cpus.size();) {
        size_t j = i;
        while (j + 1 < cpus.size() && cpus[j + 1] == cpus[j] + 1) ++j;
        if (!out.empty()) out += ',';
        out += std::to_string(cpus[i]);
        if (j > i) {
            out += '-';
            out += std::to_string(cpus[j]);
        }
        i = j + 1;
    }
    return out;
}

std::string selected_choice(std::string_view text) {
    size_t open = text.find('[');
    size_t close = text.find(']', open == std::string_view::npos ? 0 : open);
    if (open == std::string_view::npos || close == std::string_view::npos) {
        return std::string(trim(text));
    }
    return std::string(text.substr(open + 1, close - open - 1));
}

std::vector<std::string> all_choices(std::string_view text) {
    std::vector<std::string> out;
    std::istringstream words{std::string(text)};
    for (std::string w; words >> w;) {
        if (w.size() >= 2 && w.front() == '[' && w.back() == ']') w = w.substr(1, w.size() - 2);
        out.push_back(w);
    }
    return out;
}

}  // namespace wharf::tune
