// The listener: opens the socket to serve (or takes the one handed over), and wakes the
// threads blocked in accept on it when the worker stops.
#include "kiva/server/listener.hpp"

#include <arpa/inet.h>
#include <fcgiapp.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "kiva/server/server.hpp"

namespace kiva {

namespace {

bool is_socket(int fd) {
    struct stat st {};
    return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

}  // namespace

namespace listener {

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

bool is_unix_socket(int fd) {
    sockaddr_storage address{};
    socklen_t length = sizeof address;
    return getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0 &&
           address.ss_family == AF_UNIX;
}

}  // namespace listener

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
        // The backlog holds the front end's connections no thread has accepted yet: a burst
        // of 1024 clients through nginx is 1024 connects at once (the kernel caps it at
        // net.core.somaxconn, 4096 by default; docs/deployment.md, "Sizing the front end").
        int fd = FCGX_OpenSocket(path.c_str(), 4096);
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

}  // namespace kiva
