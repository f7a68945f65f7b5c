// The Database's facade: queries found by name and their arguments checked, the typed calls,
// a failed statement turned into a DbError, and the query durations. The rest of the class is
// in connection.cpp, replica.cpp, transaction.cpp and result_stream.cpp.
#include "kiva/db/database.hpp"

#include <cstdio>
#include <stdexcept>
#include <utility>

#include "kiva/db/database_detail.hpp"
#include "kiva/observe/metrics.hpp"

namespace kiva::db {

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

void Database::observe(observe::Metrics* metrics, std::chrono::milliseconds slow_query) {
    metrics_ = metrics;
    slow_query_ = slow_query;
    if (replica_) replica_->observe(metrics, slow_query);
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

void Database::took(const std::string& query, std::chrono::nanoseconds duration) const {
    if (metrics_) metrics_->query(query, duration);
    if (slow_query_.count() && duration > slow_query_) {
        char ms[32];
        std::snprintf(ms, sizeof ms, "%.3fms", static_cast<double>(duration.count()) / 1e6);
        log_.log(LogLevel::warning, "slow query " + query + " " + ms, request_id_);
    }
}

}  // namespace kiva::db
