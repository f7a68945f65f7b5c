// The streaming of rows: a plain read outside a transaction is read from the server in
// single-row mode while the answer is written (ResultStream, json(stream)); otherwise its
// rows are read first.
#include "kiva/db/database.hpp"

#include <libpq-fe.h>

#include <chrono>
#include <memory>
#include <utility>

#include "kiva/db/database_detail.hpp"

namespace kiva::db {

ResultStream Database::call_stream(std::size_t index, std::string_view name,
                                   std::span<const char* const> values) {
    return stream_query(compiled(index, name, QueryKind::rows), values);
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
