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

#include "kiva/core/log.hpp"

namespace kiva {

struct Config {
    std::string app_name = "kiva";
    /// libpq connection string ("host=/run/postgresql dbname=kiva user=kiva").
    std::string database;
    /// Where the queries marked `-- kiva: replica` go (a standby); empty: to `database`.
    std::string db_replica;
    /// How long a connection attempt waits per host, and the server's statement_timeout (0:
    /// the server's own): a request never hangs longer on a dead or switching primary.
    std::chrono::seconds db_connect_timeout{5};
    std::chrono::milliseconds db_statement_timeout{30000};
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
    LogFormat log_format = LogFormat::text;
    /// One access line per request (off for busy sites where the front end's log suffices).
    bool log_requests = true;
    /// A warning line for a request, or a query, slower than this; 0 disables.
    std::chrono::milliseconds slow_request{1000};
    std::chrono::milliseconds slow_query{200};

    // Observability (see README "Observability").
    /// GET /metrics (Prometheus) and the counters behind it.
    bool metrics = true;
    /// The instance's shared counters file; empty: shared with forked processes only.
    std::string metrics_file;
    /// How long GET /health waits for the database.
    std::chrono::milliseconds health_timeout{2000};
    /// The name each log line starts with (the instance, to tell two apart in one log); empty: app_name.
    std::string log_name;
    /// Seconds a graceful stop waits for requests in flight.
    std::chrono::seconds stop_timeout{30};

    // Authentication (see README "Authentication").
    std::string realm;  ///< defaults to app_name
    std::vector<std::string> auth = {"basic", "token"};
    std::string token_type = "native";  ///< "native" or "jwt"
    std::chrono::seconds token_delay{3600};
    std::string token_secret_file;
    std::string token_secret_env;
    /// How clients present tokens: "bearer" (Authorization header) and/or "cookie" (an
    /// HttpOnly cookie set by GET /login?cookie=true; unsafe methods then need csrf_header).
    std::vector<std::string> token_carrier = {"bearer"};
    std::string token_cookie;  ///< empty: __Host-<app_name>-token
    std::string csrf_header = "X-Requested-With";
    /// Swagger UI's files (npm's swagger-ui-dist): GET /docs; empty: no docs page.
    std::string docs_dir;
    int password_cost = 10;
    /// New hashes: "bcrypt" (cost password_cost) or "argon2id" (the argon2_* parameters).
    std::string password_scheme = "bcrypt";
    unsigned argon2_memory_kib = 19456;  ///< OWASP: 19 MiB, 2 passes, 1 lane
    unsigned argon2_passes = 2;
    unsigned argon2_lanes = 1;
    /// Rules for every password a route sets (Security::check_new_password).
    std::size_t password_min_length = 8;
    std::string password_regex;
    std::chrono::seconds password_cache_ttl{300};
    /// Throttling (kiva/security/throttle.hpp): failures before a login, or a client
    /// address, is locked; the first lockout, doubled at each further failure up to the cap.
    /// Throttling, revocation and password changes read and write the database (off: tests
    /// without one).
    bool auth_state = true;
    int auth_max_failures = 5;
    int auth_max_address_failures = 50;
    std::chrono::seconds auth_lockout_delay{30};
    std::chrono::seconds auth_lockout_max{900};
    /// The shared cache (kiva/cache): "redis://host:port/db" or "unix:/path?db=N"; empty:
    /// none, the state stays in each process and in PostgreSQL.
    std::string cache;
    std::string cache_password_file;  ///< Redis AUTH password (never in the URL, never logged)
    std::chrono::milliseconds cache_timeout{50};  ///< connect and command timeout
    /// Browser origins allowed to call the API ("https://app.example.com"); empty: CORS off.
    std::vector<std::string> cors_origins;
    std::chrono::seconds cors_max_age{600};
    /// Front ends whose X-Forwarded-For names the client (REMOTE_ADDR otherwise).
    std::vector<std::string> trusted_proxies;
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
/// "250ms", "2s", "1m", "0" (a bare number is milliseconds) -> milliseconds.
std::chrono::milliseconds parse_millis(std::string_view text);

}  // namespace kiva
