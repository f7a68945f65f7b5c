#include "kiva/testing/process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <deque>
#include <fstream>
#include <stdexcept>
#include <thread>

namespace kiva::testing {

namespace {

std::string describe(const Command& command) {
    std::string text;
    for (const auto& a : command.argv) text += (text.empty() ? "" : " ") + a;
    return text;
}

}  // namespace

pid_t spawn(const Command& command) {
    if (command.argv.empty()) throw std::runtime_error("spawn: empty command");
    std::vector<std::string> argv;
    if (command.as_postgres && geteuid() == 0)
        argv = {"setpriv",       "--reuid=postgres", "--regid=postgres",
                "--init-groups", "--pdeathsig=INT",  "--"};
    argv.insert(argv.end(), command.argv.begin(), command.argv.end());
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    // Everything the child needs is ready before fork: it only opens, dups and execs.
    pid_t pid = fork();
    if (pid < 0) throw std::runtime_error("cannot fork for " + describe(command));
    if (pid == 0) {
        int out = open(command.log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (out < 0 || in < 0 || chdir("/") != 0) _exit(127);
        dup2(in, 0);
        dup2(out, 1);
        dup2(out, 2);
        // When the test process dies without its destructors (a crash), so does a server.
        prctl(PR_SET_PDEATHSIG, SIGINT);
        execvp(args[0], args.data());
        _exit(127);
    }
    return pid;
}

int wait_for(pid_t pid, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        int status = 0;
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        if (r < 0) return -1;
        if (std::chrono::steady_clock::now() >= deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return -1;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

bool running(pid_t pid) {
    int status = 0;
    return waitpid(pid, &status, WNOHANG) == 0;
}

void run(const Command& command, std::chrono::milliseconds timeout) {
    int status = wait_for(spawn(command), timeout);
    if (status == 0) return;
    throw std::runtime_error(describe(command) +
                             (status < 0
                                  ? ": timed out after " + std::to_string(timeout.count()) + " ms"
                                  : ": exit status " + std::to_string(status)) +
                             "\n" + tail(command.log));
}

std::string tail(const std::string& path, int lines) {
    std::ifstream in(path);
    std::deque<std::string> last;
    for (std::string line; std::getline(in, line);) {
        last.push_back(line);
        if (static_cast<int>(last.size()) > lines) last.pop_front();
    }
    std::string text;
    for (const auto& l : last) text += l + "\n";
    return text;
}

}  // namespace kiva::testing
