#pragma once
/// @file
/// Database errors and their HTTP meaning (SQLSTATE -> status).

#include <stdexcept>
#include <string>
#include <string_view>

namespace kiva::db {

/// The HTTP status a SQLSTATE stands for: 23505 unique violation -> 409, integrity and
/// data errors (23xxx, 22xxx) -> 400, connection loss, shutdown, overload and a write on a
/// server that became a standby (25006) -> 503,
/// serialization failure and deadlock -> 503 (retry), anything else -> 500.
int http_status_for_sqlstate(std::string_view sqlstate);

/// A statement failed. what() holds the server's message (for logs); client_message()
/// is what may be shown to the client for 4xx statuses.
class DbError : public std::runtime_error {
  public:
    DbError(std::string sqlstate, const std::string& message, std::string client_message)
        : std::runtime_error(message),
          sqlstate_(std::move(sqlstate)),
          client_message_(std::move(client_message)) {}
    const std::string& sqlstate() const { return sqlstate_; }
    int http_status() const { return http_status_for_sqlstate(sqlstate_); }
    const std::string& client_message() const { return client_message_; }

  private:
    std::string sqlstate_;
    std::string client_message_;
};

/// The server cannot be reached, or the connection was lost mid-request (503).
class DbUnavailable : public DbError {
  public:
    explicit DbUnavailable(const std::string& message)
        : DbError("08006", message, "database unavailable") {}
};

}  // namespace kiva::db
