#include "kiva/core/config.hpp"

#include "kiva/core/redis_url.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <limits>
#include <sstream>
#include <stdexcept>

namespace kiva {

namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
}

long long parse_integer(std::string_view text, long long min, long long max,
                        std::string_view what) {
    long long value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size() || value < min || value > max)
        throw std::invalid_argument(std::string(what) + " must be an integer from " +
                                    std::to_string(min) + " to " + std::to_string(max));
    return value;
}

bool parse_bool(std::string_view text) {
    std::string t(text);
    std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return std::tolower(c); });
    if (t == "1" || t == "true" || t == "yes" || t == "on") return true;
    if (t == "0" || t == "false" || t == "no" || t == "off") return false;
    throw std::invalid_argument("expected a boolean (true/false)");
}

std::vector<std::string> parse_list(std::string_view text) {
    std::vector<std::string> items;
    std::string item;
    std::istringstream in{std::string(text)};
    while (std::getline(in, item, ',')) {
        auto t = trim(item);
        if (!t.empty()) items.emplace_back(t);
    }
    return items;
}

}  // namespace

const std::vector<ConfigOption>& config_options() {
    static const std::vector<ConfigOption> options = {
        {"app_name", "application name, in /version, logs and the default realm (kiva)"},
        {"database",
         "libpq connection string, e.g. \"host=/run/postgresql dbname=kiva user=kiva\""},
        {"db_replica",
         "libpq connection string for the queries marked \"-- kiva: replica\", e.g. the "
         "database's hosts with target_session_attrs=prefer-standby; empty: all on database"},
        {"db_connect_timeout",
         "how long connecting waits for each host of the conninfo, at least 1s (5s)"},
        {"db_statement_timeout",
         "the server's statement_timeout for the worker's statements, and the longest wait for a "
         "COMMIT (a synchronous standby); 0: the server's, unbounded COMMIT (30s)"},
        {"queries", "named queries file (sql/queries.sql), relative to the configuration file"},
        {"listen",
         "unix:/path.sock, /path.sock or 127.0.0.1:9000; empty: inherited socket (fd 0 or "
         "systemd)"},
        {"socket_mode", "octal permissions of a unix socket the worker creates (0660)"},
        {"threads", "request threads per process, each with its own Postgres connection (4)"},
        {"processes", "worker processes sharing the listening socket (1)"},
        {"body_limit", "largest request body, bytes or 64K/1M (1M); more gets 413"},
        {"log_level", "debug, info, warning, error or off (info)"},
        {"log_format", "text or json: one JSON object per line, for journald/ELK (text)"},
        {"log_requests", "one log line per request; off when the front end's log suffices (on)"},
        {"slow_request", "log a warning for a request slower than this, 0 disables (1s)"},
        {"slow_query", "log a warning for a query slower than this, 0 disables (200ms)"},
        {"metrics", "serve GET /metrics (Prometheus) and keep its counters (on)"},
        {"metrics_file",
         "shared counters file of the instance, for processes that share no parent "
         "(mod_fcgid); empty: prefork children only"},
        {"health_timeout", "how long GET /health waits for the database (2s)"},
        {"log_name", "name at the start of each log line, e.g. the instance (app_name)"},
        {"stop_timeout", "how long a graceful stop waits for requests in flight (30s)"},
        {"realm", "authentication realm in challenges and tokens (app_name)"},
        {"auth", "default authentication schemes among basic,param,token,httpd (basic,token)"},
        {"token_type", "native (realm:login:expiry:hmac) or jwt (HS256) (native)"},
        {"token_delay", "token lifetime, seconds or 30m/1h/1d (1h)"},
        {"token_secret_file",
         "file holding the token signing secret, or several keys, oldest first, one \"id "
         "secret\" per line: the last signs, all verify (key rotation)"},
        {"token_secret_env", "environment variable holding the token signing secret"},
        {"token_carrier",
         "how clients present tokens: bearer (Authorization header), cookie (HttpOnly, "
         "Secure, SameSite=Strict, set by GET /login?cookie=true), or both (bearer)"},
        {"token_cookie", "name of the token cookie (__Host-<app_name>-token)"},
        {"csrf_header",
         "header every unsafe request carried by a token cookie must have, any value "
         "(X-Requested-With)"},
        {"password_cost", "bcrypt cost for new password hashes, 4..31 (10)"},
        {"password_scheme",
         "bcrypt or argon2id for new hashes; both verify, an older one is rehashed at the "
         "next good check (bcrypt)"},
        {"argon2_memory", "argon2id memory, bytes or 19M/64M (19M, OWASP)"},
        {"argon2_passes", "argon2id passes (2, OWASP)"},
        {"argon2_lanes", "argon2id lanes (1, OWASP)"},
        {"password_min_length", "shortest password a route may set, in characters (8)"},
        {"password_regex",
         "a regular expression (ECMAScript) every new password must contain a match of (none)"},
        {"password_cache_ttl", "how long a good password check is remembered, 0 disables (5m)"},
        {"auth_state",
         "shared authentication state in the database: throttling, logout, password changes; "
         "off only for tests without a database (on)"},
        {"auth_max_failures",
         "failed password checks of one login before it is refused with 429 (5)"},
        {"auth_max_address_failures",
         "failed password checks from one client address before it is refused with 429 (50)"},
        {"auth_lockout_delay",
         "first lockout after too many failures, doubled at each further one (30s)"},
        {"auth_lockout_max", "longest lockout (15m)"},
        {"cache",
         "shared cache for password checks, throttling and revocation verdicts: "
         "redis://host:port/db or unix:/path?db=N (none: in-process and PostgreSQL)"},
        {"cache_password_file", "file holding the Redis AUTH password (none)"},
        {"cache_timeout",
         "Redis connect and command timeout; after a failure one attempt per second (50ms)"},
        {"cors_origins",
         "exact browser origins allowed to call the API, e.g. https://app.example.com "
         "(none: CORS off)"},
        {"cors_max_age", "how long a browser may keep a preflight's answer (10m)"},
        {"trusted_proxies",
         "addresses of proxies whose X-Forwarded-For names the client (none: REMOTE_ADDR)"},
        {"test_mode", "true: a missing token secret is replaced by a random one (false)"},
        {"docs_dir", "swagger-ui-dist directory: GET /docs serves Swagger UI (none: no /docs)"},
    };
    return options;
}

