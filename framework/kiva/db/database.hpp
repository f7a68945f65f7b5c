#pragma once
/// @file
/// Database: one thread's Postgres connection, running named queries inside the request's
/// transaction. Handlers call queries by name with named arguments; SQL never comes from
/// the client. Plain reads (see is_plain_read) that come before any write run on their own;
/// the first other query starts the transaction (BEGIN pipelined with it: one round trip),
/// and the framework commits or rolls back when the response is known. Queries marked
/// `-- kiva: replica` may go to a second connection, to a standby (use_replica()).
/// One class, one file per job: database.cpp (the facade), connection.cpp, replica.cpp (the
/// replica policy), transaction.cpp, result_stream.cpp.

#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "kiva/db/errors.hpp"
#include "kiva/db/query_file.hpp"
#include "kiva/db/result.hpp"
#include "kiva/http/response.hpp"
#include "kiva/core/log.hpp"

struct pg_conn;  // libpq's PGconn

namespace kiva::observe {
class Metrics;
}

namespace kiva::db {

/// A named argument: `{"sid", 42}`, `{"filter", text}`, `{"owner", nullptr}`.
class Arg {
  public:
    template <typename T>
    requires(std::is_integral_v<T> && !std::is_same_v<T, bool>) Arg(std::string_view name, T n)
        : name_(name), value_(std::to_string(n)) {}
    Arg(std::string_view name, bool b) : name_(name), value_(b ? "true" : "false") {}
    Arg(std::string_view name, double d);
    Arg(std::string_view name, std::string_view s) : name_(name), value_(std::string(s)) {}
    Arg(std::string_view name, const std::string& s) : name_(name), value_(s) {}
    Arg(std::string_view name, const char* s) : name_(name), value_(std::string(s)) {}
    Arg(std::string_view name, std::nullptr_t) : name_(name) {}
    template <typename T>
    Arg(std::string_view name, const std::optional<T>& v) : name_(name) {
        if (v) value_ = Arg(name, *v).value_;
    }

    std::string_view name() const { return name_; }
    /// The text sent to the server; nullopt is SQL NULL.
    const std::optional<std::string>& value() const { return value_; }

  private:
    std::string_view name_;
    std::optional<std::string> value_;
};

using Args = std::initializer_list<Arg>;

class Database;

/// How long the worker waits for the server, so that a request never hangs on a dead or
/// partitioned primary (README "Configuration": db_connect_timeout, db_statement_timeout).
/// Keys of the same name in the conninfo win over these.
struct Timeouts {
    /// libpq's connect_timeout, per host of a multi-host conninfo.
    std::chrono::seconds connect{5};
    /// The server's statement_timeout (sent as options=-c ...), and the longest wait for a
    /// COMMIT (then cancelled: 503); 0: the server's setting, COMMIT unbounded.
    std::chrono::milliseconds statement{30000};
};

/// The rows of a query read one at a time while the answer is sent (`json(c.db.stream(...))`),
/// so that a large list never sits whole in memory. Outside a transaction, a plain read is
/// streamed from the server in single-row mode; otherwise the rows are read first.
/// It must be the request's last query. Rows not consumed are drained when it is destroyed.
class ResultStream {
  public:
    ResultStream(ResultStream&& other) noexcept;
    ResultStream& operator=(ResultStream&&) = delete;
    ~ResultStream();

    /// Writes the rows as a JSON list of objects, calling flush(text) whenever `chunk` bytes
    /// are ready (and once at the end). A failure midway ends the list early (logged).
    void write_json(const std::function<void(std::string_view)>& flush, std::size_t chunk = 16384);
    /// Calls f on each row, in order (the typed RowStream's all()).
    void each(const std::function<void(const RowRef&)>& f);

  private:
    friend class Database;
    ResultStream(Database& db, ResultHandle first) : db_(&db), pending_(std::move(first)) {}
    explicit ResultStream(Rows rows) : rows_(std::move(rows)) {}

    Database* db_ = nullptr;  ///< set while rows are still coming from the server
    ResultHandle pending_;    ///< the first single-row result, read before the answer starts
    std::optional<Rows> rows_;
};

class Database {
  public:
    /// Does not connect yet: see connect().
    Database(const QueryFile& queries, std::string conninfo, std::string app_name,
             const Logger& log, Timeouts timeouts = {});
    ~Database();
    Database(const Database&) = delete;
    Database& operator=(const Database&) = delete;

    /// A query without suffix: all its rows.
    Rows rows(std::string_view query, Args args = {});
    /// A `^` query: its first row, or nullopt.
    std::optional<Row> row(std::string_view query, Args args = {});
    /// A `$` query: its first value (null when no row).
    Value value(std::string_view query, Args args = {});
    /// A `!` query: the number of rows it affected.
    int64_t exec(std::string_view query, Args args = {});
    /// A query without suffix, its rows streamed into the answer: `return json(c.db.stream(...))`.
    ResultStream stream(std::string_view query, Args args = {});

    // --- used by the generated typed queries (kiva/db/typed.hpp) ---

    /// Runs the query at `index` of the queries file, which must be `name` of that kind (the
    /// start-up check guarantees it; std::logic_error otherwise). values[i] is $(i+1), null
    /// for SQL NULL.
    ResultHandle call(std::size_t index, std::string_view name, QueryKind kind,
                      std::span<const char* const> values);
    /// The same for a `!` query: the number of rows it affected.
    int64_t call_count(std::size_t index, std::string_view name,
                       std::span<const char* const> values);
    /// The same for a query without suffix, streamed.
    ResultStream call_stream(std::size_t index, std::string_view name,
                             std::span<const char* const> values);

