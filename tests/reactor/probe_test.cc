// The kernel probe: this kernel has everything, and a kernel without io_uring (simulated with a
// seccomp filter in a child process) is refused with a message naming the missing feature.

#include <gtest/gtest.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "reactor/probe.h"
#include "reactor/smp.h"

namespace wharf {
namespace {

TEST(probe, this_kernel_has_every_feature) {
    auto missing = probe_kernel();
    std::string all;
    for (const auto& m : missing) all += m + "; ";
    EXPECT_TRUE(missing.empty()) << all;
}

// Makes io_uring_setup fail with ENOSYS in the calling process, as on a kernel without io_uring.
bool deny_io_uring_setup() {
    sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    sock_fprog prog{static_cast<unsigned short>(sizeof(filter) / sizeof(filter[0])), filter};
    return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
           prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0;
}

TEST(probe, kernel_without_io_uring_is_refused_by_name) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        if (!deny_io_uring_setup()) _exit(3);
        auto missing = probe_kernel();
        std::string msg = missing.empty() ? "" : missing.front();
        [[maybe_unused]] auto n = write(fds[1], msg.data(), msg.size());
        // smp::run must refuse to start instead of failing later.
        auto rc = smp::run(smp_config{.shards = 1}, []() -> task<int> { co_return 0; });
        _exit(rc ? 4 : 0);
    }
    close(fds[1]);
    std::string msg;
    char buf[512];
    ssize_t n;
    while ((n = read(fds[0], buf, sizeof(buf))) > 0) msg.append(buf, static_cast<size_t>(n));
    close(fds[0]);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0) << "3: seccomp unavailable, 4: smp::run started anyway";
    EXPECT_NE(msg.find("io_uring"), std::string::npos) << msg;
    EXPECT_NE(msg.find("io_uring_setup failed"), std::string::npos) << msg;
}

}  // namespace
}  // namespace wharf
