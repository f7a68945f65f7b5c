#pragma once
/// @file
/// Config: the process configuration, the one piece of global state, read once at start
/// from a `key = value` file and overridden by KIVA_* environment variables.

#include <chrono>
#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "framework/server/log.hpp"

namespace kiva {

struct Config {
    std::string app_name = "kiva";
    /// libpq connection string ("host=/run/postgresql dbname=kiva user=kiva").
    std::string database;
    /// The named queries file; relative paths are relative to the configuration file.
    std::string queries = "sql/queries.sql";
    /// "unix:/path/to.sock", "/path/to.sock", "127.0.0.1:9000"; empty: the socket inherited
    /// on fd 0 (mod_fcgid, spawn-fcgi) or from systemd socket activation.
    std::string listen;
    /// Permissions of a unix socket the worker creates (the front end must be able to connect).
    int socket_mode = 0660;
    int threads = 4;
    int processes = 1;
    std::size_t body_limit = 1 << 20;
    LogLevel log_level = LogLevel::info;
    /// Seconds a graceful stop waits for requests in flight.
    std::chrono::seconds stop_timeout{30};

    // Authentication (see README "Authentication").
    std::string realm;  ///< defaults to app_name
    std::vector<std::string> auth = {"basic", "token"};
    std::string token_type = "native";  ///< "native" or "jwt"
    std::chrono::seconds token_delay{3600};
    std::string token_secret_file;
    std::string token_secret_env;
    /// Swagger UI's files (npm's swagger-ui-dist): GET /docs; empty: no docs page.
    std::string docs_dir;
    int password_cost = 10;
    std::chrono::seconds password_cache_ttl{300};
    /// Test mode: a missing token secret is replaced by a random one instead of refusing to start.
    bool test_mode = false;

    /// Where the configuration came from, for relative paths and messages.
    std::string source;
};

/// One documented option: the file key, its environment variable and a one-line help.
struct ConfigOption {
    std::string_view key;
    std::string_view help;
};
const std::vector<ConfigOption>& config_options();

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

/// "1048576", "64K", "1M" -> bytes.
std::size_t parse_size(std::string_view text);
/// "3600", "90s", "5m", "1h", "1d" -> seconds.
std::chrono::seconds parse_duration(std::string_view text);

}  // namespace kiva
