#include "kiva/testing/http_client.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <strings.h>
#include <cerrno>
#include <cstring>
#include <memory>
#include <stdexcept>

namespace kiva::testing {

namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void fail(const std::string& what) {
    throw std::runtime_error("http client: " + what);
}

std::string tls_error() {
    unsigned long e = ERR_get_error();
    char text[256] = "unknown TLS error";
    if (e) ERR_error_string_n(e, text, sizeof text);
    ERR_clear_error();
    return text;
}

/// A connected socket, TLS or not, whose reads and writes end at a deadline.
class Connection {
  public:
    Connection(const Url& url, Clock::time_point deadline, const Tls& tls) : deadline_(deadline) {
        connect_tcp(url);
        if (url.tls) start_tls(url, tls);
    }
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    void write_all(std::string_view data) {
        while (!data.empty()) {
            wait(POLLOUT);
            long n = ssl_ ? SSL_write(ssl_, data.data(), static_cast<int>(data.size()))
                          : ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
            if (n <= 0) {
                if (retry(n)) continue;
                fail("cannot send the request: " + (ssl_ ? tls_error() : std::strerror(errno)));
            }
            data.remove_prefix(static_cast<std::size_t>(n));
        }
    }

    /// Everything until the server closes the connection.
    std::string read_all() {
        std::string out;
        char buffer[16384];
        for (;;) {
            if (!ssl_ || SSL_pending(ssl_) == 0) wait(POLLIN);
            long n = ssl_ ? SSL_read(ssl_, buffer, sizeof buffer)
                          : ::recv(fd_, buffer, sizeof buffer, 0);
            if (n > 0) {
                out.append(buffer, static_cast<std::size_t>(n));
                continue;
            }
            if (n == 0 ||
                (ssl_ && SSL_get_error(ssl_, static_cast<int>(n)) == SSL_ERROR_ZERO_RETURN))
                return out;
            if (retry(n)) continue;
            // A server that closes without close_notify: what was read is the answer.
            if (ssl_ && SSL_get_error(ssl_, static_cast<int>(n)) == SSL_ERROR_SYSCALL) return out;
            fail("cannot read the answer: " + (ssl_ ? tls_error() : std::strerror(errno)));
        }
    }

  private:
    void connect_tcp(const Url& url) {
        addrinfo hints{};
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        addrinfo* found = nullptr;
        if (int e = getaddrinfo(url.host.c_str(), url.port.c_str(), &hints, &found))
            fail("cannot resolve " + url.host + ": " + gai_strerror(e));
        std::unique_ptr<addrinfo, void (*)(addrinfo*)> list(found, freeaddrinfo);
        std::string why = "no address";
        for (auto* a = found; a; a = a->ai_next) {
            fd_ =
                socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
            if (fd_ < 0) continue;
            if (::connect(fd_, a->ai_addr, a->ai_addrlen) == 0 || errno == EINPROGRESS) {
                try {
                    wait(POLLOUT);
                    int error = 0;
                    socklen_t length = sizeof error;
                    getsockopt(fd_, SOL_SOCKET, SO_ERROR, &error, &length);
                    if (error == 0) return;
                    why = std::strerror(error);
                } catch (const std::runtime_error& e) {
                    why = e.what();
                }
            } else {
                why = std::strerror(errno);
            }
            close(fd_);
            fd_ = -1;
        }
        fail("cannot connect to " + url.host + ":" + url.port + ": " + why);
    }

    void start_tls(const Url& url, const Tls& tls) {
        ctx_holder_.reset(ctx_ = SSL_CTX_new(TLS_client_method()));
        if (!ctx_) fail("TLS: " + tls_error());
        // The answer's end is known from its length or its chunks (or Connection: close), so a
        // server that closes without close_notify is not an error here.
        SSL_CTX_set_options(ctx_, SSL_OP_IGNORE_UNEXPECTED_EOF);
        if (tls.verify) {
            SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
            SSL_CTX_set_default_verify_paths(ctx_);
            if (!tls.ca_file.empty() &&
                SSL_CTX_load_verify_locations(ctx_, tls.ca_file.c_str(), nullptr) != 1)
                fail("TLS: cannot load " + tls.ca_file + ": " + tls_error());
        }
        ssl_holder_.reset(ssl_ = SSL_new(ctx_));
        if (!ssl_ || SSL_set_fd(ssl_, fd_) != 1) fail("TLS: " + tls_error());
        SSL_set_tlsext_host_name(ssl_, url.host.c_str());
        if (tls.verify) SSL_set1_host(ssl_, url.host.c_str());
        for (;;) {
            int r = SSL_connect(ssl_);
            if (r == 1) return;
            if (!retry(r)) fail("TLS handshake with " + url.host + ": " + tls_error());
        }
    }

    /// After a failed read or write: waits as the socket or TLS asks and says to try again.
    bool retry(long n) {
        if (ssl_) {
            int e = SSL_get_error(ssl_, static_cast<int>(n));
            if (e == SSL_ERROR_WANT_READ) return wait(POLLIN), true;
            if (e == SSL_ERROR_WANT_WRITE) return wait(POLLOUT), true;
            return false;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return true;
        return false;
    }

    void wait(short events) {
        for (;;) {
            auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - Clock::now());
            if (left.count() <= 0) fail("timed out");
            pollfd p{fd_, events, 0};
            int r = poll(&p, 1, static_cast<int>(left.count()));
            if (r > 0) return;
            if (r < 0 && errno != EINTR) fail(std::string("poll: ") + std::strerror(errno));
        }
    }

