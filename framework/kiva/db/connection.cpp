// The Database's connection: connect, prepare every query, notice what the server says,
// drop a connection the server closed, and run a statement, reconnecting once when the
// connection was lost before the transaction began (a restart, a failover).
#include "kiva/db/database.hpp"

#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <vector>

#include "kiva/db/database_detail.hpp"
#include "kiva/observe/metrics.hpp"

namespace kiva::db {

void Database::drop() {
    if (conn_) PQfinish(conn_);
    conn_ = nullptr;
    on_standby_ = false;
    in_transaction_ = false;
    unprepared_.clear();
}

bool Database::connect() {
    if (replica_) replica_->connect();
    try {
        open();
        return true;
    } catch (const DbUnavailable& e) {
        log_.warning(e.what());
        return false;
    }
}

void Database::open() {
    drop();
    // The configured string is expanded as dbname; UTF8 is forced (JSON is UTF-8), and the
    // application name is a fallback the configuration may override. The timeouts and
    // keepalives come before dbname, so that the same keys in the configured string win:
    // keepalives notice a server that vanished (no reset) within about 20 s.
    std::string connect_timeout = std::to_string(std::max<long long>(timeouts_.connect.count(), 1));
    std::string options = timeouts_.statement.count()
                              ? "-c statement_timeout=" + std::to_string(timeouts_.statement.count())
                              : "";
    const char* keys[] = {"connect_timeout", "keepalives_idle", "keepalives_interval",
                          "keepalives_count", "options", "dbname", "client_encoding",
                          "fallback_application_name", nullptr};
    const char* values[] = {connect_timeout.c_str(), "10", "3", "3", options.c_str(),
                            conninfo_.c_str(), "UTF8", app_name_.c_str(), nullptr};
    PGconn* c = PQconnectdbParams(keys, values, 1);
    std::string cannot = "cannot connect to the " + std::string(label()) + ": ";
    if (!c) throw DbUnavailable(cannot + "out of memory");
    if (PQstatus(c) != CONNECTION_OK) {
        std::string why = trimmed(PQerrorMessage(c));
        PQfinish(c);
        throw DbUnavailable(cannot + why);
    }
    conn_ = c;
    PQsetNoticeReceiver(c, &Database::on_notice, this);

    // Prepare every query in one round trip; a sync after each isolates a failure to its query.
    std::vector<const Query*> order;
    PQenterPipelineMode(c);
    for (const auto& q : queries_.queries()) {
        PQsendPrepare(c, q.name.c_str(), q.sql.c_str(), 0, nullptr);
        PQpipelineSync(c);
        order.push_back(&q);
    }
    PQsendPrepare(
        c, set_login_statement,
        "SELECT set_config('kiva.login', $1, true), set_config('kiva.request_id', $2, true)", 0,
        nullptr);
    PQpipelineSync(c);
    order.push_back(nullptr);
    std::size_t index = 0;
    int nulls = 0;
    while (index < order.size()) {
        PGresult* r = PQgetResult(c);
        if (!r) {
            if (PQstatus(c) == CONNECTION_BAD || ++nulls > 2) break;
            continue;
        }
        nulls = 0;
        ResultHandle result(r);
        auto status = PQresultStatus(r);
        if (status == PGRES_PIPELINE_SYNC) {
            ++index;
        } else if (status != PGRES_COMMAND_OK) {
            std::string why = trimmed(PQresultErrorMessage(r));
            std::string name = order[index] ? order[index]->name : set_login_statement;
            std::string origin = order[index] ? " (" + order[index]->origin + ")" : "";
            log_.error("cannot prepare query " + name + origin + ": " + why);
            unprepared_[name] = why;
        }
    }
    PQexitPipelineMode(c);
    if (PQstatus(c) == CONNECTION_BAD) {
        std::string why = trimmed(PQerrorMessage(c));
        drop();
        throw DbUnavailable(std::string(label()) + " connection lost while preparing queries: " + why);
    }
    // Which server answered: after a failover, the conninfo's next host (the new primary).
    std::string server = std::string(PQhost(c) ? PQhost(c) : "") + ":" + (PQport(c) ? PQport(c) : "");
    if (opened_before_) {
        if (metrics_) metrics_->db_reconnect();
        if (server != server_) {
            // A failover for the primary connection; after a promotion, routine for a replica's.
            log_.log(replica_of_ ? LogLevel::info : LogLevel::warning,
                     std::string(label()) + " server switched from " + server_ + " to " + server);
            if (metrics_ && !replica_of_) metrics_->db_switch();
        } else {
            log_.info(std::string(label()) + " connection opened again to " + server);
        }
    }
    if (replica_of_) {
        on_standby_ = standby();
        if (!opened_before_ || !on_standby_)
            log_.info("replica database connection opened to " + server +
                      (on_standby_ ? " (a standby)" : " (not a standby)"));
    }
    server_ = std::move(server);
    opened_before_ = true;
}

void Database::on_notice(void* self, const PGresult* notice) {
    auto& db = *static_cast<Database*>(self);
    std::string primary = field(notice, PG_DIAG_MESSAGE_PRIMARY);
    // A COMMIT whose wait for the synchronous standby was cancelled (statement_timeout) is
    // committed on the primary only: it must not be acknowledged (finish() answers 503).
    if (primary.starts_with("canceling wait for synchronous replication"))
        db.sync_wait_cancelled_ = true;
    std::string severity = field(notice, PG_DIAG_SEVERITY_NONLOCALIZED);
    if (severity == "WARNING" || severity == "FATAL" || severity == "PANIC" || severity == "ERROR")
        db.log_.warning("database server says: " + trimmed(PQresultErrorMessage(notice)));
}

void Database::drop_if_closed() {
    if (!conn_ || in_transaction_ || streaming_) return;
    if (on_standby_ && !standby()) {
        log_.info("replica database server " + server_ + " was promoted: reconnecting to a standby");
        drop();
        return;
    }
    // An idle connection receives nothing unless the server is closing it (its FATAL message,
    // then end of file); a few rounds read both.
    pollfd p{PQsocket(conn_), POLLIN, 0};
    for (int round = 0; round < 4 && poll(&p, 1, 0) == 1; ++round) {
        if (PQconsumeInput(conn_) && PQstatus(conn_) == CONNECTION_OK) continue;
        log_.warning(std::string(label()) + " connection closed by the server (" +
                     trimmed(PQerrorMessage(conn_)) + "), reconnecting");
        drop();
        return;
    }
}

bool Database::lost(const PGresult* result) const {
    if (!conn_ || PQstatus(conn_) != CONNECTION_OK) return true;
    return result && connection_is_over(field(result, PG_DIAG_SQLSTATE));
}


ResultHandle Database::execute(const Query& query, std::span<const char* const> values) {
    if (auto r = on_replica<ResultHandle>(
            query, [&](Database& replica) { return replica.execute(query, values); }))
        return std::move(*r);
    if (auto it = unprepared_.find(query.name); it != unprepared_.end())
        throw DbError(
            "XX000",
            "query " + query.name + " (" + query.origin + ") was not prepared: " + it->second,
            "internal error");
    if (lost_) throw DbUnavailable("the database connection was lost earlier in this request");
    // An autocommit write is never sent again: it may have committed as the connection broke.
    bool first = !in_transaction_ && !query.autocommit;
    drop_if_closed();
    for (int attempt = 0;; ++attempt) {
        if (!conn_) open();
        auto start = std::chrono::steady_clock::now();
        ResultHandle r = send(query, values);
        if (metrics_ || slow_query_.count())
            took(query.name, std::chrono::steady_clock::now() - start);
        if (r && !lost(r.get())) {
            auto status = PQresultStatus(r.get());
            if (status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK) return r;
            fail(r.release(), query);
        }
        // The connection is gone. Before the transaction began nothing was committed (a plain
        // read commits nothing; a write's transaction dies with its connection, its COMMIT
        // comes later in finish()), so the request goes on once on a new connection; later in
        // the transaction the request fails (503), and a lost COMMIT is never retried.
        std::string why = r && conn_ && PQstatus(conn_) == CONNECTION_OK
                              ? trimmed(PQresultErrorMessage(r.get()))
                              : trimmed(conn_ ? PQerrorMessage(conn_) : "no connection");
        drop();
        if (first && attempt == 0) {
            log_.warning(std::string(label()) + " connection lost (" + why + "), reconnecting");
            continue;
        }
        lost_ = true;
        throw DbUnavailable("database connection lost during query " + query.name + ": " + why);
    }
}

}  // namespace kiva::db