std::string env_name(std::string_view key) {
    std::string name = "KIVA_";
    for (char c : key)
        name.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
    return name;
}

std::size_t parse_size(std::string_view text) {
    text = trim(text);
    std::size_t unit = 1;
    if (!text.empty()) {
        switch (std::toupper(static_cast<unsigned char>(text.back()))) {
            case 'K':
                unit = 1024;
                break;
            case 'M':
                unit = 1024 * 1024;
                break;
            case 'G':
                unit = 1024 * 1024 * 1024;
                break;
        }
        if (unit != 1) text.remove_suffix(1);
    }
    auto n = parse_integer(text, 0, std::numeric_limits<int>::max(), "a size");
    return static_cast<std::size_t>(n) * unit;
}

std::chrono::seconds parse_duration(std::string_view text) {
    text = trim(text);
    long long unit = 1;
    if (!text.empty() && std::isalpha(static_cast<unsigned char>(text.back()))) {
        switch (text.back()) {
            case 's':
                unit = 1;
                break;
            case 'm':
                unit = 60;
                break;
            case 'h':
                unit = 3600;
                break;
            case 'd':
                unit = 86400;
                break;
            default:
                throw std::invalid_argument("a duration ends with s, m, h or d");
        }
        text.remove_suffix(1);
    }
    return std::chrono::seconds(parse_integer(text, 0, 10LL * 365 * 86400, "a duration") * unit);
}

std::chrono::milliseconds parse_millis(std::string_view text) {
    text = trim(text);
    if (text.size() > 2 && text.substr(text.size() - 2) == "ms")
        return std::chrono::milliseconds(
            parse_integer(text.substr(0, text.size() - 2), 0, 86400000LL, "a duration"));
    if (!text.empty() && std::isalpha(static_cast<unsigned char>(text.back())))
        return parse_duration(text);
    return std::chrono::milliseconds(parse_integer(text, 0, 86400000LL, "a duration"));
}

