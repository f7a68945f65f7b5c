#include "kiva/server/server.hpp"

#include <arpa/inet.h>
#include <fcgiapp.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <map>
#include <stdexcept>
#include <thread>

#include "kiva/http/request_id.hpp"
#include "kiva/http/response.hpp"
#include "kiva/http/router.hpp"
#include "kiva/observe/metrics.hpp"

namespace kiva {

namespace {

/// SIGUSR1 only interrupts a thread blocked in accept or read (no SA_RESTART).
void on_wakeup(int) {}

/// The FastCGI parameter that marks a wake-up request (sent by the worker to itself).
constexpr const char* wake_param = "KIVA_WAKE";

/// Connects to the listening socket and sends a FastCGI request that only wakes whichever
/// thread accepts it. Stopping this way interrupts nothing: a signal could cut a connection
/// libfcgi has just accepted. False when the socket has no address to connect to.
bool send_wake(int listen_fd) {
    sockaddr_storage address{};
    socklen_t length = sizeof address;
    if (getsockname(listen_fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) return false;
    if (address.ss_family == AF_UNIX) {
        auto* un = reinterpret_cast<sockaddr_un*>(&address);
        if (length <= offsetof(sockaddr_un, sun_path) || un->sun_path[0] == '\0') return false;
    } else if (address.ss_family == AF_INET) {
        auto* in = reinterpret_cast<sockaddr_in*>(&address);
        if (in->sin_addr.s_addr == htonl(INADDR_ANY)) in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    } else if (address.ss_family == AF_INET6) {
        auto* in6 = reinterpret_cast<sockaddr_in6*>(&address);
        if (IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr)) in6->sin6_addr = in6addr_loopback;
    } else {
        return false;
    }
    int fd = socket(address.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return false;
    bool sent = false;
    if (connect(fd, reinterpret_cast<sockaddr*>(&address), length) == 0 || errno == EINPROGRESS) {
        // BEGIN_REQUEST (responder), PARAMS {KIVA_WAKE=1}, empty PARAMS, empty STDIN.
        static const unsigned char request[] = {
            1, 1, 0,  1, 0, 8, 0, 0,   0,   1,   0,   0,   0,   0,   0,   0,   1,   4, 0,
            1, 0, 12, 4, 0, 9, 1, 'K', 'I', 'V', 'A', '_', 'W', 'A', 'K', 'E', '1', 0, 0,
            0, 0, 1,  4, 0, 1, 0, 0,   0,   0,   1,   5,   0,   1,   0,   0,   0,   0,
        };
        pollfd p{fd, POLLOUT, 0};
        if (poll(&p, 1, 100) == 1 && (p.revents & POLLOUT))
            sent = send(fd, request, sizeof request, MSG_NOSIGNAL) ==
                   static_cast<ssize_t>(sizeof request);
    }
    close(fd);
    return sent;
}

enum class State { starting, idle, busy, done };

bool is_socket(int fd) {
    struct stat st {};
    return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

bool is_unix_socket(int fd) {
    sockaddr_storage address{};
    socklen_t length = sizeof address;
    return getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0 &&
           address.ss_family == AF_UNIX;
}

/// Appends a header line, dropping CR and LF so that no value can inject headers.
void add_header(std::string& out, std::string_view name, std::string_view value) {
    out.append(name).append(": ");
    for (char c : value)
        if (c != '\r' && c != '\n') out.push_back(c);
    out.append("\r\n");
}

void write_response(FCGX_Stream* out, const Response& r) {
    std::string head;
    head.reserve(128);
    head.append("Status: ")
        .append(std::to_string(r.status))
        .append(" ")
        .append(status_reason(r.status))
        .append("\r\n");
    if (r.status != 204 && r.status != 304) {
        add_header(head, "Content-Type", r.content_type);
        // A streamed body has no length known in advance: the front end chunks it.
        if (!r.stream) add_header(head, "Content-Length", std::to_string(r.body.size()));
    }
    for (const auto& [name, value] : r.headers) add_header(head, name, value);
    head.append("\r\n");
    FCGX_PutStr(head.data(), static_cast<int>(head.size()), out);
    if (r.stream) {
        r.stream([out](std::string_view piece) {
            FCGX_PutStr(piece.data(), static_cast<int>(piece.size()), out);
        });
    } else if (!r.body.empty() && r.status != 204) {
        FCGX_PutStr(r.body.data(), static_cast<int>(r.body.size()), out);
    }
}

/// Reads and throws away what is left of a request body (so the connection stays usable).
void drain(FCGX_Stream* in) {
    char scratch[16384];
    while (FCGX_GetStr(scratch, sizeof scratch, in) > 0) {
    }
}

/// Reads the body into out: 0 when done, 413 when larger than limit, 400 for a bad
/// Content-Length. What is not kept is drained, so the connection stays usable.
int read_body(FCGX_Stream* in, std::string_view length_text, std::size_t limit, std::string& out) {
    int64_t declared = -1;
    if (!length_text.empty() && (!parse_int64(length_text, declared) || declared < 0)) {
        drain(in);
        return 400;
    }
    if (declared > static_cast<int64_t>(limit)) {
        drain(in);
        return 413;
    }
    if (declared >= 0) {
        out.resize(static_cast<std::size_t>(declared));
        std::size_t got = 0;
        while (got < out.size()) {
            int n = FCGX_GetStr(out.data() + got, static_cast<int>(out.size() - got), in);
            if (n <= 0) break;
            got += static_cast<std::size_t>(n);
        }
        out.resize(got);
        return 0;
    }
    // No Content-Length (most GETs, or a chunked body): read until the end, at most
    // limit + 1 bytes, growing as data comes (an empty body allocates nothing).
    out.clear();
    char chunk[8192];
    int n;
    while ((n = FCGX_GetStr(chunk, sizeof chunk, in)) > 0) {
        out.append(chunk, static_cast<std::size_t>(n));
        if (out.size() > limit) break;
    }
    std::size_t got = out.size();
    if (got > limit) {
        drain(in);
        return 413;
    }
    return 0;
}

}  // namespace

struct Server::Worker {
    int index = 0;
    std::thread thread;
    std::atomic<State> state{State::starting};
};

Server::Server(const Config& config, const App& app, const db::QueryFile& queries,
               const Logger& log)
    : config_(config), app_(app), queries_(queries), log_(log) {}

int Server::open_listener() const {
    const std::string& where = config_.listen;
    if (!where.empty()) {
        std::string path = where.rfind("unix:", 0) == 0 ? where.substr(5) : where;
        bool unix_socket = path.find(':') == std::string::npos;
        if (unix_socket) {
            // A stale socket from a previous run would make bind fail; anything else is kept.
            struct stat st {};
            if (lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) unlink(path.c_str());
        }
        int fd = FCGX_OpenSocket(path.c_str(), 1024);
        if (fd < 0)
            throw std::runtime_error("cannot listen on " + where + ": " + std::strerror(errno));
        if (unix_socket && chmod(path.c_str(), static_cast<mode_t>(config_.socket_mode)) != 0)
            throw std::runtime_error("cannot set the mode of " + path + ": " +
                                     std::strerror(errno));
        log_.info("listening on " + where);
        return fd;
    }
    // systemd socket activation hands the socket over as fd 3.
    const char* pid = std::getenv("LISTEN_PID");
    const char* fds = std::getenv("LISTEN_FDS");
    if (pid && fds && std::atoi(pid) == getpid() && std::atoi(fds) >= 1 && is_socket(3)) {
        log_.info("listening on the socket from systemd (fd 3)");
        return 3;
    }
    // mod_fcgid and spawn-fcgi pass the listening socket as fd 0.
    if (!FCGX_IsCGI() && is_socket(0)) {
        log_.info("listening on the inherited socket (fd 0)");
        return 0;
    }
    throw std::runtime_error(
        "no socket to serve: set listen (e.g. listen = unix:/run/kiva/kiva.sock) or start the "
        "worker from a FastCGI process manager (mod_fcgid, spawn-fcgi, systemd)");
}

void Server::serve_forever(Worker& worker) {
    db::Database db(queries_, config_.database, config_.app_name, log_,
                    {config_.db_connect_timeout, config_.db_statement_timeout});
    if (!config_.db_replica.empty()) db.use_replica(config_.db_replica);
    db.observe(metrics_, config_.slow_query);
    db.connect();
    FCGX_Request fcgi;
    FCGX_InitRequest(&fcgi, listen_fd_, FCGI_FAIL_ACCEPT_ON_INTR);
    while (!stopping_) {
        worker.state = State::idle;
        int rc = FCGX_Accept_r(&fcgi);
        worker.state = State::busy;
        if (rc < 0) {
            if (stopping_) break;
            if (rc == -EINTR) continue;
            log_.error("FastCGI accept failed: " + std::string(std::strerror(-rc)) +
                       ", thread stops");
            break;
        }
        if (FCGX_GetParam(wake_param, fcgi.envp)) {
            // A stopping worker's wake-up (maybe another process's): answer it and go on,
            // which is back to the loop's test for this thread when it is stopping too.
            FCGX_PutS("Status: 204 No Content\r\n\r\n", fcgi.out);
            FCGX_Finish_r(&fcgi);
            continue;
        }
        auto start = std::chrono::steady_clock::now();
        if (metrics_) metrics_->busy(1);
        Request::Env env;
        for (char** p = fcgi.envp; *p; ++p) {
            std::string_view kv(*p);
            auto eq = kv.find('=');
            env.emplace_back(kv.substr(0, eq),
                             eq == std::string_view::npos ? "" : kv.substr(eq + 1));
        }
        Request request(std::move(env));
        request.set_id(request_id_of(request));
        Outcome outcome;
        std::string body;
        int status = read_body(fcgi.in, request.var("CONTENT_LENGTH"), config_.body_limit, body);
        if (status == 400) {
            outcome.response = error_response(400, "invalid Content-Length");
        } else if (status == 413) {
            outcome.response =
                error_response(413, "request body too large (limit " +
                                        std::to_string(config_.body_limit) + " bytes)");
        } else {
            std::string id = request.id();
            request.reset(request.env(), std::move(body));
            request.set_id(std::move(id));
            db.set_request_id(request.id());
            outcome = app_.handle(request, db);
        }
        outcome.response.header("X-Request-ID", request.id());
        write_response(fcgi.out, outcome.response);
        // Made before FCGX_Finish_r, which frees the environment the request points into.
        auto took = std::chrono::steady_clock::now() - start;
        const auto& entries = app_.table().entries();
        std::string_view route =
            outcome.route >= 0
                ? std::string_view(entries[static_cast<std::size_t>(outcome.route)].pattern.text())
                : std::string_view();
        double ms = static_cast<double>(
                        std::chrono::duration_cast<std::chrono::microseconds>(took).count()) /
                    1000.0;
        std::string line, slow;
        AccessEntry entry{request.id(),
                          outcome.user ? std::string_view(*outcome.user) : "",
                          request.method(),
                          route,
                          request.path(),
                          outcome.response.status,
                          ms};
        if (config_.log_requests && log_.enabled(LogLevel::info)) line = log_.access_line(entry);
        bool is_slow = config_.slow_request.count() && took > config_.slow_request;
        if (is_slow) {
            char text[48];
            std::snprintf(text, sizeof text, " %d %.3fms", entry.status, ms);
            slow = "slow request " + std::string(entry.method) + " " +
                   std::string(route.empty() ? "unmatched" : route) + text;
        }
        if (metrics_) metrics_->request(outcome.route, request.method(), entry.status, took);
        // libfcgi closes a connection with shutdown(), then waits until the front end has
        // closed its side (up to 2 s), lest a TCP reset discard the answer. A unix socket has
        // no such reset, and the whole request was read: close at once and free the thread.
        fcgi.detached = close_at_once_;
        FCGX_Finish_r(&fcgi);
        if (!line.empty()) log_.emit(std::move(line));
        if (is_slow) log_.log(LogLevel::warning, slow, request.id());
        if (metrics_) metrics_->busy(-1);
    }
    FCGX_Free(&fcgi, 1);
    worker.state = State::done;
}

int Server::run() {
    if (FCGX_Init() != 0) throw std::runtime_error("libfcgi initialization failed");
    listen_fd_ = open_listener();
    close_at_once_ = is_unix_socket(listen_fd_);

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

    return config_.processes > 1 ? supervise() : serve_threads();
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
        for (int i = 0; i < idle && can_wake; ++i) can_wake = send_wake(listen_fd_);
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
