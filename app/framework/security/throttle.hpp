#pragma once
/// @file
/// Throttle: brute-force protection of password checks, shared by every process and host
/// through the database (table AuthFailure). Before a password is checked, a locked login
/// or client address is refused with 429 and Retry-After, without bcrypt; each failure is
/// counted for both and committed at once (the request itself is rolled back); a success
/// that was not answered from the password cache deletes the login's count.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "framework/server/config.hpp"

namespace kiva::db {
class Database;
}

namespace kiva {

struct Context;

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
    };
    State state(Context& c, std::string_view login) const;
    /// Counts a failure for the login and the address, locks what went over its threshold,
    /// and commits (the request's own transaction is rolled back later).
    void failed(Context& c, std::string_view login, const State& s) const;
    /// A good password: the login's count starts again (only when it had one).
    void succeeded(Context& c, std::string_view login, const State& s) const;

    bool enabled() const { return enabled_; }

  private:
    bool enabled_;
    int max_failures_;
    int max_address_failures_;
    std::chrono::seconds delay_;
    std::chrono::seconds cap_;
    std::vector<std::string> trusted_proxies_;
};

}  // namespace kiva