    // --- used by the framework, not by handlers ---

    /// Connects and prepares every query now; false (and a logged warning) when the server
    /// cannot be reached: the next request tries again.
    bool connect();
    /// The login that audit triggers see (setting kiva.login) in the current transaction.
    void set_login(std::string_view login);
    /// The request id that audit triggers see (setting kiva.request_id); until finish().
    void set_request_id(std::string_view id);
    /// Where query durations and reconnections are counted, and the slow query threshold.
    void observe(observe::Metrics* metrics, std::chrono::milliseconds slow_query);
    /// Runs the `-- kiva: replica` queries that come before a request's first write on a
    /// second connection to `conninfo` (typically the same hosts with
    /// target_session_attrs=prefer-standby), so that they see only committed rows, possibly
    /// a little late. When it fails they run on this one, and the replica is tried again
    /// after a pause (1 s, doubled up to 30 s while it keeps failing).
    void use_replica(std::string conninfo);
    bool in_transaction() const { return in_transaction_; }
    /// "host:port" of the server the last connection reached ("" before the first).
    const std::string& server() const { return server_; }
    /// Ends the request's transaction, if one was started. Throws DbError when a commit
    /// fails (503 when the connection was lost during it).
    void finish(bool commit);

  private:
    friend class ResultStream;

    // database.cpp: the facade (queries by name, their arguments, errors, durations).
    const Query& prepare_call(std::string_view name, QueryKind expected, Args args,
                              std::vector<const char*>& values) const;
    ResultHandle run(std::string_view name, QueryKind expected, Args args);
    const Query& compiled(std::size_t index, std::string_view name, QueryKind kind) const;
    void check_free(const Query& query) const;
    /// Counts a query's round trip, and logs it when slow.
    void took(const std::string& query, std::chrono::nanoseconds duration) const;
    [[noreturn]] void fail(pg_result* result, const Query& query);

    // connection.cpp: connect, prepare, reconnect.
    ResultHandle execute(const Query& query, std::span<const char* const> values);
    void open();
    void drop();
    /// Before a request's first statement: drops a connection the server closed while it was
    /// idle (a restart, a failover), or a replica connection whose standby was promoted, so
    /// that the statement goes to a fresh one.
    void drop_if_closed();
    /// The statement's connection is gone, or its server can no longer take writes.
    bool lost(const pg_result* result) const;
    static void on_notice(void* self, const pg_result* notice);
    /// "database", or "replica database" in this connection's messages.
    std::string_view label() const { return replica_of_ ? "replica database" : "database"; }

    // replica.cpp: the replica policy.
    /// Whether the query goes to the replica connection (a pause after a failure counts a
    /// fallback).
    bool to_replica(const Query& query);
    /// run(replica) for a query that goes there; nullopt when it is to run here instead
    /// (defined in database_detail.hpp).
    template <typename Result, typename Run>
    std::optional<Result> on_replica(const Query& query, Run run);
    /// The replica connection answered: counted by the kind of server it reached.
    void replica_answered();
    /// The replica connection failed with e: true when the query is to run here instead
    /// (logged, counted, pause); false for an error the primary would give as well.
    bool replica_failed(const DbError& e);
    /// Whether this connection's server says it is a standby (in_hot_standby).
    bool standby() const;

    // transaction.cpp: BEGIN with the audit context, COMMIT or ROLLBACK.
    /// The statement, after BEGIN and the audit context when they are due (one round trip).
    ResultHandle send(const Query& query, std::span<const char* const> values);
    /// COMMIT, waited for at most the statement timeout (the server's statement_timeout does
    /// not cover a COMMIT's wait for its synchronous standby): then it is cancelled, which
    /// leaves the commit on the primary alone, reported by a warning (sync_wait_cancelled_).
    ResultHandle commit_bounded();

    // result_stream.cpp: rows streamed into the answer.
    ResultStream stream_query(const Query& query, std::span<const char* const> values);

    const QueryFile& queries_;
    std::string conninfo_;
    std::string app_name_;
    const Logger& log_;
    Timeouts timeouts_;
    std::string server_;
    /// The server said the COMMIT was not confirmed by a synchronous standby.
    bool sync_wait_cancelled_ = false;
    pg_conn* conn_ = nullptr;
    bool in_transaction_ = false;
    /// The connection was lost in the middle of this request: nothing more can run in it.
    bool lost_ = false;
    /// A ResultStream is reading from the connection: nothing else may run until it is done.
    bool streaming_ = false;
    std::optional<std::string> pending_login_;
    std::string request_id_;
    observe::Metrics* metrics_ = nullptr;
    std::chrono::milliseconds slow_query_{0};
    bool opened_before_ = false;
    /// Statements the server refused to prepare (their error), on this connection.
    std::unordered_map<std::string, std::string> unprepared_;
    /// The replica connection (a Database that runs only plain reads), when configured.
    std::unique_ptr<Database> replica_;
    /// Set on a replica connection: its primary's. Its switches are not failovers.
    const Database* replica_of_ = nullptr;
    /// A replica connection that reached a standby: once that server is promoted, it is
    /// dropped so that the next one finds a standby again (prefer-standby).
    bool on_standby_ = false;
    std::chrono::steady_clock::time_point replica_retry_at_{};
    std::chrono::milliseconds replica_pause_{0};
};

}  // namespace kiva::db

namespace kiva {

/// A streamed JSON list: `return json(c.db.stream("get_stuff_all"));`.
Response json(db::ResultStream rows, int status = 200);

}  // namespace kiva