void set_option(Config& c, std::string_view key, std::string_view raw) {
    std::string_view value = trim(raw);
    // "Quoted values" may hold anything; otherwise " #" starts a comment.
    if (auto close = value.find('"', 1);
        !value.empty() && value.front() == '"' && close != std::string_view::npos &&
        (trim(value.substr(close + 1)).empty() || trim(value.substr(close + 1)).front() == '#')) {
        value = value.substr(1, close - 1);
    } else if (auto hash = value.find(" #"); hash != std::string_view::npos) {
        value = trim(value.substr(0, hash));
    }
    std::string v(value);
    if (key == "app_name") {
        if (v.empty()) throw std::invalid_argument("app_name must not be empty");
        c.app_name = v;
    } else if (key == "database")
        c.database = v;
    else if (key == "db_replica")
        c.db_replica = v;
    else if (key == "db_connect_timeout") {
        c.db_connect_timeout = parse_duration(v);
        if (c.db_connect_timeout.count() == 0)
            throw std::invalid_argument("db_connect_timeout must be at least 1s");
    } else if (key == "db_statement_timeout")
        c.db_statement_timeout = parse_millis(v);
    else if (key == "queries")
        c.queries = v;
    else if (key == "listen")
        c.listen = v;
    else if (key == "socket_mode") {
        int mode = 0;
        auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), mode, 8);
        if (ec != std::errc{} || end != v.data() + v.size() || mode < 0 || mode > 0777)
            throw std::invalid_argument("socket_mode must be octal, e.g. 0660");
        c.socket_mode = mode;
    } else if (key == "threads")
        c.threads = static_cast<int>(parse_integer(v, 1, 256, "threads"));
    else if (key == "processes")
        c.processes = static_cast<int>(parse_integer(v, 1, 256, "processes"));
    else if (key == "body_limit")
        c.body_limit = parse_size(v);
    else if (key == "log_level") {
        auto level = parse_log_level(v);
        if (!level)
            throw std::invalid_argument("log_level must be debug, info, warning, error or off");
        c.log_level = *level;
    } else if (key == "log_format") {
        auto format = parse_log_format(v);
        if (!format) throw std::invalid_argument("log_format must be text or json");
        c.log_format = *format;
    } else if (key == "log_requests")
        c.log_requests = parse_bool(v);
    else if (key == "slow_request")
        c.slow_request = parse_millis(v);
    else if (key == "slow_query")
        c.slow_query = parse_millis(v);
    else if (key == "metrics")
        c.metrics = parse_bool(v);
    else if (key == "metrics_file")
        c.metrics_file = v;
    else if (key == "health_timeout") {
        c.health_timeout = parse_millis(v);
        if (c.health_timeout.count() == 0)
            throw std::invalid_argument("health_timeout must not be 0");
    } else if (key == "stop_timeout")
        c.stop_timeout = parse_duration(v);
    else if (key == "realm")
        c.realm = v;
    else if (key == "auth") {
        auto schemes = parse_list(v);
        for (const auto& s : schemes)
            if (s != "basic" && s != "param" && s != "token" && s != "httpd")
                throw std::invalid_argument("unknown authentication scheme \"" + s +
                                            "\" (basic, param, token, httpd)");
        c.auth = schemes;
    } else if (key == "token_type") {
        if (v != "native" && v != "jwt")
            throw std::invalid_argument("token_type must be native or jwt");
        c.token_type = v;
    } else if (key == "token_delay")
        c.token_delay = parse_duration(v);
    else if (key == "log_name")
        c.log_name = v;
    else if (key == "token_secret_file")
        c.token_secret_file = v;
    else if (key == "token_secret_env")
        c.token_secret_env = v;
    else if (key == "docs_dir")
        c.docs_dir = v;
    else if (key == "password_cost")
        c.password_cost = static_cast<int>(parse_integer(v, 4, 31, "password_cost"));
    else if (key == "password_scheme") {
        if (v != "bcrypt" && v != "argon2id")
            throw std::invalid_argument("password_scheme must be bcrypt or argon2id");
        c.password_scheme = v;
    } else if (key == "argon2_memory") {
        std::size_t bytes = parse_size(v);
        if (bytes < 8 * 1024 || bytes > (std::size_t{4} << 30))
            throw std::invalid_argument("argon2_memory must be from 8K to 4G");
        c.argon2_memory_kib = static_cast<unsigned>(bytes / 1024);
    } else if (key == "argon2_passes")
        c.argon2_passes = static_cast<unsigned>(parse_integer(v, 1, 100, "argon2_passes"));
    else if (key == "argon2_lanes")
        c.argon2_lanes = static_cast<unsigned>(parse_integer(v, 1, 64, "argon2_lanes"));
    else if (key == "password_min_length")
        c.password_min_length =
            static_cast<std::size_t>(parse_integer(v, 1, 1024, "password_min_length"));
    else if (key == "password_regex")
        c.password_regex = v;
    else if (key == "password_cache_ttl")
        c.password_cache_ttl = parse_duration(v);
    else if (key == "auth_state")
        c.auth_state = parse_bool(v);
    else if (key == "auth_max_failures")
        c.auth_max_failures = static_cast<int>(parse_integer(v, 1, 1000000, "auth_max_failures"));
    else if (key == "auth_max_address_failures")
        c.auth_max_address_failures =
            static_cast<int>(parse_integer(v, 1, 1000000, "auth_max_address_failures"));
    else if (key == "auth_lockout_delay") {
        c.auth_lockout_delay = parse_duration(v);
        if (c.auth_lockout_delay.count() == 0)
            throw std::invalid_argument("auth_lockout_delay must not be 0");
    } else if (key == "auth_lockout_max")
        c.auth_lockout_max = parse_duration(v);
    else if (key == "token_carrier") {
        c.token_carrier = parse_list(v);
        if (c.token_carrier.empty())
            throw std::invalid_argument("token_carrier must list bearer, cookie or both");
        for (const auto& t : c.token_carrier)
            if (t != "bearer" && t != "cookie")
                throw std::invalid_argument("token_carrier lists bearer and/or cookie, not \"" +
                                            t + "\"");
    } else if (key == "token_cookie")
        c.token_cookie = v;
    else if (key == "csrf_header") {
        // A token of RFC 9110 that CGI carries unchanged (HTTP_X_REQUESTED_WITH).
        bool ok = !v.empty() && v.size() <= 64 &&
                  std::all_of(v.begin(), v.end(), [](unsigned char ch) {
                      return std::isalnum(ch) || ch == '-';
                  });
        if (!ok)
            throw std::invalid_argument("csrf_header must be a header name (letters, digits, -)");
        c.csrf_header = v;
    } else if (key == "cache") {
        c.cache = std::string(trim(v));
        if (!c.cache.empty()) cache::parse_redis_url(c.cache);  // a bad URL fails at start
    } else if (key == "cache_password_file")
        c.cache_password_file = std::string(trim(v));
    else if (key == "cache_timeout") {
        c.cache_timeout = parse_millis(v);
        if (c.cache_timeout.count() < 1 || c.cache_timeout.count() > 5000)
            throw std::invalid_argument("cache_timeout must be from 1ms to 5s");
    } else if (key == "cors_origins") {
        c.cors_origins = parse_list(v);
        for (const auto& o : c.cors_origins)
            if (o == "*" || o.find("://") == std::string::npos || o.back() == '/')
                throw std::invalid_argument("cors_origins lists exact origins such as "
                                            "https://app.example.com, not \"" + o + "\"");
    } else if (key == "cors_max_age")
        c.cors_max_age = parse_duration(v);
    else if (key == "trusted_proxies")
        c.trusted_proxies = parse_list(v);
    else if (key == "test_mode")
        c.test_mode = parse_bool(v);
    else
        throw std::invalid_argument("unknown option \"" + std::string(key) + "\"");
}

