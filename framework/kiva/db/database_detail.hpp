#pragma once
/// @file
/// Inside the Database (database.cpp, connection.cpp, replica.cpp, transaction.cpp,
/// result_stream.cpp): the libpq helpers they share, and the replica policy's on_replica,
/// a template that both execute() and stream_query() instantiate. Not for the rest of the code.

#include <libpq-fe.h>

#include <optional>
#include <string>
#include <string_view>

#include "kiva/db/database.hpp"

namespace kiva::db {

/// The statement audit triggers read the login from; its name cannot clash with a query's.
constexpr const char* set_login_statement = "kiva.set_login";

inline std::string trimmed(const char* message) {
    std::string s = message ? message : "";
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    for (char& c : s)
        if (c == '\n' || c == '\t') c = ' ';
    return s;
}

inline std::string field(const PGresult* r, int code) {
    const char* f = PQresultErrorField(r, code);
    return f ? f : "";
}

/// The SQLSTATEs that say the connection is over (or its server is a standby now): 08xxx
/// connection exceptions, 57P01-57P03 shutdown, crash, not accepting connections, and 25006
/// (a write on a read-only server: after a failover, the next connection finds the primary).
inline bool connection_is_over(std::string_view sqlstate) {
    return sqlstate.substr(0, 2) == "08" || sqlstate == "57P01" || sqlstate == "57P02" ||
           sqlstate == "57P03" || sqlstate == "25006";
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

}  // namespace kiva::db
