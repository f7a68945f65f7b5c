// The Server: one accept loop per thread, each with its own database connection, running each
// request through the App and logging one line. Its other jobs have their own files:
// fcgi_io.cpp (the FastCGI request and response), listener.cpp (the socket), supervisor.cpp
// (signals, stopping, prefork).
#include "kiva/server/server.hpp"

#include <fcgiapp.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "kiva/http/request_id.hpp"
#include "kiva/http/response.hpp"
#include "kiva/http/router.hpp"
#include "kiva/observe/metrics.hpp"
#include "kiva/server/fcgi_io.hpp"
#include "kiva/server/listener.hpp"

namespace kiva {

Server::Server(const Config& config, const App& app, const db::QueryFile& queries,
               const Logger& log)
    : config_(config), app_(app), queries_(queries), log_(log) {}

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
        if (FCGX_GetParam(listener::wake_param, fcgi.envp)) {
            // A stopping worker's wake-up (maybe another process's): answer it and go on,
            // which is back to the loop's test for this thread when it is stopping too.
            FCGX_PutS("Status: 204 No Content\r\n\r\n", fcgi.out);
            FCGX_Finish_r(&fcgi);
            continue;
        }
        auto start = std::chrono::steady_clock::now();
        if (metrics_) metrics_->busy(1);
        Request request = fastcgi::request_of(fcgi);
        request.set_id(request_id_of(request));
        Outcome outcome;
        std::string body;
        int status =
            fastcgi::read_body(fcgi.in, request.var("CONTENT_LENGTH"), config_.body_limit, body);
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
        fastcgi::write_response(fcgi.out, outcome.response);
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
    close_at_once_ = listener::is_unix_socket(listen_fd_);
    take_signals();
    return config_.processes > 1 ? supervise() : serve_threads();
}

}  // namespace kiva
