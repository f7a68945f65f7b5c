#include "kiva/db/database.hpp"

#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <memory>

#include <stdexcept>
#include <utility>
#include "kiva/observe/metrics.hpp"

namespace kiva::db {

namespace {

/// The statement audit triggers read the login from; its name cannot clash with a query's.
constexpr const char* set_login_statement = "kiva.set_login";

std::string trimmed(const char* message) {
    std::string s = message ? message : "";
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    for (char& c : s)
        if (c == '\n' || c == '\t') c = ' ';
    return s;
}

std::string field(const PGresult* r, int code) {
    const char* f = PQresultErrorField(r, code);
    return f ? f : "";
}

/// The SQLSTATEs that say the connection is over (or its server is a standby now): 08xxx
/// connection exceptions, 57P01-57P03 shutdown, crash, not accepting connections, and 25006
/// (a write on a read-only server: after a failover, the next connection finds the primary).
bool connection_is_over(std::string_view sqlstate) {
    return sqlstate.substr(0, 2) == "08" || sqlstate == "57P01" || sqlstate == "57P02" ||
           sqlstate == "57P03" || sqlstate == "25006";
}

}  // namespace

Arg::Arg(std::string_view name, double d) : name_(name) {
    char text[32];
    std::snprintf(text, sizeof text, "%.17g", d);
    value_ = text;
}

Database::Database(const QueryFile& queries, std::string conninfo, std::string app_name,
                   const Logger& log, Timeouts timeouts)
    : queries_(queries),
      conninfo_(std::move(conninfo)),
      app_name_(std::move(app_name)),
      log_(log),
      timeouts_(timeouts) {}

Database::~Database() {
    drop();
}

void Database::drop() {
    if (conn_) PQfinish(conn_);
    conn_ = nullptr;
    on_standby_ = false;
    in_transaction_ = false;
    unprepared_.clear();
}

void Database::observe(observe::Metrics* metrics, std::chrono::milliseconds slow_query) {
    metrics_ = metrics;
    slow_query_ = slow_query;
    if (replica_) replica_->observe(metrics, slow_query);
}

void Database::use_replica(std::string conninfo) {
    replica_ = std::make_unique<Database>(queries_, std::move(conninfo), app_name_, log_, timeouts_);
    replica_->replica_of_ = this;
    replica_->observe(metrics_, slow_query_);
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

bool Database::standby() const {
    // PostgreSQL 14 and later report in_hot_standby, and report it again after a promotion
    // (with the answer to the connection's next statement).
    const char* standby = conn_ ? PQparameterStatus(conn_, "in_hot_standby") : nullptr;
    return standby && std::string_view(standby) == "on";
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

void Database::set_login(std::string_view login) {
    pending_login_ = std::string(login);
}

void Database::set_request_id(std::string_view id) {
    request_id_ = std::string(id);
    if (replica_) replica_->request_id_ = request_id_;  // its slow queries name the request
}

bool Database::to_replica(const Query& query) {
    if (!replica_ || !query.replica || in_transaction_ || lost_) return false;
    if (std::chrono::steady_clock::now() >= replica_retry_at_) return true;
    if (metrics_) metrics_->db_replica(observe::ReplicaRead::fallback);
    return false;
}

void Database::replica_answered() {
    replica_pause_ = std::chrono::milliseconds(0);
    if (metrics_)
        metrics_->db_replica(replica_->standby() ? observe::ReplicaRead::standby
                                                 : observe::ReplicaRead::primary);
}

template <typename Result, typename Run>
std::optional<Result> Database::on_replica(const Query& query, Run run) {
    if (!to_replica(query)) return std::nullopt;
    try {
        Result result = run(*replica_);
        replica_answered();
        return result;
    } catch (const DbError& e) {
        if (!replica_failed(e)) throw;
        return std::nullopt;
    }
}

bool Database::replica_failed(const DbError& e) {
    // Bad data (400) or a conflict (409) would be the same on the primary.
    int status = e.http_status();
    if (status == 400 || status == 409) return false;
    replica_->lost_ = false;  // the replica runs no transaction: the next query may try again
    using namespace std::chrono_literals;
    replica_pause_ = std::min<std::chrono::milliseconds>(replica_pause_.count() ? 2 * replica_pause_ : 1000ms, 30000ms);
    replica_retry_at_ = std::chrono::steady_clock::now() + replica_pause_;
    log_.warning("replica database failed (" + std::string(e.what()) +
                 "): its queries run on the primary for " +
                 std::to_string(replica_pause_.count() / 1000) + " s");
    if (metrics_) metrics_->db_replica(observe::ReplicaRead::fallback);
    return true;
}

ResultHandle Database::send(const Query& query, std::span<const char* const> values) {
    const std::string& statement = query.name;
    int n = static_cast<int>(values.size());
    // Plain reads before the first write run on their own (one round trip): at READ COMMITTED
    // each statement takes its own snapshot anyway, and nothing they do needs rolling back.
    if (!in_transaction_ && query.plain_read)
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

void Database::fail(pg_result* raw, const Query& query) {
    ResultHandle result(raw);
    std::string sqlstate = field(raw, PG_DIAG_SQLSTATE);
    std::string primary = field(raw, PG_DIAG_MESSAGE_PRIMARY);
    std::string detail = field(raw, PG_DIAG_MESSAGE_DETAIL);
    if (primary.empty()) primary = trimmed(PQresultErrorMessage(raw));
    if (primary.empty()) primary = PQresStatus(PQresultStatus(raw));
    std::string message = "query " + query.name + " (" + query.origin + ") failed: [" + sqlstate +
                          "] " + primary + (detail.empty() ? "" : " " + detail);
    std::string client;
    switch (http_status_for_sqlstate(sqlstate)) {
        case 409:
            client = "conflict: " + (detail.empty() ? primary : detail);
            break;
        case 400:
            client = "invalid data: " + primary + (detail.empty() ? "" : " " + detail);
            break;
        case 503:
            client = "database busy, please retry";
            break;
        default:
            client = "internal error";
            break;
    }
    throw DbError(sqlstate, message, client);
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
    bool first = !in_transaction_;
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

const Query& Database::prepare_call(std::string_view name, QueryKind expected, Args args,
                                    std::vector<const char*>& values) const {
    const Query* found = queries_.find(name);
    if (!found)
        throw std::logic_error("no query named " + std::string(name) + " in the queries file");
    const Query& query = *found;
    check_free(query);
    if (query.kind != expected)
        throw std::logic_error("query " + query.name + " (" + query.origin +
                               ") is declared with suffix \"" + std::string(suffix(query.kind)) +
                               "\" but was called as if it had \"" + std::string(suffix(expected)) +
                               "\"");
    for (const auto& arg : args) {
        bool known = false;
        for (const auto& p : query.params) known = known || p == arg.name();
        if (!known)
            throw std::logic_error("query " + query.name + " (" + query.origin +
                                   ") has no parameter :" + std::string(arg.name()));
    }
    values.clear();
    values.reserve(query.params.size());
    for (const auto& p : query.params) {
        const Arg* found_arg = nullptr;
        for (const auto& arg : args)
            if (arg.name() == p) found_arg = &arg;
        if (!found_arg)
            throw std::logic_error("query " + query.name + " (" + query.origin +
                                   ") needs argument :" + p);
        values.push_back(found_arg->value() ? found_arg->value()->c_str() : nullptr);
    }
    return query;
}

void Database::check_free(const Query& query) const {
    if (streaming_ || (replica_ && replica_->streaming_))
        throw std::logic_error("query " + query.name +
                               " called while a row stream is being read: "
                               "stream() must be a request's last query");
}

const Query& Database::compiled(std::size_t index, std::string_view name, QueryKind kind) const {
    const auto& all = queries_.queries();
    if (index >= all.size() || all[index].name != name || all[index].kind != kind)
        throw std::logic_error("query " + std::string(name) +
                               " is not where the compiled queries have it: the queries file "
                               "differs from the one this binary was built with");
    check_free(all[index]);
    return all[index];
}

ResultHandle Database::call(std::size_t index, std::string_view name, QueryKind kind,
                            std::span<const char* const> values) {
    return execute(compiled(index, name, kind), values);
}

int64_t Database::call_count(std::size_t index, std::string_view name,
                             std::span<const char* const> values) {
    ResultHandle r = call(index, name, QueryKind::count, values);
    const char* tuples = PQcmdTuples(r.get());
    return tuples && *tuples ? std::stoll(tuples) : 0;
}

ResultStream Database::call_stream(std::size_t index, std::string_view name,
                                   std::span<const char* const> values) {
    return stream_query(compiled(index, name, QueryKind::rows), values);
}

ResultHandle Database::run(std::string_view name, QueryKind expected, Args args) {
    std::vector<const char*> values;
    const Query& query = prepare_call(name, expected, args, values);
    return execute(query, values);
}

Rows Database::rows(std::string_view name, Args args) {
    return Rows(run(name, QueryKind::rows, args));
}

std::optional<Row> Database::row(std::string_view name, Args args) {
    ResultHandle r = run(name, QueryKind::row, args);
    if (PQntuples(r.get()) == 0) return std::nullopt;
    return Row(std::move(r));
}

Value Database::value(std::string_view name, Args args) {
    return Value(run(name, QueryKind::value, args));
}

int64_t Database::exec(std::string_view name, Args args) {
    ResultHandle r = run(name, QueryKind::count, args);
    const char* tuples = PQcmdTuples(r.get());
    return tuples && *tuples ? std::stoll(tuples) : 0;
}

ResultStream Database::stream(std::string_view name, Args args) {
    std::vector<const char*> values;
    return stream_query(prepare_call(name, QueryKind::rows, args, values), values);
}

ResultStream Database::stream_query(const Query& query, std::span<const char* const> values) {
    if (auto rows = on_replica<ResultStream>(
            query, [&](Database& replica) { return replica.stream_query(query, values); }))
        return std::move(*rows);
    // Inside a transaction the connection must be free for COMMIT: read the rows first.
    if (in_transaction_ || !query.plain_read || lost_ || unprepared_.count(query.name))
        return ResultStream(Rows(execute(query, values)));
    drop_if_closed();
    for (int attempt = 0;; ++attempt) {
        if (!conn_) open();
        int n = static_cast<int>(values.size());
        // The first row is read now, so that an error is still an error status, not a cut list.
        auto start = std::chrono::steady_clock::now();
        if (PQsendQueryPrepared(conn_, query.name.c_str(), n, values.data(), nullptr, nullptr, 0) &&
            PQsetSingleRowMode(conn_)) {
            ResultHandle first(PQgetResult(conn_));
            took(query.name, std::chrono::steady_clock::now() - start);  // to its first row
            auto status = first ? PQresultStatus(first.get()) : PGRES_FATAL_ERROR;
            if (status == PGRES_SINGLE_TUPLE || status == PGRES_TUPLES_OK) {
                streaming_ = true;
                return ResultStream(*this, std::move(first));
            }
            if (first) {
                while (PGresult* rest = PQgetResult(conn_)) PQclear(rest);
                if (!lost(first.get())) fail(first.release(), query);
            }
        }
        // A plain read outside a transaction can always be tried again on a new connection.
        std::string why = trimmed(conn_ ? PQerrorMessage(conn_) : "no connection");
        drop();
        if (attempt == 0) {
            log_.warning(std::string(label()) + " connection lost (" + why + "), reconnecting");
            continue;
        }
        throw DbUnavailable(std::string(label()) + " connection lost during query " + query.name + ": " + why);
    }
}

ResultStream::ResultStream(ResultStream&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)),
      pending_(std::move(other.pending_)),
      rows_(std::move(other.rows_)) {}

ResultStream::~ResultStream() {
    if (!db_) return;
    // Not (fully) read: drain the rest, or the connection stays busy.
    pending_.reset();
    while (PGresult* r = PQgetResult(db_->conn_)) PQclear(r);
    db_->streaming_ = false;
}

void ResultStream::each(const std::function<void(const RowRef&)>& f) {
    if (rows_) {
        for (RowRef row : *rows_) f(row);
    } else if (db_) {
        // Single-row mode: one result per row, then a last, empty PGRES_TUPLES_OK.
        ResultHandle current = std::move(pending_);
        while (current) {
            auto status = PQresultStatus(current.get());
            if (status == PGRES_SINGLE_TUPLE) {
                f(RowRef(current.get(), 0));
            } else if (status != PGRES_TUPLES_OK) {
                db_->log_.error("row stream failed midway, the list is cut: " +
                                trimmed(PQresultErrorMessage(current.get())));
            }
            current.reset(PQgetResult(db_->conn_));
        }
        db_->streaming_ = false;
        db_ = nullptr;
    }
}

void ResultStream::write_json(const std::function<void(std::string_view)>& flush,
                              std::size_t chunk) {
    std::string buffer;
    buffer.reserve(chunk + 1024);
    js::StringOutput out{buffer};
    js::Writer writer(out);
    writer.StartArray();
    each([&](const RowRef& row) {
        write(writer, row);
        if (buffer.size() < chunk) return;
        flush(buffer);
        buffer.clear();
    });
    writer.EndArray();
    flush(buffer);
}

void Database::took(const std::string& query, std::chrono::nanoseconds duration) const {
    if (metrics_) metrics_->query(query, duration);
    if (slow_query_.count() && duration > slow_query_) {
        char ms[32];
        std::snprintf(ms, sizeof ms, "%.3fms", static_cast<double>(duration.count()) / 1e6);
        log_.log(LogLevel::warning, "slow query " + query + " " + ms, request_id_);
    }
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

namespace kiva {

Response json(db::ResultStream rows, int status) {
    Response r;
    r.status = status;
    // std::function needs a copyable target: the stream is shared with the one call.
    auto shared = std::make_shared<db::ResultStream>(std::move(rows));
    r.stream = [shared](const std::function<void(std::string_view)>& send) {
        shared->write_json(send);
    };
    return r;
}

}  // namespace kiva
