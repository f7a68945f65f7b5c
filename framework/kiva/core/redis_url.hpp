#pragma once
/// @file
/// RedisUrl: where the shared cache lives, from the `cache` option
/// (`redis://host:port/db`, `redis://[::1]:6379/0`, `unix:/run/redis/redis.sock?db=2`).

#include <string>
#include <string_view>

namespace kiva::cache {

struct RedisUrl {
    std::string host;       ///< empty for a unix socket
    int port = 6379;
    std::string socket;     ///< unix socket path, empty for TCP
    int db = 0;

    /// "host:port/db" or "unix:path?db=N", for messages (the URL never holds a password).
    std::string text() const;
};

/// Parses the `cache` option. Throws std::invalid_argument naming the problem: another
/// scheme, a password in the URL (it belongs in cache_password_file, out of logs and
/// listings), a bad port or database number, anything after the database.
RedisUrl parse_redis_url(std::string_view url);

}  // namespace kiva::cache
