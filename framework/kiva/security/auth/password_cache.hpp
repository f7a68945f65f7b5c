#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace kiva::auth {

/// Remembers successful password checks for a while, so that a client sending Basic
/// credentials on every request does not pay for bcrypt each time. Only good passwords are
/// remembered (nothing is cached as bad), and never the password itself: entries are keyed
/// by login and an HMAC of the password under a random key private to this instance.
/// Thread-safe; lookups only take a shared lock.
class PasswordCache {
  public:
    /// ttl == 0 disables the cache. max_entries bounds memory: when the cache is full, expired
    /// entries are dropped first, then the one expiring soonest.
    explicit PasswordCache(std::chrono::seconds ttl, std::size_t max_entries = 10000);
    ~PasswordCache();
    PasswordCache(const PasswordCache&) = delete;
    PasswordCache& operator=(const PasswordCache&) = delete;

    /// True when (login, password) was remembered as good less than ttl ago, under the same
    /// credentials generation (when the login's password last changed, as the database says:
    /// an entry remembered under another one is stale, whichever process changed it).
    bool known_good(std::string_view login, std::string_view password,
                    std::chrono::steady_clock::time_point now, std::int64_t generation = 0) const;

    /// Remember (login, password) as good until now + ttl, under that generation.
    void remember(std::string_view login, std::string_view password,
                  std::chrono::steady_clock::time_point now, std::int64_t generation = 0);

    /// Forget every entry of a login (e.g. after a password change).
    void forget(std::string_view login);

    /// The number of entries, expired ones included until they are dropped.
    std::size_t size() const;

  private:
    using time_point = std::chrono::steady_clock::time_point;
    struct Entry {
        time_point expiry;
        std::int64_t generation;
    };

    bool enabled() const;
    std::string entry_key(std::string_view login, std::string_view password) const;
    void make_room(time_point now);

    const std::chrono::seconds ttl_;
    const std::size_t max_entries_;
    std::string hmac_key_;  // not const: wiped by the destructor
    mutable std::shared_mutex mutex_;
    std::unordered_map<std::string, Entry> expiries_;
};

}  // namespace kiva::auth
