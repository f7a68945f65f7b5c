// The declaration of every configuration key, once: its name, the Config member it sets, its
// type (syntax and checks), its default and its help. Config's defaults, the file and
// environment parser, `kiva --help` and docs/configuration.md's table are made from it.
// Help is one line without its default (added from the declaration); `code` spans are kept
// in the docs and unquoted in --help.

#include <map>
#include <stdexcept>
#include <string>

#include "kiva/core/config_key.hpp"
#include "kiva/core/rate_spec.hpp"

namespace kiva {

namespace {

using namespace std::chrono_literals;
using namespace config_key;

void auth_scheme(const std::string& s) {
    if (s != "basic" && s != "param" && s != "token" && s != "httpd")
        throw std::invalid_argument("unknown authentication scheme \"" + s +
                                    "\" (basic, param, token, httpd)");
}

void token_carrier(const std::string& t) {
    if (t != "bearer" && t != "cookie")
        throw std::invalid_argument("token_carrier lists bearer and/or cookie, not \"" + t + "\"");
}

void exact_origin(const std::string& o) {
    if (o == "*" || o.find("://") == std::string::npos || o.back() == '/')
        throw std::invalid_argument(
            "cors_origins lists exact origins such as https://app.example.com, not \"" + o + "\"");
}

/// `N/T` (100/1s) or off, kept as written once checked.
struct Rate {
    using value_type = std::string;
    std::string parse(std::string_view text, std::string_view key) const {
        try {
            return format_rate_spec(parse_rate_spec(text));
        } catch (const std::invalid_argument& e) {
            throw std::invalid_argument(std::string(key) + ": " + e.what());
        }
    }
    std::string show(const std::string& value) const { return value; }
};

std::vector<ConfigKey> declare() {
    return {
        key("app_name", &Config::app_name, Text{.required = true}, "kiva",
            "application name, in /version, logs and the default realm"),
        key("database", &Config::database, Text{}, "",
            "libpq connection string, e.g. `host=/run/postgresql dbname=kiva user=kiva`; several "
            "hosts with `target_session_attrs=read-write` follow the primary")
            .when_empty("required")
            .see("Following the primary", "database.md#following-the-primary-the-ha-cluster"),
        key("db_replica", &Config::db_replica, Text{}, "",
            "libpq connection string for the queries marked `-- kiva: replica`, e.g. the "
            "database's hosts with `target_session_attrs=prefer-standby`")
            .when_empty("every query on database")
            .see("Reads on a standby", "database.md#reads-on-a-standby"),
        key("db_connect_timeout", &Config::db_connect_timeout, Seconds{.min = 1s}, 5s,
            "how long connecting waits for each host of the conninfo (libpq `connect_timeout`; "
            "one in the conninfo wins), at least 1s"),
        key("db_statement_timeout", &Config::db_statement_timeout, Millis{}, 30s,
            "the server's `statement_timeout` for the worker's statements (sent as `options`; "
            "one in the conninfo wins), and the longest wait for a `COMMIT` (a synchronous "
            "standby), then 503; 0: the server's, `COMMIT` unbounded"),
        key("queries", &Config::queries, Text{}, "sql/queries.sql",
            "named queries file, relative to the configuration file"),
        key("listen", &Config::listen, Text{}, "",
            "`unix:/path.sock`, `/path.sock` or `127.0.0.1:9000`")
            .when_empty("inherited: fd 0 from mod_fcgid or spawn-fcgi, or systemd's socket"),
        key("socket_mode", &Config::socket_mode, Mode{}, 0660,
            "octal permissions of a unix socket the worker creates; the front end must reach it"),
        key("threads", &Config::threads, Integer<int>{1, 256}, 4,
            "request threads per process, each with its own Postgres connection"),
        key("processes", &Config::processes, Integer<int>{1, 256}, 1,
            "worker processes sharing the listening socket; a supervisor respawns any that dies"),
        key("body_limit", &Config::body_limit, Size{}, 1 << 20,
            "largest request body, bytes or 64K/1M; more gets 413"),
        key("cache_control_open", &Config::cache_control_open, Text{.trimmed = true}, "no-cache",
            "`Cache-Control` of the 200 answers to GET of OPEN routes that declare none "
            "(authenticated ones: `private, no-cache`), e.g. `public, max-age=60`")
            .when_empty("none sent")
            .see("HTTP caching", "http-caching.md#cache-control-and-vary"),
        key("page_limit_max", &Config::page_limit_max, Integer<int64_t>{1, 1000000}, 1000,
            "largest `limit` a paged list accepts (keyset_page()); more gets 400")
            .see("Pagination", "http-caching.md#pagination"),
        key("log_level", &Config::log_level,
            Enum<LogLevel>{parse_log_level, {"debug", "info", "warning", "error", "off"}},
            LogLevel::info, "debug, info, warning, error or off"),
        key("log_format", &Config::log_format, Enum<LogFormat>{parse_log_format, {"text", "json"}},
            LogFormat::text, "text, or json: one JSON object per line, for journald or ELK")
            .see("Logs", "observability.md#logs"),
        key("log_requests", &Config::log_requests, Bool{}, true,
            "one log line per request; off for busy sites where the front end's log suffices"),
        key("slow_request", &Config::slow_request, Millis{}, 1s,
            "a warning line for a request slower than this (`250ms`, `2s`); 0 disables"),
        key("slow_query", &Config::slow_query, Millis{}, 200ms,
            "a warning line for a query slower than this; 0 disables"),
        key("metrics", &Config::metrics, Bool{}, true,
            "serve `GET /metrics` (Prometheus) and keep its counters"),
        key("metrics_file", &Config::metrics_file, Text{}, "",
            "the instance's shared counters file, for processes that share no parent, as under "
            "mod_fcgid")
            .when_empty("shared with prefork children only"),
        key("health_timeout", &Config::health_timeout, Millis{.nonzero = true}, 2s,
            "how long `GET /health` waits for the database"),
        key("log_name", &Config::log_name, Text{}, "",
            "name at the start of each log line, e.g. the instance (`make deploy` sets it)")
            .when_empty("app_name"),
        key("stop_timeout", &Config::stop_timeout, Seconds{}, 30s,
            "how long a graceful stop (SIGTERM) waits for requests in flight"),
        key("docs_dir", &Config::docs_dir, Text{}, "",
            "npm's `swagger-ui-dist` directory: `GET /docs` serves Swagger UI")
            .when_empty("no /docs")
            .see("OpenAPI and the docs page", "routes.md#openapi-and-the-docs-page"),

        key("realm", &Config::realm, Text{}, "", "authentication realm in challenges and tokens")
            .when_empty("app_name")
            .see("Schemes", "authentication.md#schemes"),
        key("auth", &Config::auth, List{.check = auth_scheme}, {"basic", "token"},
            "default authentication schemes among basic, param, token and httpd")
            .see("Schemes", "authentication.md#schemes"),
        key("token_type", &Config::token_type, OneOf{{"native", "jwt"}}, "native",
            "native (`realm:login:expiry:hmac`) or jwt (HS256)")
            .see("Schemes", "authentication.md#schemes"),
        key("token_delay", &Config::token_delay, Seconds{}, 1h,
            "token lifetime, seconds or 30m/1h/1d"),
        key("token_secret_file", &Config::token_secret_file, Text{}, "",
            "file holding the token signing secret, or several keys, oldest first, one "
            "`id secret` per line: the last signs, all verify (key rotation)")
            .see("The token secret", "authentication.md#the-token-secret-and-key-rotation"),
        key("token_secret_env", &Config::token_secret_env, Text{}, "",
            "environment variable holding the token signing secret")
            .see("The token secret", "authentication.md#the-token-secret-and-key-rotation"),
        key("token_carrier", &Config::token_carrier,
            List{.check = token_carrier, .if_none = "must list bearer, cookie or both"}, {"bearer"},
            "how clients present tokens: bearer (Authorization header), cookie (HttpOnly, "
            "Secure, SameSite=Strict, set by `GET /login?cookie=true`), or both")
            .see("Token cookies", "authentication.md#token-cookies"),
        key("token_cookie", &Config::token_cookie, Text{}, "", "name of the token cookie")
            .when_empty("`__Host-<app_name>-token`")
            .see("Token cookies", "authentication.md#token-cookies"),
        key("csrf_header", &Config::csrf_header, HeaderName{}, "X-Requested-With",
            "header every unsafe request carried by a token cookie must have, any value")
            .see("Token cookies", "authentication.md#token-cookies"),
        key("password_cost", &Config::password_cost, Integer<int>{4, 31}, 10,
            "bcrypt cost for new password hashes, 4..31")
            .see("Passwords", "authentication.md#passwords"),
        key("password_scheme", &Config::password_scheme, OneOf{{"bcrypt", "argon2id"}}, "bcrypt",
            "bcrypt or argon2id for new hashes; both verify, an older one is rehashed at the "
            "next good check")
            .see("Passwords", "authentication.md#passwords"),
        key("argon2_memory", &Config::argon2_memory_kib, KibSize{8 << 10, std::size_t{4} << 30},
            19456, "argon2id memory, bytes or 19M/64M (OWASP: 19M)")
            .see("Passwords", "authentication.md#passwords"),
        key("argon2_passes", &Config::argon2_passes, Integer<unsigned>{1, 100}, 2,
            "argon2id passes (OWASP: 2)"),
        key("argon2_lanes", &Config::argon2_lanes, Integer<unsigned>{1, 64}, 1,
            "argon2id lanes (OWASP: 1)"),
        key("password_min_length", &Config::password_min_length, Integer<std::size_t>{1, 1024}, 8,
            "shortest password a route may set, in characters")
            .see("Passwords", "authentication.md#passwords"),
        key("password_regex", &Config::password_regex, Text{}, "",
            "a regular expression (ECMAScript) every new password must contain a match of")
            .see("Passwords", "authentication.md#passwords"),
        key("password_cache_ttl", &Config::password_cache_ttl, Seconds{}, 5min,
            "how long a good password check is remembered; 0 disables")
            .see("Passwords", "authentication.md#passwords"),
        key("auth_state", &Config::auth_state, Bool{}, true,
            "shared authentication state in the database: throttling, logout, password changes; "
            "off only for tests without a database")
            .see("Logout and password changes", "authentication.md#logout-and-password-changes"),
        key("revocation_cache", &Config::revocation_cache, Seconds{}, 60s,
            "longest use of a remembered logout or password-change verdict, invalidated by "
            "PostgreSQL notifications; 0: every token check reads the database")
            .see("Token checks without a round trip", "authentication.md#token-checks-without-a-round-trip"),
        key("revocation_channel_check", &Config::revocation_channel_check,
            Millis{.min = 10ms, .max = 60s}, 500ms,
            "ping of the notification channel when silent; the cache is bypassed once the "
            "server was not heard for twice as long")
            .see("Token checks without a round trip", "authentication.md#token-checks-without-a-round-trip"),
        key("auth_max_failures", &Config::auth_max_failures, Integer<int>{1, 1000000}, 5,
            "failed password checks of one login before it is refused with 429")
            .see("Throttling", "authentication.md#throttling"),
        key("auth_max_address_failures", &Config::auth_max_address_failures,
            Integer<int>{1, 1000000}, 50,
            "failed password checks from one client address before it is refused with 429")
            .see("Throttling", "authentication.md#throttling"),
        key("auth_lockout_delay", &Config::auth_lockout_delay, Seconds{.nonzero = true}, 30s,
            "first lockout after too many failures, doubled at each further one")
            .see("Throttling", "authentication.md#throttling"),
        key("auth_lockout_max", &Config::auth_lockout_max, Seconds{}, 15min, "longest lockout")
            .see("Throttling", "authentication.md#throttling"),
        key("trusted_proxies", &Config::trusted_proxies, List{}, {},
            "addresses of proxies whose X-Forwarded-For names the client")
            .when_empty("none: REMOTE_ADDR")
            .see("Throttling", "authentication.md#throttling"),
        key("cache", &Config::cache, CacheUrl{}, "",
            "shared cache for password checks, throttling and revocation verdicts: "
            "`redis://host:port/db` or `unix:/path?db=N`")
            .when_empty("none: in-process and PostgreSQL")
            .see("Shared cache (Redis)", "authentication.md#shared-cache-redis"),
        key("cache_password_file", &Config::cache_password_file, Text{.trimmed = true}, "",
            "file holding the Redis AUTH password (never in the URL, never logged)")
            .see("Shared cache (Redis)", "authentication.md#shared-cache-redis"),
        key("cache_timeout", &Config::cache_timeout, Millis{.min = 1ms, .max = 5s}, 50ms,
            "Redis connect and command timeout; after a failure one attempt per second")
            .see("Shared cache (Redis)", "authentication.md#shared-cache-redis"),
        key("cors_origins", &Config::cors_origins, List{.check = exact_origin}, {},
            "exact browser origins allowed to call the API, e.g. `https://app.example.com`")
            .when_empty("none: CORS off")
            .see("CORS", "authentication.md#cors"),
        key("cors_max_age", &Config::cors_max_age, Seconds{}, 10min,
            "how long a browser may keep a preflight's answer")
            .see("CORS", "authentication.md#cors"),
        key("jobs_threads", &Config::jobs_threads, Integer<int>{1, 256}, 2,
            "threads of `kiva --jobs`, each running one job at a time on its own connection")
            .see("Workers", "jobs.md#workers"),
        key("jobs_poll", &Config::jobs_poll, Millis{.nonzero = true}, 1s,
            "the longest a jobs worker sleeps without a NOTIFY before looking for due jobs")
            .see("Workers", "jobs.md#workers"),
        key("jobs_lease", &Config::jobs_lease, Seconds{.min = 1s}, 60s,
            "how long a claimed job is its worker's: a dead worker's job is claimable again after it")
            .see("Workers", "jobs.md#workers"),
        key("jobs_retry_base", &Config::jobs_retry_base, Millis{.nonzero = true}, 1s,
            "a failed attempt's first backoff, doubled at each attempt (at most an hour), with jitter")
            .see("Retries", "jobs.md#retries"),
        key("rate_limit", &Config::rate_limit, Rate{}, "off",
            "requests per client (its login, else its address) and route: `N/T`, e.g. `100/1s`; "
            "a route's declaration may set its own")
            .see("Rate limits", "routes.md#rate-limits"),
        key("idempotency_ttl", &Config::idempotency_ttl, Seconds{.min = 1s, .max = 30 * 24h}, 24h,
            "how long the answer of a POST sent with an `Idempotency-Key` is kept for its retries")
            .see("Idempotent POSTs", "routes.md#idempotent-posts"),
        key("jobs_keep", &Config::jobs_keep, Seconds{}, 168h,
            "how long finished jobs (done, failed, cancelled) stay in kiva_jobs before the jobs "
            "workers delete them, in batches; 0 keeps them forever")
            .see("Purge", "jobs.md#purge"),
        key("test_mode", &Config::test_mode, Bool{}, false,
            "on: a missing token secret is replaced by a random one instead of refusing to start")
            .see("Passwords", "authentication.md#passwords"),
    };
}

}  // namespace

const std::vector<ConfigKey>& config_keys() {
    static const std::vector<ConfigKey> keys = declare();
    return keys;
}

const ConfigKey* find_config_key(std::string_view name) {
    // Built once; a name declared twice stops every use of the configuration at its first.
    static const std::map<std::string_view, const ConfigKey*> by_name = [] {
        std::map<std::string_view, const ConfigKey*> map;
        for (const auto& k : config_keys())
            if (!map.emplace(k.name, &k).second)
                throw std::logic_error("configuration key \"" + std::string(k.name) +
                                       "\" declared twice");
        return map;
    }();
    auto it = by_name.find(name);
    return it == by_name.end() ? nullptr : it->second;
}

}  // namespace kiva
