#include "kiva/testing/connection.hpp"

#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace kiva::testing {

namespace {

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

}  // namespace

void Connection::FreeTls::operator()(ssl_ctx_st* ctx) const {
    SSL_CTX_free(ctx);
}
void Connection::FreeTls::operator()(ssl_st* ssl) const {
    SSL_free(ssl);
}

Connection::Connection(const Url& url, Clock::time_point deadline, const Tls& tls)
    : deadline_(deadline) {
    try {
        connect_tcp(url);
        if (url.tls) start_tls(url, tls);
    } catch (...) {
        ssl_.reset();
        if (fd_ >= 0) close(fd_);
        throw;
    }
}

Connection::~Connection() {
    ssl_.reset();
    if (fd_ >= 0) close(fd_);
}

std::string Connection::error_text() const {
    return ssl_ ? tls_error() : std::strerror(errno);
}

void Connection::write_all(std::string_view data) {
    while (!data.empty()) {
        wait(POLLOUT);
        long n = ssl_ ? SSL_write(ssl_.get(), data.data(), static_cast<int>(data.size()))
                      : ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
        if (n <= 0) {
            if (retry(n)) continue;
            fail("cannot send the request: " + error_text());
        }
        data.remove_prefix(static_cast<std::size_t>(n));
    }
}

std::string Connection::read_all() {
    std::string out;
    char buffer[16384];
    for (;;) {
        if (!ssl_ || SSL_pending(ssl_.get()) == 0) wait(POLLIN);
        long n = ssl_ ? SSL_read(ssl_.get(), buffer, sizeof buffer)
                      : ::recv(fd_, buffer, sizeof buffer, 0);
        if (n > 0) {
            out.append(buffer, static_cast<std::size_t>(n));
            continue;
        }
        if (n == 0) return out;
        if (ssl_) {
            int e = SSL_get_error(ssl_.get(), static_cast<int>(n));
            // The end, with or without close_notify: what was read is the answer.
            if (e == SSL_ERROR_ZERO_RETURN || e == SSL_ERROR_SYSCALL) return out;
        }
        if (retry(n)) continue;
        fail("cannot read the answer: " + error_text());
    }
}

void Connection::connect_tcp(const Url& url) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    if (int e = getaddrinfo(url.host.c_str(), url.port.c_str(), &hints, &found))
        fail("cannot resolve " + url.host + ": " + gai_strerror(e));
    std::unique_ptr<addrinfo, void (*)(addrinfo*)> list(found, freeaddrinfo);
    std::string why = "no address";
    for (auto* a = found; a; a = a->ai_next) {
        fd_ = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
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

void Connection::start_tls(const Url& url, const Tls& tls) {
    ctx_.reset(SSL_CTX_new(TLS_client_method()));
    if (!ctx_) fail("TLS: " + tls_error());
    // The answer's end is known from its length or its chunks (or Connection: close), so a
    // server that closes without close_notify is not an error here.
    SSL_CTX_set_options(ctx_.get(), SSL_OP_IGNORE_UNEXPECTED_EOF);
    if (tls.verify) {
        SSL_CTX_set_verify(ctx_.get(), SSL_VERIFY_PEER, nullptr);
        SSL_CTX_set_default_verify_paths(ctx_.get());
        if (!tls.ca_file.empty() &&
            SSL_CTX_load_verify_locations(ctx_.get(), tls.ca_file.c_str(), nullptr) != 1)
            fail("TLS: cannot load " + tls.ca_file + ": " + tls_error());
    }
    ssl_.reset(SSL_new(ctx_.get()));
    if (!ssl_ || SSL_set_fd(ssl_.get(), fd_) != 1) fail("TLS: " + tls_error());
    SSL_set_tlsext_host_name(ssl_.get(), url.host.c_str());
    if (tls.verify) SSL_set1_host(ssl_.get(), url.host.c_str());
    for (;;) {
        int r = SSL_connect(ssl_.get());
        if (r == 1) return;
        if (!retry(r)) fail("TLS handshake with " + url.host + ": " + tls_error());
    }
}

bool Connection::retry(long n) {
    if (ssl_) {
        int e = SSL_get_error(ssl_.get(), static_cast<int>(n));
        if (e == SSL_ERROR_WANT_READ) return wait(POLLIN), true;
        if (e == SSL_ERROR_WANT_WRITE) return wait(POLLOUT), true;
        return false;
    }
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR);
}

void Connection::wait(short events) {
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - Clock::now());
        if (left.count() <= 0) fail("timed out");
        pollfd p{fd_, events, 0};
        int r = poll(&p, 1, static_cast<int>(left.count()));
        if (r > 0) return;
        if (r < 0 && errno != EINTR) fail(std::string("poll: ") + std::strerror(errno));
    }
}

}  // namespace kiva::testing
