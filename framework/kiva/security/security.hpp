#pragma once
/// @file
/// Security: the process's authentication settings and services, built once from the
/// configuration: token codec and secret, bcrypt cost, the password cache, the realm and
/// the default schemes. Handlers reach it as `c.security` to make tokens and hashes.

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <regex>

#include "kiva/security/revocation_cache.hpp"
#include "kiva/security/shared_cache.hpp"
#include "kiva/security/argon2id.hpp"
#include "kiva/security/auth/password_cache.hpp"
#include "kiva/security/auth/token.hpp"
#include "kiva/security/authorize.hpp"
#include "kiva/security/throttle.hpp"
#include "kiva/security/token_carrier.hpp"
#include "kiva/core/config.hpp"
#include "kiva/core/log.hpp"

namespace kiva {

/// The keys of token_secret_file (or token_secret_env), oldest first: one per line, either
/// "id secret" or a lone secret (the key without id, at most one); blank lines and # comments
/// are skipped. Throws std::runtime_error naming the problem (secrets under 16 characters,
/// bad or repeated ids).
auth::KeySet parse_token_keys(std::string_view text);

class Security {
  public:
    /// Reads the token secret (file or environment variable named by the configuration).
    /// Throws std::runtime_error when there is none outside test mode, or when it is too short.
    Security(const Config& config, const Logger& log);

    const std::string& realm() const { return realm_; }
    const std::vector<AuthScheme>& default_schemes() const { return default_schemes_; }

    /// A token for login, valid for the configured delay.
    std::string create_token(std::string_view login) const;
    /// The login of a valid token; throws auth::AuthError.
    std::string verify_token(std::string_view token) const;
    /// The login and expiry of a valid token (not checked for revocation); throws auth::AuthError.
    auth::VerifiedToken check_token(std::string_view token) const;
    std::chrono::seconds token_delay() const { return token_delay_; }
    /// Throttling, revocation and password changes use the database (option auth_state).
    bool shared_state() const { return shared_state_; }
    /// A new hash in the configured scheme (bcrypt at password_cost, or argon2id).
    std::string hash_password(std::string_view password) const;
    /// True when password matches a bcrypt or an argon2id hash.
    bool verify_password(std::string_view password, std::string_view hash) const;
    /// True when a good hash is of another scheme or below the configured cost: the next
    /// good check replaces it.
    bool needs_rehash(std::string_view hash) const;
    /// The rules for a password a route sets (length, password_regex, the scheme's limits):
    /// throws HttpError 400 naming the problem. Every route that sets a password calls it.
    void check_new_password(std::string_view password) const;

    /// The cache of good password checks (thread-safe).
    auth::PasswordCache& password_cache() const { return *cache_; }
    /// Where tokens are presented: Authorization header, cookie (option token_carrier).
    const TokenCarrier& carrier() const { return carrier_; }
    /// The shared cache (Redis), or nullptr when `cache` is not set.
    const cache::SharedCache* shared_cache() const { return shared_cache_.get(); }
    /// The process's cache of revocation verdicts, or nullptr (revocation_cache = 0, or
    /// auth_state off).
    RevocationCache* revocation_cache() const { return revocations_.get(); }
    /// Starts this process's notification listener (its own connection to conninfo, its own
    /// thread): until it listens, the revocation cache is bypassed. Called by each serving
    /// process, after any fork.
    void listen_for_revocations(const std::string& conninfo, const std::string& app_name,
                                const Logger& log) const {
        if (revocations_) revocations_->listen(conninfo, app_name, log);
    }
    /// Where the shared cache counts its uses and failures.
    void observe(observe::Metrics* metrics) {
        if (shared_cache_) shared_cache_->observe(metrics);
    }
    std::chrono::seconds password_cache_ttl() const { return password_cache_ttl_; }
    /// Brute-force throttling of password checks.
    const Throttle& throttle() const { return throttle_; }
    /// A hash at the configured cost that no password matches: an unknown login costs
    /// the same bcrypt as a known one, so timing does not tell which logins exist. Made at
    /// its first use, not at start: a bcrypt at cost 10 would add 75 ms to every cold start
    /// (mod_fcgid starts processes on demand).
    const std::string& decoy_hash() const;

    /// `Basic realm="app", Bearer realm="app"` for the challengeable schemes among these.
    std::string challenge(const std::vector<AuthScheme>& schemes) const;

  private:
    std::string realm_;
    std::vector<AuthScheme> default_schemes_;
    int password_cost_;
    bool argon2_;
    security::Argon2Params argon2_params_;
    std::size_t password_min_length_;
    std::string password_regex_text_;
    std::optional<std::regex> password_regex_;
    std::chrono::seconds token_delay_;
    bool shared_state_;
    std::unique_ptr<auth::TokenCodec> tokens_;
    std::unique_ptr<auth::PasswordCache> cache_;
    std::chrono::seconds password_cache_ttl_;
    std::unique_ptr<cache::SharedCache> shared_cache_;
    std::unique_ptr<RevocationCache> revocations_;
    Throttle throttle_;
    TokenCarrier carrier_;
    struct Decoy {
        std::once_flag made;
        std::string hash;
    };
    std::unique_ptr<Decoy> decoy_ = std::make_unique<Decoy>();
};

}  // namespace kiva