    /// Owners, so that all is freed even when the constructor throws (a refused certificate);
    /// ssl_ and ctx_ are their plain pointers.
    struct FreeTls {
        void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
        void operator()(SSL* ssl) const { SSL_free(ssl); }
    };
    struct Socket {
        int fd = -1;
        ~Socket() {
            if (fd >= 0) close(fd);
        }
    };

    Clock::time_point deadline_;
    Socket socket_;
    int& fd_ = socket_.fd;
    // Destroyed in reverse: the SSL, then its context, then the socket.
    std::unique_ptr<SSL_CTX, FreeTls> ctx_holder_;
    std::unique_ptr<SSL, FreeTls> ssl_holder_;
    SSL_CTX* ctx_ = nullptr;
    SSL* ssl_ = nullptr;
};

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

std::string_view header_of(const Headers& headers, std::string_view name) {
    for (const auto& [n, v] : headers)
        if (iequals(n, name)) return v;
    return {};
}

std::string trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
        s.remove_suffix(1);
    return std::string(s);
}

std::string unchunk(std::string_view body) {
    std::string out;
    for (;;) {
        auto eol = body.find("\r\n");
        if (eol == std::string_view::npos) fail("truncated chunked body");
        std::size_t size = std::stoul(std::string(body.substr(0, eol)), nullptr, 16);
        body.remove_prefix(eol + 2);
        if (size == 0) return out;
        if (body.size() < size + 2) fail("truncated chunked body");
        out.append(body.substr(0, size));
        body.remove_prefix(size + 2);
    }
}

}  // namespace

HttpAnswer parse_answer(std::string_view raw, bool bodyless) {
    auto end = raw.find("\r\n\r\n");
    if (end == std::string_view::npos)
        fail("no complete answer (" + std::to_string(raw.size()) + " bytes)");
    std::string_view head = raw.substr(0, end);
    std::string_view body = raw.substr(end + 4);
    HttpAnswer answer;
    auto eol = head.find("\r\n");
    std::string_view status_line = head.substr(0, eol);
    if (status_line.substr(0, 5) != "HTTP/" || status_line.size() < 12)
        fail("bad status line: " + std::string(status_line));
    answer.status = std::stoi(std::string(status_line.substr(9, 3)));
    head = eol == std::string_view::npos ? std::string_view{} : head.substr(eol + 2);
    while (!head.empty()) {
        eol = head.find("\r\n");
        std::string_view line = head.substr(0, eol);
        auto colon = line.find(':');
        if (colon != std::string_view::npos)
            answer.headers.emplace_back(trim(line.substr(0, colon)), trim(line.substr(colon + 1)));
        head = eol == std::string_view::npos ? std::string_view{} : head.substr(eol + 2);
    }
    if (bodyless || answer.status == 204 || answer.status == 304) {
        return answer;
    } else if (iequals(header_of(answer.headers, "Transfer-Encoding"), "chunked")) {
        answer.body = unchunk(body);
    } else if (auto length = header_of(answer.headers, "Content-Length"); !length.empty()) {
        std::size_t n = std::stoul(std::string(length));
        if (body.size() < n) fail("truncated body");
        answer.body = body.substr(0, n);
    } else {
        answer.body = body;
    }
    return answer;
}

Url parse_url(std::string_view text) {
    Url url;
    if (text.starts_with("https://")) {
        url.tls = true;
        text.remove_prefix(8);
    } else if (text.starts_with("http://")) {
        text.remove_prefix(7);
    } else {
        throw std::invalid_argument("not an http:// or https:// URL: " + std::string(text));
    }
    auto slash = text.find('/');
    std::string_view authority = text.substr(0, slash);
    url.prefix = slash == std::string_view::npos ? "" : std::string(text.substr(slash));
    while (!url.prefix.empty() && url.prefix.back() == '/') url.prefix.pop_back();
    if (authority.starts_with('[')) {  // [::1]:8080
        auto close = authority.find(']');
        if (close == std::string_view::npos) throw std::invalid_argument("bad IPv6 address in URL");
        url.host = authority.substr(1, close - 1);
        authority.remove_prefix(close + 1);
        if (authority.starts_with(':')) url.port = authority.substr(1);
    } else {
        auto colon = authority.find(':');
        url.host = authority.substr(0, colon);
        if (colon != std::string_view::npos) url.port = authority.substr(colon + 1);
    }
    if (url.host.empty()) throw std::invalid_argument("no host in URL");
    if (url.port.empty()) url.port = url.tls ? "443" : "80";
    return url;
}

HttpAnswer http_send(const Url& url, const HttpExchange& request, std::chrono::milliseconds timeout,
                     const Tls& tls) {
    Connection connection(url, Clock::now() + timeout, tls);
    std::string host = url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
    if (url.port != (url.tls ? "443" : "80")) host += ":" + url.port;
    std::string head = request.method + " " + url.prefix + request.target +
                       " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n";
    if (!request.body.empty() || (request.method != "GET" && request.method != "HEAD"))
        head += "Content-Length: " + std::to_string(request.body.size()) + "\r\n";
    for (const auto& [name, value] : request.headers) head += name + ": " + value + "\r\n";
    connection.write_all(head + "\r\n" + request.body);
    return parse_answer(connection.read_all(), request.method == "HEAD");
}

}  // namespace kiva::testing
