#pragma once
/// @file
/// A plain HTTP/1.1 client for the URL mode of the test client: one connection per request
/// (Connection: close), over TCP for http:// and over OpenSSL for https://, every step bounded
/// by the request's timeout. Enough for tests, not for production.

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kiva::testing {

using Headers = std::vector<std::pair<std::string, std::string>>;

/// http[s]://host[:port][/prefix]: where the application is mounted.
struct Url {
    bool tls = false;
    std::string host;
    std::string port;
    /// The mount point without its trailing slash ("/api"), or "".
    std::string prefix;
};

/// Throws std::invalid_argument for anything but http[s]://host[:port][/path].
Url parse_url(std::string_view text);

/// How https:// servers are checked: the system's CAs, plus ca_file when given (a test
/// stack's own certificate); verify=false accepts any certificate (KIVA_TEST_INSECURE=1).
struct Tls {
    bool verify = true;
    std::string ca_file;
};

struct HttpExchange {
    std::string method;
    /// The path and query below the mount point ("/items?x=1").
    std::string target;
    Headers headers;
    std::string body;
};

struct HttpAnswer {
    int status = 0;
    Headers headers;
    std::string body;
};

/// An answer as read from the connection (status line, headers, a body chunked, sized or up
/// to the end; none for HEAD, 204, 304); throws std::runtime_error when it is malformed.
HttpAnswer parse_answer(std::string_view raw, bool bodyless = false);

/// Sends the request and reads the whole answer (chunked or not) within timeout; throws
/// std::runtime_error on a connection, TLS or protocol error, or when the time is up.
HttpAnswer http_send(const Url& url, const HttpExchange& request, std::chrono::milliseconds timeout,
                     const Tls& tls = {});

}  // namespace kiva::testing
