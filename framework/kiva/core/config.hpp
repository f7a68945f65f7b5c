#pragma once
/// @file
/// Config: the process configuration, the one piece of global state, read once at start
/// from a `key = value` file and overridden by KIVA_* environment variables.
///
/// Every key is declared once, in config_keys.cpp: its name, the member it sets, its default,
/// its syntax and checks, and its help. The defaults below, the parser, `kiva --help` and
/// docs/configuration.md's table all come from that declaration.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kiva/core/config_values.hpp"
#include "kiva/core/log.hpp"

namespace kiva {

/// The typed result the rest of the code reads. Meanings and defaults: config_keys.cpp
/// (`kiva --help`); a default-constructed Config holds every key's default.
struct Config {
    Config();

    std::string app_name;
    std::string database;
    std::string db_replica;
    std::chrono::seconds db_connect_timeout{};
    std::chrono::milliseconds db_statement_timeout{};
    std::string queries;  ///< relative paths are relative to the configuration file
    std::string listen;
    int socket_mode{};
    int threads{};
    int processes{};
    std::size_t body_limit{};
    LogLevel log_level{};
    LogFormat log_format{};
    bool log_requests{};
    std::chrono::milliseconds slow_request{};  ///< 0: no warning
    std::chrono::milliseconds slow_query{};

    // Observability (docs/observability.md).
    bool metrics{};
    std::string metrics_file;
    std::chrono::milliseconds health_timeout{};
    std::string log_name;  ///< empty: app_name
    std::chrono::seconds stop_timeout{};

    // Authentication (docs/authentication.md).
    std::string realm;  ///< empty: app_name
    std::vector<std::string> auth;
    std::string token_type;  ///< "native" or "jwt"
    std::chrono::seconds token_delay{};
    std::string token_secret_file;
    std::string token_secret_env;
    std::vector<std::string> token_carrier;  ///< "bearer" and/or "cookie"
    std::string token_cookie;                ///< empty: __Host-<app_name>-token
    std::string csrf_header;
    std::string docs_dir;
    int password_cost{};
    std::string password_scheme;   ///< "bcrypt" or "argon2id"
    unsigned argon2_memory_kib{};  ///< the key argon2_memory, in bytes, stored in KiB
    unsigned argon2_passes{};
    unsigned argon2_lanes{};
    std::size_t password_min_length{};
    std::string password_regex;
    std::chrono::seconds password_cache_ttl{};
    bool auth_state{};
    std::chrono::seconds revocation_cache{};  ///< 0: off
    std::chrono::milliseconds revocation_channel_check{};
    int auth_max_failures{};
    int auth_max_address_failures{};
    std::chrono::seconds auth_lockout_delay{};
    std::chrono::seconds auth_lockout_max{};
    std::string cache;  ///< empty: no shared cache
    std::string cache_password_file;
    std::chrono::milliseconds cache_timeout{};
    std::vector<std::string> cors_origins;  ///< empty: CORS off
    std::chrono::seconds cors_max_age{};
    std::string cache_control_open;
    int64_t page_limit_max{};
    std::vector<std::string> trusted_proxies;
    std::string rate_limit;  ///< "off" or N/T (core/rate_spec.hpp)
    std::chrono::seconds idempotency_ttl{};
    bool test_mode{};

    // Jobs (docs/jobs.md).
    int jobs_threads{};
    std::chrono::milliseconds jobs_poll{};
    std::chrono::seconds jobs_lease{};
    std::chrono::milliseconds jobs_retry_base{};
    std::chrono::seconds jobs_keep{};

    /// Where the configuration came from, for relative paths and messages (not a key).
    std::string source;
};

/// One configuration key, as config_keys.cpp declares it (see config_key.hpp's key()).
struct ConfigKey {
    std::string_view name;
    /// One line; `code` spans are kept in the docs' markdown and unquoted in `kiva --help`.
    std::string_view help;
    /// Reads a value into its member; throws std::invalid_argument with the message to show.
    std::function<void(Config&, std::string_view)> set;
    /// Gives its member the declared default.
    std::function<void(Config&)> reset;
    /// The member's value as a file would write it ("1M", "30s", "basic,token").
    std::function<std::string(const Config&)> show;
    /// What an empty value means ("app_name", "none: CORS off"); empty: "none".
    std::string_view if_empty;
    /// The docs section that says more: a title and "page.md#anchor".
    std::string_view see_title, see_page;

    /// Chained on key()'s result in the declaration: key(...).when_empty(...).see(...).
    ConfigKey&& when_empty(std::string_view meaning) && {
        if_empty = meaning;
        return std::move(*this);
    }
    ConfigKey&& see(std::string_view title, std::string_view page) && {
        see_title = title;
        see_page = page;
        return std::move(*this);
    }
};

/// Every key, in the order of `kiva --help` and the docs; a name declared twice makes the first
/// find_config_key throw std::logic_error.
const std::vector<ConfigKey>& config_keys();
/// The key of that name, or nullptr.
const ConfigKey* find_config_key(std::string_view name);

/// Environment variable overriding a key: "body_limit" -> "KIVA_BODY_LIMIT".
std::string env_name(std::string_view key);

/// Reads `key = value` lines (# comments, blank lines). Throws std::runtime_error with
/// file:line on unknown keys or bad values.
Config load_config_file(const std::string& path);
/// Parses configuration text (used by load_config_file and tests).
Config parse_config(std::string_view text, const std::string& source, Config base = {});
/// Applies KIVA_* overrides from an environment (name -> value).
void apply_env(Config& config, const std::map<std::string, std::string>& env);
/// Sets one key; throws std::invalid_argument with a message on a bad key or value.
void set_option(Config& config, std::string_view key, std::string_view value);
/// Checks cross-field constraints; throws std::runtime_error.
void validate(const Config& config);
/// A path from the configuration, resolved against the configuration file's directory.
std::string resolve_path(const Config& config, const std::string& path);

}  // namespace kiva