Config parse_config(std::string_view text, const std::string& source, Config base) {
    Config c = std::move(base);
    c.source = source;
    int lineno = 0;
    while (!text.empty()) {
        auto nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
        ++lineno;
        line = trim(line);
        if (line.empty() || line.front() == '#') continue;
        auto eq = line.find('=');
        auto where = source + ":" + std::to_string(lineno) + ": ";
        if (eq == std::string_view::npos) throw std::runtime_error(where + "expected key = value");
        try {
            set_option(c, trim(line.substr(0, eq)), line.substr(eq + 1));
        } catch (const std::invalid_argument& e) {
            throw std::runtime_error(where + e.what());
        }
    }
    return c;
}

Config load_config_file(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot read configuration file " + path);
    std::stringstream text;
    text << in.rdbuf();
    return parse_config(text.str(), path);
}

void apply_env(Config& c, const std::map<std::string, std::string>& env) {
    for (const auto& option : config_options()) {
        auto it = env.find(env_name(option.key));
        if (it == env.end()) continue;
        try {
            set_option(c, option.key, it->second);
        } catch (const std::invalid_argument& e) {
            throw std::runtime_error(it->first + ": " + e.what());
        }
    }
}

void validate(const Config& c) {
    if (c.database.empty()) throw std::runtime_error("no database configured (option database)");
    if (c.auth.empty()) throw std::runtime_error("option auth lists no scheme");
    if (!c.cache.empty() && !c.auth_state)
        throw std::runtime_error("cache needs auth_state (its verdicts are read from the database)");
}

std::string resolve_path(const Config& c, const std::string& path) {
    if (path.empty() || path.front() == '/' || c.source.empty()) return path;
    auto slash = c.source.rfind('/');
    if (slash == std::string::npos) return path;
    return c.source.substr(0, slash + 1) + path;
}

}  // namespace kiva
