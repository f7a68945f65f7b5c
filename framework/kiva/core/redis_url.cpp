#include "kiva/core/redis_url.hpp"

#include <charconv>
#include <stdexcept>

namespace kiva::cache {

namespace {

int number(std::string_view text, int low, int high, const char* what) {
    int n = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size() || n < low ||
        n > high)
        throw std::invalid_argument("cache: " + std::string(what) + " must be a number from " +
                                    std::to_string(low) + " to " + std::to_string(high) +
                                    ", not \"" + std::string(text) + "\"");
    return n;
}

constexpr int max_db = 9999;

}  // namespace

std::string RedisUrl::text() const {
    if (!socket.empty()) return "unix:" + socket + "?db=" + std::to_string(db);
    bool v6 = host.find(':') != std::string::npos;
    return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port) + "/" + std::to_string(db);
}

RedisUrl parse_redis_url(std::string_view url) {
    RedisUrl r;
    if (url.substr(0, 5) == "unix:") {
        std::string_view rest = url.substr(5);
        auto query = rest.find('?');
        r.socket = std::string(rest.substr(0, query));
        if (r.socket.empty() || r.socket.front() != '/')
            throw std::invalid_argument("cache: unix: needs an absolute socket path");
        if (query != std::string_view::npos) {
            std::string_view q = rest.substr(query + 1);
            if (q.substr(0, 3) != "db=")
                throw std::invalid_argument("cache: after the socket path only ?db=N");
            r.db = number(q.substr(3), 0, max_db, "the database");
        }
        return r;
    }
    if (url.substr(0, 8) != "redis://")
        throw std::invalid_argument("cache must be redis://host:port/db or unix:/path?db=N, not \"" +
                                    std::string(url) + "\"");
    std::string_view rest = url.substr(8);
    auto slash = rest.find('/');
    std::string_view authority = rest.substr(0, slash);
    if (authority.find('@') != std::string_view::npos)
        throw std::invalid_argument(
            "cache: no credentials in the URL, put the password in cache_password_file");
    std::string_view port;
    if (!authority.empty() && authority.front() == '[') {
        auto close = authority.find(']');
        if (close == std::string_view::npos)
            throw std::invalid_argument("cache: unclosed [ in the host");
        r.host = std::string(authority.substr(1, close - 1));
        std::string_view after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') throw std::invalid_argument("cache: expected :port after ]");
            port = after.substr(1);
        }
    } else {
        auto colon = authority.find(':');
        r.host = std::string(authority.substr(0, colon));
        if (colon != std::string_view::npos) port = authority.substr(colon + 1);
    }
    if (r.host.empty()) throw std::invalid_argument("cache: the URL names no host");
    if (!port.empty() || authority.back() == ':') r.port = number(port, 1, 65535, "the port");
    if (slash != std::string_view::npos) {
        std::string_view db = rest.substr(slash + 1);
        if (!db.empty()) r.db = number(db, 0, max_db, "the database");
    }
    return r;
}

}  // namespace kiva::cache
