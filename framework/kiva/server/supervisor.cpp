// The supervisor: the process side of the worker. Signals (stop on SIGTERM/SIGINT, SIGHUP
// ignored), a graceful stop of one process's threads (finish the requests in flight, wake the
// idle ones, exit at the stop timeout), and with processes > 1 the prefork: fork the workers,
// respawn any that dies, stop them all.
#include "kiva/server/server.hpp"

#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <thread>

#include "kiva/observe/metrics.hpp"
#include "kiva/server/listener.hpp"

namespace kiva {

namespace {

/// SIGUSR1 only interrupts a thread blocked in accept or read (no SA_RESTART).
void on_wakeup(int) {}

}  // namespace

void Server::take_signals() {
    // Stop signals are taken with sigwait by the main thread; every other thread blocks them.
    // SIGUSR1 interrupts a worker thread's accept; SIGCHLD tells a supervisor a child died.
    sigset_t signals;
    sigemptyset(&signals);
    for (int s : {SIGTERM, SIGINT, SIGHUP, SIGCHLD}) sigaddset(&signals, s);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    struct sigaction wake {};
    wake.sa_handler = on_wakeup;
    sigemptyset(&wake.sa_mask);
    wake.sa_flags = 0;  // no SA_RESTART: interrupted calls return EINTR
    sigaction(SIGUSR1, &wake, nullptr);
    sigaction(SIGCHLD, &wake, nullptr);  // not ignored, so that it stays pending for sigwait
    signal(SIGPIPE, SIG_IGN);            // a client gone away is an error code, not a death
}

int Server::wait_for_stop_signal() const {
    sigset_t stop;
    sigemptyset(&stop);
    for (int s : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&stop, s);
    int signal_number = 0;
    while (true) {
        if (sigwait(&stop, &signal_number) != 0) continue;
        if (signal_number != SIGHUP) return signal_number;
        log_.info("SIGHUP ignored (restart the worker to reload its configuration)");
    }
}

int Server::serve_threads() {
    log_.start_background();  // this process's log lines leave the request path
    // Its thread is this process's: started here, after any fork (kiva/security/revocation_cache).
    app_.security().listen_for_revocations(config_.database, config_.app_name, log_);
    if (metrics_) {
        auto claim = metrics_->start_process();
        if (claim.shared)
            log_.warning("every metrics slot is taken by a running process: sharing the last one");
    }
    std::vector<std::unique_ptr<Worker>> workers;
    for (int i = 0; i < config_.threads; ++i) {
        auto w = std::make_unique<Worker>();
        w->index = i;
        Worker& ref = *w;
        w->thread = std::thread([this, &ref] { serve_forever(ref); });
        workers.push_back(std::move(w));
    }
    log_.info(config_.app_name + " serving with " + std::to_string(config_.threads) + " threads");

    int signal_number = wait_for_stop_signal();
    log_.info(std::string("stopping on ") + strsignal(signal_number) +
              ": finishing requests in flight");
    stopping_ = true;
    auto deadline = std::chrono::steady_clock::now() + config_.stop_timeout;
    bool can_wake = true;
    while (true) {
        int running = 0, idle = 0;
        for (auto& w : workers) {
            State s = w->state;
            if (s == State::done) continue;
            ++running;
            if (s != State::idle) continue;  // a busy thread stops after its request
            ++idle;
            // Without an address to connect to, a signal interrupts an idle thread's accept.
            if (!can_wake) pthread_kill(w->thread.native_handle(), SIGUSR1);
        }
        if (running == 0) break;
        // Idle threads are blocked in accept: a wake-up request for each brings them back to
        // the loop. The listening socket itself is left alone: it may be shared with other
        // processes (prefork, systemd, spawn-fcgi).
        for (int i = 0; i < idle && can_wake; ++i) can_wake = listener::send_wake(listen_fd_);
        if (std::chrono::steady_clock::now() > deadline) {
            log_.warning("stop timeout: exiting with requests still in flight");
            log_.stop_background();
            std::_Exit(1);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    for (auto& w : workers) w->thread.join();
    if (metrics_) metrics_->stop_process();
    log_.info("stopped");
    log_.stop_background();
    return 0;
}

int Server::supervise() {
    std::map<pid_t, std::chrono::steady_clock::time_point> children;
    auto spawn = [&] {
        pid_t pid = fork();
        if (pid < 0) {
            log_.error(std::string("fork failed: ") + std::strerror(errno));
            return;
        }
        if (pid == 0) {
            // The child serves; it stops if the supervisor dies, whatever the reason.
            prctl(PR_SET_PDEATHSIG, SIGTERM);
            std::_Exit(serve_threads());
        }
        children[pid] = std::chrono::steady_clock::now();
    };
    for (int i = 0; i < config_.processes; ++i) spawn();
    log_.info("supervising " + std::to_string(config_.processes) + " worker processes");

    sigset_t signals;
    sigemptyset(&signals);
    for (int s : {SIGTERM, SIGINT, SIGHUP, SIGCHLD}) sigaddset(&signals, s);
    int signal_number = 0;
    while (true) {
        if (sigwait(&signals, &signal_number) != 0) continue;
        if (signal_number == SIGHUP) {
            log_.info("SIGHUP ignored (restart the worker to reload its configuration)");
            continue;
        }
        if (signal_number != SIGCHLD) break;
        int status = 0;
        pid_t pid;
        while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
            auto it = children.find(pid);
            if (it == children.end()) continue;
            bool quick = std::chrono::steady_clock::now() - it->second < std::chrono::seconds(1);
            children.erase(it);
            std::string how = WIFSIGNALED(status)
                                  ? std::string("killed by ") + strsignal(WTERMSIG(status))
                                  : "exited with status " + std::to_string(WEXITSTATUS(status));
            log_.error("worker process " + std::to_string(pid) + " " + how + ", starting another");
            if (quick) std::this_thread::sleep_for(std::chrono::seconds(1));  // no fork storm
            spawn();
        }
    }
    log_.info(std::string("stopping on ") + strsignal(signal_number) +
              ": stopping worker processes");
    for (auto& [pid, started] : children) kill(pid, SIGTERM);
    auto deadline =
        std::chrono::steady_clock::now() + config_.stop_timeout + std::chrono::seconds(5);
    while (!children.empty()) {
        int status = 0;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid > 0) {
            children.erase(pid);
            continue;
        }
        if (std::chrono::steady_clock::now() > deadline) {
            log_.warning("worker processes did not stop in time: killing them");
            for (auto& [child, started] : children) kill(child, SIGKILL);
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    log_.info("stopped");
    return 0;
}

}  // namespace kiva
