#pragma once
/// @file
/// RevocationCache: the process's memory of revocation verdicts (was this token revoked?)
/// and credential generations (when did this login's password last change?), so that a
/// Bearer or cookie check costs no round trip. The database stays the truth: logout and
/// password changes send a notification from their transaction (pg_notify, delivered on
/// commit only) on channel `kiva_auth`, and every process LISTENs to it on a connection of
/// its own (db::NotificationListener) and forgets the verdicts it names.
///
/// Staleness is bounded even under faults:
/// - the cache answers only while the channel is up: a lost channel (connection dropped,
///   server restarted, failover) empties it, and it is bypassed until LISTEN is back;
/// - it answers only while the server was heard within 2 x `check` (a ping every `check`):
///   a channel that went silent without a reset is distrusted at once by every lookup, even
///   before the listener thread notices;
/// - each verdict is used at most `max_age` after it was read;
/// - a verdict read while a notification (or a loss) arrived is not kept.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <vector>
#include <cstdint>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "kiva/core/log.hpp"

namespace kiva::db {
class NotificationListener;
}

namespace kiva {

class RevocationCache {
  public:
    using Clock = std::chrono::steady_clock;
    /// The notification channel of revocations and credential changes (framework/sql/queries.sql).
    static constexpr const char* channel = "kiva_auth";
    /// At most this many tokens (and as many logins) remembered: past it, everything is forgotten.
    static constexpr std::size_t max_entries = 100000;

    RevocationCache(std::chrono::seconds max_age, std::chrono::milliseconds check);
    ~RevocationCache();

    struct Verdict {
        bool revoked = false;
        std::int64_t generation = 0;  ///< microseconds since 1970 of the last password change; 0: never
    };
    /// The remembered verdict of the token (by digest) of login, when the cache may answer.
    std::optional<Verdict> find(std::string_view digest, std::string_view login) const;
    /// Taken before reading a verdict from the database (or Redis); remember() keeps the
    /// verdict only if nothing was invalidated since.
    std::uint64_t ticket() const { return invalidations_.load(std::memory_order_acquire); }
    void remember(std::uint64_t ticket, std::string_view digest, std::string_view login,
                  Verdict verdict);

    // --- the channel's events (the listener's thread; tests call them directly) ---
    void up();
    void down();
    void heard();
    /// "t:<digest>": that token's verdict; "c:<login>": that login's generation; else all.
    void message(std::string_view payload);
    /// The same, by the process that made the change, right after its commit.
    void forget(std::string_view payload);

    /// A writer's own notification, awaited: expect() before the commit, await() after it
    /// returns once this process's channel delivered it, the channel is down, or
    /// `await_limit` passed.
    struct Expectation {
        std::string payload;
        bool arrived = false;
    };
    static constexpr std::chrono::milliseconds await_limit{100};
    std::shared_ptr<Expectation> expect(std::string payload);
    void await(const std::shared_ptr<Expectation>& expectation);

    /// Starts listening on a connection of its own to conninfo (the request connections'):
    /// one thread per process, started after any fork. Stops with the cache.
    void listen(const std::string& conninfo, const std::string& app_name, const Logger& log);

    /// Verdicts served from memory and read from the store since the start.
    std::uint64_t hits() const { return hits_.load(std::memory_order_relaxed); }
    std::uint64_t misses() const { return misses_.load(std::memory_order_relaxed); }
    bool live() const;

  private:
    struct TokenEntry {
        bool revoked;
        Clock::time_point read_at;
    };
    struct LoginEntry {
        std::int64_t generation;
        Clock::time_point read_at;
    };
    /// Empties both maps and refuses in-flight reads (the unique lock is held).
    void forget_all();

    std::chrono::seconds max_age_;
    std::chrono::milliseconds check_;
    mutable std::shared_mutex mutex_;
    bool up_ = false;
    std::atomic<std::int64_t> last_heard_{0};  ///< Clock ticks
    std::atomic<std::uint64_t> invalidations_{0};
    std::unordered_map<std::string, TokenEntry> tokens_;
    std::unordered_map<std::string, LoginEntry> logins_;
    mutable std::atomic<std::uint64_t> hits_{0}, misses_{0};
    std::mutex await_mutex_;
    std::condition_variable arrived_;
    std::vector<std::weak_ptr<Expectation>> expected_;
    std::unique_ptr<db::NotificationListener> listener_;
};

}  // namespace kiva
