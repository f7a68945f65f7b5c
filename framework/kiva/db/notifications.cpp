// The notification listener's thread: connect (without blocking its stop), LISTEN, then poll
// the socket for notifications and ping answers, and the wake pipe for the stop.
#include "kiva/db/notifications.hpp"

#include <fcntl.h>
#include <libpq-fe.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <optional>
#include <stdexcept>

#include "kiva/db/database_detail.hpp"

namespace kiva::db {

namespace {

using Clock = std::chrono::steady_clock;

/// Closes the connection when it goes out of scope.
struct Connection {
    PGconn* c = nullptr;
    ~Connection() {
        if (c) PQfinish(c);
    }
};

}  // namespace

NotificationListener::NotificationListener(std::string conninfo, std::string app_name,
                                           std::string channel, std::chrono::milliseconds check,
                                           NotificationEvents events, const Logger& log)
    : conninfo_(std::move(conninfo)), app_name_(std::move(app_name)), channel_(std::move(channel)),
      check_(std::max(check, std::chrono::milliseconds(10))), events_(std::move(events)), log_(log) {
    if (pipe(wake_) != 0) throw std::runtime_error("notification listener: cannot make a pipe");
    fcntl(wake_[0], F_SETFL, O_NONBLOCK);
    thread_ = std::thread([this] { run(); });
}

NotificationListener::~NotificationListener() {
    stopping_ = true;
    [[maybe_unused]] auto n = write(wake_[1], "x", 1);
    if (thread_.joinable()) thread_.join();
    close(wake_[0]);
    close(wake_[1]);
}

bool NotificationListener::pause(std::chrono::milliseconds pause) {
    pollfd p{wake_[0], POLLIN, 0};
    poll(&p, 1, static_cast<int>(pause.count()));
    return !stopping_;
}

void NotificationListener::run() {
    std::chrono::milliseconds backoff(100);
    bool warned = false;
    while (!stopping_) {
        const bool was_up = listen_once();
        if (was_up) {
            events_.down();
            backoff = std::chrono::milliseconds(100);
            warned = false;
        }
        if (stopping_) break;
        if (!was_up && !warned) {
            log_.warning("notification channel " + channel_ +
                         " not listening: retrying (revocation cache bypassed meanwhile)");
            warned = true;
        }
        if (!pause(backoff)) break;
        backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
    }
}

bool NotificationListener::listen_once() {
    // The request connections' keys (connection.cpp), a shorter connect timeout: the thread
    // must notice its stop soon, and a channel that does not come back keeps the cache off.
    const char* keys[] = {"connect_timeout", "keepalives_idle", "keepalives_interval",
                          "keepalives_count", "dbname", "client_encoding",
                          "fallback_application_name", nullptr};
    const std::string name = app_name_ + " listener";
    const char* values[] = {"2", "10", "3", "3", conninfo_.c_str(), "UTF8", name.c_str(), nullptr};
    Connection conn{PQconnectStartParams(keys, values, 1)};
    if (!conn.c || PQstatus(conn.c) == CONNECTION_BAD) return false;
    // Connecting, without blocking: the wake pipe stops it.
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    for (PostgresPollingStatusType s = PGRES_POLLING_WRITING; s != PGRES_POLLING_OK;) {
        if (s == PGRES_POLLING_FAILED || stopping_ || Clock::now() > deadline) {
            if (s == PGRES_POLLING_FAILED && !stopping_)
                log_.info("notification channel " + channel_ + ": " +
                          trimmed(PQerrorMessage(conn.c)));
            return false;
        }
        pollfd p[2] = {{PQsocket(conn.c), static_cast<short>(s == PGRES_POLLING_READING ? POLLIN : POLLOUT), 0},
                       {wake_[0], POLLIN, 0}};
        poll(p, 2, 1000);
        if (p[0].revents) s = PQconnectPoll(conn.c);
    }
    char* quoted = PQescapeIdentifier(conn.c, channel_.data(), channel_.size());
    if (!quoted) return false;
    const std::string listen = "LISTEN " + std::string(quoted);
    PQfreemem(quoted);
    {
        ResultHandle r(PQexec(conn.c, listen.c_str()));
        if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) return false;
    }
    PQsetnonblocking(conn.c, 1);
    events_.up();
    log_.info("notification channel " + channel_ + " listening");

    auto last_heard = Clock::now();
    std::optional<Clock::time_point> ping_sent;
    while (!stopping_) {
        const auto now = Clock::now();
        if (ping_sent && now - *ping_sent > check_) {
            log_.warning("notification channel " + channel_ + ": no answer from the server");
            return true;
        }
        if (!ping_sent && now - last_heard >= check_) {
            if (!PQsendQuery(conn.c, "SELECT 1")) break;
            ping_sent = now;
        }
        if (PQflush(conn.c) < 0) break;
        const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(
            (ping_sent ? *ping_sent : last_heard) + check_ - now);
        pollfd p[2] = {{PQsocket(conn.c), POLLIN, 0}, {wake_[0], POLLIN, 0}};
        poll(p, 2, static_cast<int>(std::max<long long>(wait.count(), 0)) + 1);
        if (stopping_) break;
        if (!p[0].revents) continue;
        if (!PQconsumeInput(conn.c)) break;
        bool heard = false;
        while (!PQisBusy(conn.c)) {
            PGresult* r = PQgetResult(conn.c);
            if (!r) break;
            PQclear(r);
            ping_sent.reset();
            heard = true;
        }
        while (PGnotify* n = PQnotifies(conn.c)) {
            events_.message(n->extra ? std::string_view(n->extra) : std::string_view());
            PQfreemem(n);
            heard = true;
        }
        if (heard) {
            last_heard = Clock::now();
            events_.heard();
        }
        if (PQstatus(conn.c) == CONNECTION_BAD) break;
    }
    if (!stopping_)
        log_.warning("notification channel " + channel_ + " lost: " +
                     trimmed(PQerrorMessage(conn.c)));
    return true;
}

}  // namespace kiva::db
