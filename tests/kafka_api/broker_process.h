#pragma once

// The real wharf binary as a child process, for the protocol-level API tests: a temporary data
// directory, port 0 (the bound port is read from the "wharf is running" log line), every wait
// bounded, and the whole process group killed when the object goes away.
//
// The broker's stdout and stderr go to one pipe that a thread drains for the life of the
// process, so that the broker never blocks on a full pipe and a failing test can print the log.
//
// Lifecycle: start() and stop() may alternate (a restart on the same data directory); the
// destructor kills a broker still running and removes the temporary directory.

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace wharf::kafka::test {

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it by the destructor.
class temp_dir {
public:
    temp_dir();
    ~temp_dir();
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;

    const std::string& path() const noexcept { return _path; }

private:
    std::string _path;
};

class broker_process {
public:
    static constexpr std::chrono::seconds default_start_timeout{60};
    static constexpr std::chrono::seconds default_stop_timeout{60};

    // Flags beyond the fixed ones (data dir, --overprovisioned --smp 2 --memory 512MiB,
    // --kafka-addr 127.0.0.1:<port>).
    explicit broker_process(std::vector<std::string> extra_flags = {});
    ~broker_process();
    broker_process(const broker_process&) = delete;
    broker_process& operator=(const broker_process&) = delete;

    // Starts the binary and waits for its "wharf is running" line. Returns "" on success, else
    // why not (with the broker's output); the process is killed then. A restart after stop()
    // asks for the port the broker had before, so that clients may reconnect to the same one.
    std::string start(std::chrono::seconds timeout = default_start_timeout);
    // SIGTERM, then waits for the exit; returns the exit status, or -1 after a timeout (when the
    // process group is killed) or a death by signal.
    int stop(std::chrono::seconds timeout = default_stop_timeout);
    // SIGKILL to the process group and reap.
    void kill();

    bool running() const noexcept { return _pid > 0; }
    // Whether the process still runs (reaps it when it has exited).
    bool alive();
    uint16_t port() const noexcept { return _port; }
    const std::string& data_dir() const noexcept { return _data_dir; }
    // Everything the broker wrote so far.
    std::string output() const;

private:
    void drain(int fd);
    void join_drain();
    // Waits up to timeout for the child to exit (true, status set) or gives up (false).
    bool wait_exit(std::chrono::milliseconds timeout, int& status);

    temp_dir _dir;
    std::string _data_dir;
    std::vector<std::string> _extra_flags;
    pid_t _pid = -1;
    uint16_t _port = 0;
    std::thread _drain;

    mutable std::mutex _mutex;
    std::condition_variable _changed;
    std::string _output;
    bool _eof = false;
};

}  // namespace wharf::kafka::test
