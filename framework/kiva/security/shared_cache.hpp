#pragma once
/// @file
/// SharedCache: the authentication state that every process and host of an instance shares
/// through Redis when `cache` is set: good password checks, throttling counters, and the
/// verdicts that make the per-request revocation check cheap. PostgreSQL stays the source
/// of truth for revocations and password changes; every read here returns nullopt when
/// Redis is unavailable, and the caller then does what it does without a cache.
///
/// Why a revoked token or an old password is never accepted because of Redis:
///  - A fact that refuses ("revoked") is trusted whenever it is there. An absence is never
///    trusted: "not revoked" and "the password last changed at G" are verdicts read from
///    PostgreSQL and kept for verdict_ttl only, tagged with the run_id of the Redis server
///    that was asked before the read. A restarted Redis (empty, or from an older snapshot)
///    has another run_id: every verdict it holds is ignored and read again.
///  - Readers write verdicts with NX and an absolute expiry from their read's start, so a
///    reader that read before a change can neither overwrite the writer's newer verdict
///    nor keep its own past verdict_ttl after its read, however late its write arrives.
///  - A writer (logout, password change) commits to PostgreSQL first, then writes Redis,
///    trying even while backing off. When that fails, it waits unsynced_wait (verdict_ttl
///    and a margin for clocks) before it answers: by then every verdict made before its
///    commit has expired, and later reads see the change in PostgreSQL.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "kiva/security/cache_keys.hpp"
#include "kiva/cache/redis.hpp"

namespace kiva {
struct Config;
class Logger;
namespace observe {
class Metrics;
}
}  // namespace kiva

namespace kiva::cache {

/// How long a verdict read from PostgreSQL is trusted in Redis.
constexpr std::chrono::milliseconds verdict_ttl{1000};
/// What a writer that could not reach Redis waits before it answers.
constexpr std::chrono::milliseconds unsynced_wait{2000};

/// A login's credentials generation is when its password last changed (microseconds since
/// 1970, 0: never), as CredentialChange says.
class SharedCache {
  public:
    /// Reads cache_password_file; throws std::runtime_error. Does not connect yet.
    SharedCache(const Config& config, std::string_view realm, std::string_view hmac_key,
                const Logger& log);
    ~SharedCache();
    SharedCache(const SharedCache&) = delete;
    SharedCache& operator=(const SharedCache&) = delete;

    void observe(observe::Metrics* metrics) { metrics_ = metrics; }
    const RedisUrl& url() const { return redis_->url(); }

    // --- password checks (one round trip before the check) ---
    struct Login {
        std::optional<int> retry_after;  ///< seconds until the login or address is free
        bool failed_before = false;      ///< the login has failures counted
        std::optional<std::int64_t> generation;  ///< a trusted verdict, when there is one
        std::optional<std::int64_t> remembered;  ///< the generation this password was good under
        std::string run_id;
        /// This password is known good under the login's current generation.
        bool known_good() const { return generation && remembered == generation; }
    };
    std::optional<Login> login(std::string_view login, std::string_view address,
                               std::string_view password) const;
    /// The generation read from PostgreSQL at read_at, kept as a verdict (see above).
    void remember_generation(std::string_view login, std::int64_t generation,
                             std::chrono::system_clock::time_point read_at,
                             const std::string& run_id) const;
    void remember_password(std::string_view login, std::string_view password,
                           std::int64_t generation, std::chrono::seconds ttl) const;

    // --- throttling ---
    struct Counts {
        long long login = 0, address = 0;
    };
    /// One more failure for both; a count expires `window` after its last failure.
    std::optional<Counts> count_failure(std::string_view login, std::string_view address,
                                        std::chrono::seconds window) const;
    /// Locks what must be (0: not that one); false when Redis did not take it.
    bool lock(std::string_view login, std::chrono::seconds login_lock, std::string_view address,
              std::chrono::seconds address_lock) const;
    bool reset_failures(std::string_view login) const;

    // --- rate limits (kiva/security/rate_limit) ---
    /// One more request of a rate limit's window (key: route, client and window, hashed),
    /// which expires with the window; its count, or nullopt when Redis did not answer.
    std::optional<long long> count_request(std::string_view key, std::uint32_t seconds) const;

    // --- tokens ---
    struct Token {
        bool revoked = false;
        std::optional<std::int64_t> generation;  ///< a trusted verdict
        bool not_revoked = false;                ///< a trusted verdict
        std::string run_id;
    };
    std::optional<Token> token(std::string_view digest, std::string_view login) const;
    /// What PostgreSQL said at read_at about a token expiring at expiry (seconds since 1970).
    void remember_token(std::string_view digest, std::string_view login, bool revoked,
                        std::int64_t generation, std::int64_t expiry,
                        std::chrono::system_clock::time_point read_at,
                        const std::string& run_id) const;

    // --- writers, after their commit: false when Redis did not take it ---
    bool revoked(std::string_view digest, std::int64_t expiry) const;
    bool credentials_changed(std::string_view login, std::int64_t generation) const;

  private:
    std::string password_key(std::string_view login, std::string_view password) const;
    void outcome(std::string_view op, Outcome o, std::string_view why) const;

    const Logger& log_;
    Keys keys_;
    std::string hmac_key_;  // not const: wiped by the destructor
    std::unique_ptr<Redis> redis_;
    observe::Metrics* metrics_ = nullptr;
    mutable std::atomic<bool> down_{false};
};

/// The shared cache of a configuration, or nullptr when `cache` is empty.
std::unique_ptr<SharedCache> make_shared_cache(const Config& config, std::string_view realm,
                                               std::string_view hmac_key, const Logger& log);

}  // namespace kiva::cache
