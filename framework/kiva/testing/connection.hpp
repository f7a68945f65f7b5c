#pragma once
/// @file
/// One connection of the URL mode's HTTP client: TCP, then TLS for https://, every step
/// (connect, handshake, each read and write) ending at the request's deadline.

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "kiva/testing/http_client.hpp"

struct ssl_st;      // OpenSSL's SSL
struct ssl_ctx_st;  // OpenSSL's SSL_CTX

namespace kiva::testing {

class Connection {
  public:
    using Clock = std::chrono::steady_clock;

    /// Connects (and, for https, checks the server as tls says); throws std::runtime_error
    /// when it cannot or when the deadline passes.
    Connection(const Url& url, Clock::time_point deadline, const Tls& tls);
    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    void write_all(std::string_view data);
    /// Everything until the server closes the connection.
    std::string read_all();

  private:
    void connect_tcp(const Url& url);
    void start_tls(const Url& url, const Tls& tls);
    /// After a failed read or write: waits as the socket or TLS asks and says to try again.
    bool retry(long n);
    void wait(short events);
    std::string error_text() const;

    struct FreeTls {
        void operator()(ssl_ctx_st* ctx) const;
        void operator()(ssl_st* ssl) const;
    };

    Clock::time_point deadline_;
    int fd_ = -1;
    // Freed even when the constructor throws (a refused certificate), the SSL first.
    std::unique_ptr<ssl_ctx_st, FreeTls> ctx_;
    std::unique_ptr<ssl_st, FreeTls> ssl_;
};

}  // namespace kiva::testing
