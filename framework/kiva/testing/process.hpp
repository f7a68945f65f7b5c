#pragma once
/// @file
/// Child processes for the test fixtures (initdb, postgres, psql), bounded in time: a command
/// that does not end in time is killed, never waited for forever.

#include <sys/types.h>
#include <chrono>
#include <string>
#include <vector>

namespace kiva::testing {

/// How a command is started: its output goes to `log` (a file, appended), and when this
/// process is root and `as_postgres` is set it runs as the postgres account (PostgreSQL
/// refuses root), from "/" so that it needs no access to the current directory.
struct Command {
    std::vector<std::string> argv;
    std::string log = "/dev/null";
    bool as_postgres = false;
};

/// Starts the command; returns its pid. Throws std::runtime_error when it cannot.
pid_t spawn(const Command& command);

/// Waits for pid at most `timeout`; its exit status, or -1 after killing it (SIGKILL) when
/// it was still running.
int wait_for(pid_t pid, std::chrono::milliseconds timeout);

/// Whether pid is still running (reaps it when it has ended).
bool running(pid_t pid);

/// spawn + wait_for; throws std::runtime_error naming the command and its log's last lines
/// when it fails or times out.
void run(const Command& command, std::chrono::milliseconds timeout);

/// The last lines of a file (for error messages).
std::string tail(const std::string& path, int lines = 20);

}  // namespace kiva::testing
