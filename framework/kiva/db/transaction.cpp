// The Database's transaction: BEGIN pipelined with the first statement that needs one, the
// audit context (login, request id) sent with it, and the end of the request: COMMIT (bounded
// by the statement timeout) or ROLLBACK, and what is answered when either fails.
#include "kiva/db/database.hpp"

#include <libpq-fe.h>
#include <poll.h>

#include <cerrno>
#include <chrono>
#include <memory>
#include <vector>

#include "kiva/db/database_detail.hpp"

namespace kiva::db {

void Database::set_login(std::string_view login) {
    pending_login_ = std::string(login);
}

void Database::set_request_id(std::string_view id) {
    request_id_ = std::string(id);
    if (replica_) replica_->request_id_ = request_id_;  // its slow queries name the request
}

ResultHandle Database::send(const Query& query, std::span<const char* const> values) {
    const std::string& statement = query.name;
    int n = static_cast<int>(values.size());
    // Plain reads before the first write run on their own (one round trip): at READ COMMITTED
    // each statement takes its own snapshot anyway, and nothing they do needs rolling back.
    // So do `kiva: autocommit` writes: the server commits each as it ends.
    if (!in_transaction_ && (query.plain_read || query.autocommit))
        return ResultHandle(
            PQexecPrepared(conn_, statement.c_str(), n, values.data(), nullptr, nullptr, 0));
    bool begin = !in_transaction_;
    // The audit context (login, request id) goes with BEGIN, and again when the login comes later.
    bool login = (pending_login_.has_value() || (begin && !request_id_.empty())) &&
                 !unprepared_.count(set_login_statement);
    if (!begin && !login)
        return ResultHandle(
            PQexecPrepared(conn_, statement.c_str(), n, values.data(), nullptr, nullptr, 0));

    // BEGIN, the audit login and the query in one round trip.
    if (!PQenterPipelineMode(conn_)) return nullptr;
    bool sent = true;
    if (begin) sent = PQsendQueryParams(conn_, "BEGIN", 0, nullptr, nullptr, nullptr, nullptr, 0);
    if (sent && login) {
        const char* v[] = {pending_login_ ? pending_login_->c_str() : "", request_id_.c_str()};
        sent = PQsendQueryPrepared(conn_, set_login_statement, 2, v, nullptr, nullptr, 0);
    }
    sent = sent &&
           PQsendQueryPrepared(conn_, statement.c_str(), n, values.data(), nullptr, nullptr, 0);
    sent = sent && PQpipelineSync(conn_);
    std::vector<ResultHandle> results;
    int nulls = 0;
    while (sent) {
        PGresult* r = PQgetResult(conn_);
        if (!r) {
            if (PQstatus(conn_) == CONNECTION_BAD || ++nulls > 2) break;
            continue;
        }
        nulls = 0;
        if (PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
            PQclear(r);
            break;
        }
        results.emplace_back(r);
    }
    PQexitPipelineMode(conn_);
    std::size_t expected = (begin ? 1 : 0) + (login ? 1 : 0) + 1;
    if (PQstatus(conn_) == CONNECTION_BAD || results.size() != expected) return nullptr;
    std::size_t i = 0;
    if (begin && PQresultStatus(results[i++].get()) == PGRES_COMMAND_OK) in_transaction_ = true;
    if (login && PQresultStatus(results[i++].get()) == PGRES_TUPLES_OK) pending_login_.reset();
    return std::move(results.back());
}

ResultHandle Database::commit_bounded() {
    if (!timeouts_.statement.count()) return ResultHandle(PQexec(conn_, "COMMIT"));
    if (!PQsendQuery(conn_, "COMMIT")) return nullptr;
    using Clock = std::chrono::steady_clock;
    auto deadline = Clock::now() + timeouts_.statement;
    bool cancelled = false;
    while (PQisBusy(conn_)) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0) {
            if (cancelled) {  // not even the cancellation answered: give the connection up
                log_.warning("COMMIT on " + server_ + " did not end after its cancellation");
                drop();
                return nullptr;
            }
            log_.warning("COMMIT on " + server_ + " still waiting after " +
                         std::to_string(timeouts_.statement.count()) +
                         "ms (for a synchronous standby?): cancelled");
            char why[256];
            std::unique_ptr<PGcancel, decltype(&PQfreeCancel)> cancel(PQgetCancel(conn_),
                                                                     &PQfreeCancel);
            if (!cancel || !PQcancel(cancel.get(), why, sizeof why))
                log_.warning("cannot cancel the COMMIT: " + trimmed(why));
            cancelled = true;
            deadline = Clock::now() + timeouts_.statement;
            continue;
        }
        pollfd p{PQsocket(conn_), POLLIN, 0};
        if (poll(&p, 1, static_cast<int>(left.count())) < 0 && errno != EINTR) break;
        if (!PQconsumeInput(conn_)) break;
    }
    ResultHandle result;
    while (PGresult* r = PQgetResult(conn_)) {
        if (result)
            PQclear(r);
        else
            result.reset(r);
    }
    return result;
}

void Database::finish(bool commit) {
    if (replica_) replica_->finish(false);
    pending_login_.reset();
    request_id_.clear();
    lost_ = false;
    if (!in_transaction_ || !conn_) {
        in_transaction_ = false;
        return;
    }
    in_transaction_ = false;
    // COMMIT of a failed transaction silently rolls back: say so instead of answering 2xx.
    bool aborted = PQtransactionStatus(conn_) == PQTRANS_INERROR;
    bool committing = commit && !aborted;
    sync_wait_cancelled_ = false;
    ResultHandle r = committing ? commit_bounded() : ResultHandle(PQexec(conn_, "ROLLBACK"));
    bool ok = r && PQstatus(conn_) == CONNECTION_OK && PQresultStatus(r.get()) == PGRES_COMMAND_OK;
    if (ok && committing && sync_wait_cancelled_)
        throw DbUnavailable("COMMIT not confirmed by a synchronous standby (committed on " +
                            server_ + " only): not acknowledged");
    if (!ok && PQstatus(conn_) != CONNECTION_OK) {
        std::string why = trimmed(PQerrorMessage(conn_));
        drop();
        if (committing) throw DbUnavailable("database connection lost during COMMIT: " + why);
        return;
    }
    if (!ok && committing && !r) throw DbUnavailable("COMMIT could not be sent");
    if (!ok && committing) {
        static const Query commit_query{"COMMIT", QueryKind::count, "COMMIT", {}, "commit"};
        fail(r.release(), commit_query);
    }
    if (!ok) {
        log_.error("ROLLBACK failed, dropping the connection: " + trimmed(PQerrorMessage(conn_)));
        drop();
    }
    if (commit && aborted)
        throw DbError("25P02", "a query failed, yet the handler answered success: rolled back",
                      "internal error");
}

}  // namespace kiva::db
