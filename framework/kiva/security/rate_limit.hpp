#pragma once
/// @file
/// Rate limits: at most N requests per window of T seconds for each client (its login when
/// it authenticated, else its address as trusted_proxies resolve it) and route. Windows are
/// fixed and aligned on the clock (window = unix time / T), so every process and host agrees
/// on them without talking.
///
/// Counters: with a shared cache (Redis), one key per route, client and window (INCR, with
/// the window as its expiry), shared by every host. Without one, or while Redis fails, a
/// table of 64-bit words in memory shared by the processes of the host (mapped before any
/// fork, or a file beside metrics_file for processes that share no parent): each word holds
/// a 40-bit tag (a hash of route, client and window) and a 24-bit count, updated by
/// compare-and-swap. Two clients whose tags land on the same word in the same window evict
/// each other: a limit may then let a few more requests through, never fewer.
///
/// Answers carry RateLimit-Policy and RateLimit in the syntax of
/// draft-ietf-httpapi-ratelimit-headers-10: `"default";q=100;w=1` and `"default";r=99;t=1`.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kiva/core/config.hpp"
#include "kiva/core/rate_spec.hpp"
#include "kiva/core/repeat_limit.hpp"

namespace kiva {

class Logger;
namespace cache {
class SharedCache;
}

/// `"name";q=100;w=1`: the policy (draft-ietf-httpapi-ratelimit-headers-10, RateLimit-Policy).
std::string rate_limit_policy_field(std::string_view name, const RateSpec& spec);
/// `"name";r=99;t=1`: what remains of it and the seconds until the window resets (RateLimit).
std::string rate_limit_field(std::string_view name, std::uint32_t remaining, std::uint32_t reset);

/// The per-host counters: a table of tagged counts in shared memory.
class HostRateCounters {
  public:
    /// path: a file to map (processes without a common parent), "" for anonymous memory
    /// shared with the processes forked after. words: the table's size (a power of two).
    /// Throws std::runtime_error when the file cannot be mapped.
    explicit HostRateCounters(const std::string& path = "", std::size_t words = 16384);
    ~HostRateCounters();
    HostRateCounters(const HostRateCounters&) = delete;
    HostRateCounters& operator=(const HostRateCounters&) = delete;

    /// Counts one request of key (route, client and window hashed) and returns its count
    /// in the window, this one included.
    std::uint32_t hit(std::uint64_t key_hash);

  private:
    std::uint64_t* words_ = nullptr;
    std::size_t count_ = 0, bytes_ = 0;
};

class RateLimiter {
  public:
    /// The default policy (rate_limit), the trusted proxies, and the host's counters (a file
    /// beside metrics_file when that is set). Throws std::runtime_error.
    RateLimiter(const Config& config, const Logger& log);

    /// The configured policy for routes that declare none; nullopt: off.
    const std::optional<RateSpec>& default_policy() const { return default_; }

    struct Decision {
        bool allowed = true;
        std::uint32_t remaining = 0;
        std::uint32_t reset = 0;  ///< seconds until the window ends
        /// Which counter decided: "cluster" (Redis) or "host".
        std::string_view counted_by;
    };
    /// Counts one request of client on route (its pattern and method) under spec.
    Decision hit(const RateSpec& spec, std::string_view route, std::string_view client,
                 const cache::SharedCache* shared) const;

    const std::vector<std::string>& trusted_proxies() const { return trusted_proxies_; }

  private:
    std::optional<RateSpec> default_;
    std::vector<std::string> trusted_proxies_;
    const Logger& log_;
    mutable HostRateCounters host_;
    /// Redis failed: one line a minute per process.
    mutable RepeatLimit redis_lines_{std::chrono::minutes(1)};
};

}  // namespace kiva
