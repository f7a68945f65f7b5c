#include "kiva/security/shared_cache.hpp"

#include <openssl/crypto.h>

#include <charconv>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "kiva/observe/metrics.hpp"
#include "kiva/security/auth/crypto.hpp"
#include "kiva/core/config.hpp"
#include "kiva/core/log.hpp"

namespace kiva::cache {

namespace {

std::string read_password(const Config& config) {
    if (config.cache_password_file.empty()) return {};
    std::string path = resolve_path(config, config.cache_password_file);
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot read cache_password_file " + path);
    std::stringstream text;
    text << in.rdbuf();
    std::string password = text.str();
    while (!password.empty() && (password.back() == '\n' || password.back() == '\r'))
        password.pop_back();
    if (password.empty()) throw std::runtime_error("cache_password_file " + path + " is empty");
    return password;
}

std::int64_t epoch_ms(std::chrono::system_clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

std::optional<std::int64_t> integer(std::string_view text) {
    std::int64_t n = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
    return n;
}

/// "<generation>:<run_id>" -> the generation, when written into this server's run.
std::optional<std::int64_t> verdict(const Reply& r, const std::string& run_id) {
    if (r.type != Reply::Type::string || run_id.empty()) return std::nullopt;
    auto colon = r.text.find(':');
    if (colon == std::string::npos || std::string_view(r.text).substr(colon + 1) != run_id)
        return std::nullopt;
    return integer(std::string_view(r.text).substr(0, colon));
}

std::string tagged(std::int64_t generation, const std::string& run_id) {
    return std::to_string(generation) + ":" + run_id;
}

bool all_ok(const std::optional<Redis::Result>& result) {
    if (!result) return false;
    for (const auto& r : result->replies)
        if (r.type == Reply::Type::error) return false;
    return true;
}

/// Seconds left of a PTTL reply in milliseconds (-2: no key, -1: no expiry).
std::optional<int> seconds_left(const Reply& r) {
    if (r.type != Reply::Type::integer || r.integer <= 0) return std::nullopt;
    return static_cast<int>((r.integer + 999) / 1000);
}

}  // namespace

SharedCache::SharedCache(const Config& config, std::string_view realm, std::string_view hmac_key,
                         const Logger& log)
    : log_(log),
      keys_(realm),
      hmac_key_(hmac_key),
      redis_(std::make_unique<Redis>(parse_redis_url(config.cache), read_password(config),
                                     config.cache_timeout)) {
    redis_->observe(
        [this](std::string_view op, Outcome o, std::string_view why) { outcome(op, o, why); });
}

SharedCache::~SharedCache() {
    OPENSSL_cleanse(hmac_key_.data(), hmac_key_.size());
}

void SharedCache::outcome(std::string_view op, Outcome o, std::string_view why) const {
    if (metrics_) metrics_->cache(op, o == Outcome::ok ? 0 : o == Outcome::error ? 1 : 2);
    if (o == Outcome::ok && down_.exchange(false))
        log_.info("shared cache at " + url().text() + " answers again");
    if (o == Outcome::error && !down_.exchange(true))
        log_.warning("shared cache unavailable (" + std::string(why) +
                     "): falling back to PostgreSQL and password checks");
}

// A keyed hash: Redis never holds anything a password could be tested against offline
// without the token secret. The login's length first: no two (login, password) pairs
// hash the same input.
std::string SharedCache::password_key(std::string_view login, std::string_view password) const {
    std::string input = std::to_string(login.size()) + ":";
    input += login;
    input += password;
    std::string key = keys_.password(auth::to_hex(auth::hmac_sha256(hmac_key_, input)));
    OPENSSL_cleanse(input.data(), input.size());
    return key;
}

std::optional<SharedCache::Login> SharedCache::login(std::string_view login,
                                                     std::string_view address,
                                                     std::string_view password) const {
    std::vector<Command> commands = {
        {"MGET", keys_.failures("login", login), keys_.credentials(login),
         password_key(login, password)},
        {"PTTL", keys_.lock("login", login)},
        {"PTTL", keys_.lock("address", address)}};
    auto result = redis_->run("password", commands);
    if (!all_ok(result)) return std::nullopt;
    const auto& r = result->replies;
    if (r[0].type != Reply::Type::array || r[0].elements.size() != 3) return std::nullopt;
    const auto& values = r[0].elements;
    Login out;
    out.run_id = result->run_id;
    out.failed_before = !values[0].nil();
    out.generation = verdict(values[1], out.run_id);
    if (values[2].type == Reply::Type::string) out.remembered = integer(values[2].text);
    auto a = seconds_left(r[1]), b = seconds_left(r[2]);
    if (a || b) out.retry_after = std::max(a.value_or(0), b.value_or(0));
    return out;
}

void SharedCache::remember_generation(std::string_view login, std::int64_t generation,
                                      std::chrono::system_clock::time_point read_at,
                                      const std::string& run_id) const {
    auto until = epoch_ms(read_at + verdict_ttl);
    if (run_id.empty() || until <= epoch_ms(std::chrono::system_clock::now())) return;
    redis_->run("password", {{"SET", keys_.credentials(login), tagged(generation, run_id), "NX",
                              "PXAT", std::to_string(until)}});
}

void SharedCache::remember_password(std::string_view login, std::string_view password,
                                    std::int64_t generation, std::chrono::seconds ttl) const {
    if (ttl.count() <= 0) return;
    redis_->run("password", {{"SET", password_key(login, password), std::to_string(generation),
                              "EX", std::to_string(ttl.count())}});
}

std::optional<SharedCache::Counts> SharedCache::count_failure(std::string_view login,
                                                              std::string_view address,
                                                              std::chrono::seconds window) const {
    const std::string ms = std::to_string(std::chrono::milliseconds(window).count());
    const std::string l = keys_.failures("login", login), a = keys_.failures("address", address);
    auto result = redis_->run("throttle", {{"INCR", l}, {"PEXPIRE", l, ms}, {"INCR", a},
                                           {"PEXPIRE", a, ms}},
                              true);
    if (!all_ok(result)) return std::nullopt;
    return Counts{result->replies[0].integer, result->replies[2].integer};
}

bool SharedCache::lock(std::string_view login, std::chrono::seconds login_lock,
                       std::string_view address, std::chrono::seconds address_lock) const {
    std::vector<Command> commands;
    if (login_lock.count() > 0)
        commands.push_back({"SET", keys_.lock("login", login), "1", "EX",
                            std::to_string(login_lock.count())});
    if (address_lock.count() > 0)
        commands.push_back({"SET", keys_.lock("address", address), "1", "EX",
                            std::to_string(address_lock.count())});
    return commands.empty() || all_ok(redis_->run("throttle", commands, true));
}

std::optional<long long> SharedCache::count_request(std::string_view key,
                                                    std::uint32_t seconds) const {
    const std::string k = keys_.rate(key);
    // Created with its expiry (the window, plus a second of clock skew between hosts), then
    // counted: the key never lives without an expiry.
    auto result = redis_->run("ratelimit", {{"SET", k, "0", "EX", std::to_string(seconds + 1), "NX"},
                                            {"INCR", k}});
    if (!all_ok(result)) return std::nullopt;
    return result->replies[1].integer;
}

bool SharedCache::reset_failures(std::string_view login) const {
    return all_ok(redis_->run(
        "throttle", {{"DEL", keys_.failures("login", login), keys_.lock("login", login)}}, true));
}

std::optional<SharedCache::Token> SharedCache::token(std::string_view digest,
                                                     std::string_view login) const {
    auto result = redis_->run("token", {{"MGET", keys_.token(digest), keys_.credentials(login)}});
    if (!all_ok(result)) return std::nullopt;
    const auto& values = result->replies[0].elements;
    if (values.size() != 2) return std::nullopt;
    Token out;
    out.run_id = result->run_id;
    out.revoked = values[0].type == Reply::Type::string && values[0].text == "revoked";
    out.not_revoked =
        values[0].type == Reply::Type::string && values[0].text == "ok:" + out.run_id;
    out.generation = verdict(values[1], out.run_id);
    return out;
}

void SharedCache::remember_token(std::string_view digest, std::string_view login, bool revoked,
                                 std::int64_t generation, std::int64_t expiry,
                                 std::chrono::system_clock::time_point read_at,
                                 const std::string& run_id) const {
    auto until = epoch_ms(read_at + verdict_ttl);
    if (run_id.empty()) return;
    std::vector<Command> commands;
    if (revoked)  // a fact: kept until the token would have expired anyway
        commands.push_back({"SET", keys_.token(digest), "revoked", "EXAT", std::to_string(expiry)});
    if (until > epoch_ms(std::chrono::system_clock::now())) {
        const std::string at = std::to_string(until);
        if (!revoked)
            commands.push_back({"SET", keys_.token(digest), "ok:" + run_id, "NX", "PXAT", at});
        commands.push_back(
            {"SET", keys_.credentials(login), tagged(generation, run_id), "NX", "PXAT", at});
    }
    if (!commands.empty()) redis_->run("token", commands);
}

bool SharedCache::revoked(std::string_view digest, std::int64_t expiry) const {
    return all_ok(redis_->run(
        "revocation", {{"SET", keys_.token(digest), "revoked", "EXAT", std::to_string(expiry)}},
        true));
}

// Monotonic: a writer's SET that reaches Redis late (a frozen server) never replaces the
// verdict of a later change with its older generation.
constexpr const char* newer_generation = R"lua(
local v = redis.call('GET', KEYS[1])
if v then
  local g = tonumber(string.match(v, '^(%d+):'))
  if g and g >= tonumber(ARGV[1]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1] .. ':' .. ARGV[2], 'PXAT', ARGV[3])
return 1
)lua";

bool SharedCache::credentials_changed(std::string_view login, std::int64_t generation) const {
    const std::string key = keys_.credentials(login);
    const std::string until =
        std::to_string(epoch_ms(std::chrono::system_clock::now() + verdict_ttl));
    return all_ok(redis_->run(
        "revocation",
        [&](const std::string& run_id) {
            return std::vector<Command>{
                {"EVAL", newer_generation, "1", key, std::to_string(generation), run_id, until}};
        },
        true));
}

std::unique_ptr<SharedCache> make_shared_cache(const Config& config, std::string_view realm,
                                               std::string_view hmac_key, const Logger& log) {
    if (config.cache.empty()) return nullptr;
    return std::make_unique<SharedCache>(config, realm, hmac_key, log);
}

}  // namespace kiva::cache
