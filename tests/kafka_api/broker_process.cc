#include "tests/kafka_api/broker_process.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <stdexcept>
#include <system_error>

#ifndef WHARF_BINARY
#error "WHARF_BINARY must name the wharf binary (tests/CMakeLists.txt)"
#endif

namespace wharf::kafka::test {

namespace {

constexpr std::string_view running_marker = "wharf is running: Kafka API on ";

// The port of the "wharf is running: Kafka API on HOST:PORT" line in `out`, or 0.
uint16_t parse_port(const std::string& out) {
    size_t at = out.find(running_marker);
    if (at == std::string::npos) return 0;
    size_t eol = out.find('\n', at);
    if (eol == std::string::npos) return 0;
    std::string addr = out.substr(at + running_marker.size(), eol - at - running_marker.size());
    size_t colon = addr.rfind(':');
    if (colon == std::string::npos) return 0;
    int port = std::atoi(addr.c_str() + colon + 1);
    return port > 0 && port < 65536 ? static_cast<uint16_t>(port) : 0;
}

}  // namespace

temp_dir::temp_dir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl =
        std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/wharf-kafka-api-XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) {
        throw std::system_error(errno, std::generic_category(), "mkdtemp " + tmpl);
    }
    _path = tmpl;
}

temp_dir::~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(_path, ec);
}

broker_process::broker_process(std::vector<std::string> extra_flags)
    : _data_dir(_dir.path() + "/data"), _extra_flags(std::move(extra_flags)) {}

broker_process::~broker_process() {
    kill();
}

std::string broker_process::output() const {
    std::lock_guard lock(_mutex);
    return _output;
}

void broker_process::drain(int fd) {
    char buf[4096];
    while (true) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        std::lock_guard lock(_mutex);
        if (n <= 0) {
            _eof = true;
            _changed.notify_all();
            break;
        }
        _output.append(buf, static_cast<size_t>(n));
        _changed.notify_all();
    }
    ::close(fd);
}

void broker_process::join_drain() {
    if (_drain.joinable()) _drain.join();
}

std::string broker_process::start(std::chrono::seconds timeout) {
    if (running()) return "already running";
    join_drain();
    std::vector<std::string> args = {WHARF_BINARY,   "--data-dir",
                                     _data_dir,      "--overprovisioned",
                                     "--smp",        "2",
                                     "--memory",     "512MiB",
                                     "--kafka-addr", "127.0.0.1:" + std::to_string(_port),
                                     "--admin-addr", "127.0.0.1:0"};
    args.insert(args.end(), _extra_flags.begin(), _extra_flags.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);

    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return "pipe2 failed";
    const pid_t parent = ::getpid();
    pid_t pid = ::fork();
    if (pid < 0) {
        ::close(fds[0]);
        ::close(fds[1]);
        return "fork failed";
    }
    if (pid == 0) {
        // Only async-signal-safe calls between fork and exec. A process group of its own, so
        // that kill() reaches everything it starts; and dead with the test if the test dies.
        ::setpgid(0, 0);
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent) ::_exit(127);
        ::dup2(fds[1], STDOUT_FILENO);
        ::dup2(fds[1], STDERR_FILENO);
        int null_fd = ::open("/dev/null", O_RDONLY);
        if (null_fd >= 0) ::dup2(null_fd, STDIN_FILENO);
        ::execv(argv[0], argv.data());
        ::_exit(127);
    }
    ::close(fds[1]);
    ::setpgid(pid, pid);  // also from here, so that kill() works whoever runs first
    _pid = pid;
    {
        std::lock_guard lock(_mutex);
        _output.clear();
        _eof = false;
    }
    _drain = std::thread([this, fd = fds[0]] { drain(fd); });

    std::unique_lock lock(_mutex);
    bool up = _changed.wait_for(lock, timeout, [&] { return _eof || parse_port(_output) != 0; });
    uint16_t port = parse_port(_output);
    if (up && port != 0) {
        _port = port;
        return "";
    }
    std::string why = std::string(_eof ? "the broker exited" : "timed out") +
                      " before it was running; output:\n" + _output;
    lock.unlock();
    kill();
    return why;
}

bool broker_process::alive() {
    if (!running()) return false;
    int status = 0;
    if (::waitpid(_pid, &status, WNOHANG) == _pid) {
        _pid = -1;
        join_drain();
    }
    return running();
}

bool broker_process::wait_exit(std::chrono::milliseconds timeout, int& status) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
        pid_t r = ::waitpid(_pid, &status, WNOHANG);
        if (r == _pid) return true;
        if (r < 0 && errno != EINTR) return true;  // not our child any more: nothing to wait for
        if (std::chrono::steady_clock::now() >= deadline) return false;
        ::usleep(10000);
    }
}

int broker_process::stop(std::chrono::seconds timeout) {
    if (!running()) return -1;
    ::kill(_pid, SIGTERM);
    int status = 0;
    if (!wait_exit(timeout, status)) {
        kill();
        return -1;
    }
    _pid = -1;
    join_drain();
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void broker_process::kill() {
    if (running()) {
        ::kill(-_pid, SIGKILL);
        int status = 0;
        wait_exit(std::chrono::seconds(30), status);
        _pid = -1;
    }
    join_drain();
}

}  // namespace wharf::kafka::test
