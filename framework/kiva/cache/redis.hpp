#pragma once
/// @file
/// Redis: a small pool of hiredis connections to the shared cache, with timeouts on connect
/// and on every command, and a back-off after a failure: while Redis is known to be
/// unreachable, reads are not even tried (one attempt per second and process), so a dead or
/// frozen Redis costs a request nothing but the fallback it takes anyway.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kiva/core/redis_url.hpp"

struct redisContext;

namespace kiva::cache {

/// One reply, copied out of hiredis's.
struct Reply {
    enum class Type { nil, string, integer, status, error, array } type = Type::nil;
    std::string text;  ///< string, status or error
    long long integer = 0;
    std::vector<Reply> elements;

    bool nil() const { return type == Type::nil; }
};

/// One command: its words, sent as binary-safe arguments (no quoting, no injection).
using Command = std::vector<std::string>;

/// A connection: connected, authenticated and on its database, or the constructor throws.
class Connection {
  public:
    Connection(const RedisUrl& url, const std::string& password, std::chrono::milliseconds timeout);
    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    /// The commands pipelined, their replies in order; throws std::runtime_error when the
    /// connection fails or times out (it is then unusable). An error reply is a Reply.
    std::vector<Reply> run(const std::vector<Command>& commands);
    /// The server's run_id (INFO server): it changes when Redis restarts.
    const std::string& run_id() const { return run_id_; }

  private:
    redisContext* context_ = nullptr;
    std::string run_id_;
};

/// What happened to one use of the cache, for the metrics.
enum class Outcome { ok, error, skipped };

class Redis {
  public:
    /// Told each outcome (op is a fixed label: password, throttle, token, revocation) and,
    /// for an error, why (never a command's arguments).
    using Observer = std::function<void(std::string_view op, Outcome, std::string_view why)>;
    Redis(RedisUrl url, std::string password, std::chrono::milliseconds timeout);
    ~Redis();
    Redis(const Redis&) = delete;
    Redis& operator=(const Redis&) = delete;

    void observe(Observer f) { observer_ = std::move(f); }

    /// The replies and the run_id of the server that gave them; nullopt when Redis is
    /// unavailable (an error, a timeout, or the back-off after one). force: try even while
    /// backing off (writes that must reach Redis if they can).
    struct Result {
        std::vector<Reply> replies;
        std::string run_id;
    };
    std::optional<Result> run(std::string_view op, const std::vector<Command>& commands,
                              bool force = false) const;
    /// The same with commands made for the connection's server (values tagged with its run_id).
    using Builder = std::function<std::vector<Command>(const std::string& run_id)>;
    std::optional<Result> run(std::string_view op, const Builder& commands, bool force = false) const;

    const RedisUrl& url() const { return url_; }

  private:
    std::unique_ptr<Connection> take() const;
    void give_back(std::unique_ptr<Connection> c) const;

    const RedisUrl url_;
    std::string password_;  // not const: wiped by the destructor
    const std::chrono::milliseconds timeout_;
    Observer observer_;
    mutable std::mutex mutex_;
    mutable std::vector<std::unique_ptr<Connection>> idle_;
    /// Steady-clock nanoseconds before which reads are not tried (0: Redis looked fine).
    mutable std::atomic<std::int64_t> retry_at_{0};
};

}  // namespace kiva::cache
