#include "reactor/signals.h"

#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>

#include "reactor/io.h"

namespace wharf {

namespace {
sigset_t make_set(std::initializer_list<int> signals) {
    sigset_t set;
    sigemptyset(&set);
    for (int s : signals) sigaddset(&set, s);
    return set;
}
}  // namespace

void block_signals(std::initializer_list<int> signals) {
    sigset_t set = make_set(signals);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

signal_reader::~signal_reader() {
    if (_fd >= 0) ::close(_fd);
}

status signal_reader::open(std::initializer_list<int> signals) {
    sigset_t set = make_set(signals);
    _fd = ::signalfd(-1, &set, SFD_CLOEXEC);
    if (_fd < 0) return errno_code(errno);
    return {};
}

task<int> signal_reader::next() {
    signalfd_siginfo info{};
    int32_t n = co_await io::read(_fd, &info, sizeof(info), 0);
    if (n != static_cast<int32_t>(sizeof(info))) co_return 0;
    co_return static_cast<int>(info.ssi_signo);
}

}  // namespace wharf
