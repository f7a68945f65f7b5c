#include "kiva/observe/health.hpp"

#include <libpq-fe.h>
#include <poll.h>

#include <memory>

namespace kiva::observe {

namespace {

using Clock = std::chrono::steady_clock;

/// Waits until the connection's socket is ready for `events`, or the deadline passes.
bool wait_for(PGconn* c, short events, Clock::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return false;
    pollfd p{PQsocket(c), events, 0};
    return p.fd >= 0 && poll(&p, 1, static_cast<int>(left.count())) == 1;
}

}  // namespace

bool database_answers(const std::string& conninfo, const std::string& app_name,
                      std::chrono::milliseconds timeout) {
    auto deadline = Clock::now() + timeout;
    const char* keys[] = {"dbname", "fallback_application_name", nullptr};
    std::string name = app_name + "-health";
    const char* values[] = {conninfo.c_str(), name.c_str(), nullptr};
    std::unique_ptr<PGconn, decltype(&PQfinish)> conn(PQconnectStartParams(keys, values, 1),
                                                      &PQfinish);
    PGconn* c = conn.get();
    if (!c || PQstatus(c) == CONNECTION_BAD) return false;
    for (auto state = PGRES_POLLING_WRITING; state != PGRES_POLLING_OK;) {
        if (state == PGRES_POLLING_FAILED) return false;
        if (!wait_for(c, state == PGRES_POLLING_READING ? POLLIN : POLLOUT, deadline)) return false;
        state = PQconnectPoll(c);
    }
    if (PQsetnonblocking(c, 1) != 0 || !PQsendQuery(c, "SELECT 1")) return false;
    while (PQflush(c) == 1)
        if (!wait_for(c, POLLOUT, deadline)) return false;
    bool ok = false;
    while (true) {
        if (!PQconsumeInput(c)) return false;
        while (!PQisBusy(c)) {
            PGresult* r = PQgetResult(c);
            if (!r) return ok;
            ok = ok || PQresultStatus(r) == PGRES_TUPLES_OK;
            PQclear(r);
        }
        if (!wait_for(c, POLLIN, deadline)) return false;
    }
}

}  // namespace kiva::observe
