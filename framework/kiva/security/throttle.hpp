#pragma once
/// @file
/// Throttle: brute-force protection of password checks, shared by every process and host
/// through the database (table AuthFailure). Before a password is checked, a locked login
/// or client address is refused with 429 and Retry-After, without bcrypt; each failure is
/// counted for both and committed at once (the request itself is rolled back); a success
/// that was not answered from the password cache deletes the login's count.
/// With a shared cache (option cache), the counters and locks live in Redis instead, with
/// the same semantics, and the password cache's answer comes in the same round trip; when
/// Redis is unavailable, the database's counters take over.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kiva/core/config.hpp"

namespace kiva::db {
class Database;
}

namespace kiva {

struct SecurityScope;

/// How long a key with `failures` consecutive failures is locked: nothing below
/// `threshold`, then `delay`, doubled at each further failure, at most `cap`.
std::chrono::seconds lockout_delay(int failures, int threshold, std::chrono::seconds delay,
                                   std::chrono::seconds cap);

/// The client's address: REMOTE_ADDR, or when that is a trusted proxy, the rightmost
/// X-Forwarded-For entry that is not itself a trusted proxy.
std::string client_address(std::string_view remote_addr, std::string_view forwarded_for,
                           const std::vector<std::string>& trusted_proxies);

class Throttle {
  public:
    explicit Throttle(const Config& config);

    /// What a password check must know before it starts.
    struct State {
        std::string address;
        /// Seconds until the login or the address is free again; nullopt: not locked.
        std::optional<int> retry_after;
        /// The login has failures counted (a success must reset them).
        bool login_failed_before = false;
        /// When the login's password last changed (microseconds, 0: never), for the cache.
        std::int64_t credentials_generation = 0;
        /// Answered by the shared cache (Redis), which also said whether the password is
        /// known good; false: by the database, the in-process cache decides.
        bool shared = false;
        bool known_good = false;
    };
    State state(SecurityScope& c, std::string_view login, std::string_view password) const;
    /// Counts a failure for the login and the address, locks what went over its threshold,
    /// and commits (the request's own transaction is rolled back later).
    void failed(SecurityScope& c, std::string_view login, const State& s) const;
    /// A good password: the login's count starts again (only when it had one).
    void succeeded(SecurityScope& c, std::string_view login, const State& s) const;
    /// Remembers a good check (shared when the state came from the shared cache).
    void remember(SecurityScope& c, std::string_view login, std::string_view password,
                  const State& s) const;

    bool enabled() const { return enabled_; }

  private:
    std::optional<State> shared_state(SecurityScope& c, std::string_view login,
                                      std::string_view password, std::string address) const;
    /// The lock of a key with this many failures (0: none).
    std::chrono::seconds lock_for(long long failures, bool is_login) const;

    bool enabled_;
    int max_failures_;
    int max_address_failures_;
    std::chrono::seconds delay_;
    std::chrono::seconds cap_;
    std::vector<std::string> trusted_proxies_;
};

}  // namespace kiva
