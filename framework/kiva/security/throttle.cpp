#include "kiva/security/throttle.hpp"

#include <algorithm>

#include "kiva/core/text.hpp"
#include "kiva/security/scope.hpp"
#include "kiva/security/security.hpp"

namespace kiva {

std::chrono::seconds lockout_delay(int failures, int threshold, std::chrono::seconds delay,
                                   std::chrono::seconds cap) {
    if (failures < threshold) return std::chrono::seconds::zero();
    std::chrono::seconds d = delay;
    for (int extra = failures - threshold; extra > 0 && d < cap; --extra) d *= 2;
    return std::min(d, cap);
}

namespace {

bool trusted(std::string_view address, const std::vector<std::string>& proxies) {
    return std::find(proxies.begin(), proxies.end(), address) != proxies.end();
}

}  // namespace

std::string client_address(std::string_view remote_addr, std::string_view forwarded_for,
                           const std::vector<std::string>& trusted_proxies) {
    if (!trusted(remote_addr, trusted_proxies)) return std::string(remote_addr);
    // Entries are appended by each proxy: the rightmost untrusted one is the first address
    // that no proxy of ours vouches for; anything left of it may be made up by the client.
    std::string_view rest = forwarded_for;
    while (!rest.empty()) {
        std::size_t comma = rest.rfind(',');
        std::string_view entry =
            trim_ows(comma == std::string_view::npos ? rest : rest.substr(comma + 1));
        rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(0, comma);
        if (!entry.empty() && !trusted(entry, trusted_proxies))
            return std::string(entry.substr(0, 64));
    }
    return std::string(remote_addr);
}

Throttle::Throttle(const Config& config)
    : enabled_(config.auth_state),
      max_failures_(config.auth_max_failures),
      max_address_failures_(config.auth_max_address_failures),
      delay_(config.auth_lockout_delay),
      cap_(std::max(config.auth_lockout_delay, config.auth_lockout_max)),
      trusted_proxies_(config.trusted_proxies) {}

Throttle::State Throttle::state(SecurityScope& c, std::string_view login,
                                std::string_view password) const {
    State s;
    if (!enabled_) return s;
    s.address = client_address(c.request.var("REMOTE_ADDR"), c.request.header("X-Forwarded-For"),
                               trusted_proxies_);
    if (auto shared = shared_state(c, login, password, s.address)) return *shared;
    if (auto row = c.q.auth_throttle(login, s.address)) {
        s.retry_after = row->retry_after;
        s.login_failed_before = row->login_failures.has_value();
        s.credentials_generation = row->credentials_changed.value_or(0);
    }
    return s;
}

std::optional<Throttle::State> Throttle::shared_state(SecurityScope& c, std::string_view login,
                                                      std::string_view password,
                                                      std::string address) const {
    const cache::SharedCache* shared = c.security.shared_cache();
    if (!shared) return std::nullopt;
    auto l = shared->login(login, address, password);
    if (!l) return std::nullopt;
    State s;
    s.address = std::move(address);
    s.shared = true;
    s.retry_after = l->retry_after;
    s.login_failed_before = l->failed_before;
    if (s.retry_after) return s;
    if (l->generation) {
        s.credentials_generation = *l->generation;
    } else {  // no verdict in Redis: the database says, and Redis keeps it a moment
        const auto read_at = std::chrono::system_clock::now();
        s.credentials_generation = c.q.credentials_generation(login).value_or(0);
        shared->remember_generation(login, s.credentials_generation, read_at, l->run_id);
    }
    s.known_good = l->remembered == s.credentials_generation;
    return s;
}

std::chrono::seconds Throttle::lock_for(long long failures, bool is_login) const {
    return lockout_delay(static_cast<int>(std::min<long long>(failures, 1000000000)),
                         is_login ? max_failures_ : max_address_failures_, delay_, cap_);
}

void Throttle::failed(SecurityScope& c, std::string_view login, const State& s) const {
    if (!enabled_) return;
    // A count restarts when its last failure is older than two longest lockouts: an
    // attacker waiting out each lockout keeps doubling it, a forgetful user starts afresh.
    if (const cache::SharedCache* shared = s.shared ? c.security.shared_cache() : nullptr) {
        if (auto n = shared->count_failure(login, s.address, 2 * cap_);
            n &&
            shared->lock(login, lock_for(n->login, true), s.address, lock_for(n->address, false)))
            return;
    }  // Redis failed meanwhile: the database counts this one
    const auto window = static_cast<int64_t>(2 * cap_.count());
    for (const auto& row : c.q.count_auth_failure(login, s.address, window).all()) {
        bool is_login = row.kind == "login";
        auto lock = lock_for(row.failures, is_login);
        if (lock.count() > 0)
            c.q.lock_auth(static_cast<int64_t>(lock.count()), row.kind,
                          is_login ? login : std::string_view(s.address));
    }
    c.db.finish(true);
}

void Throttle::succeeded(SecurityScope& c, std::string_view login, const State& s) const {
    if (!enabled_ || !s.login_failed_before) return;
    if (s.shared && c.security.shared_cache()->reset_failures(login)) return;
    c.q.reset_auth_failures(login);
}

void Throttle::remember(SecurityScope& c, std::string_view login, std::string_view password,
                        const State& s) const {
    if (s.shared)
        c.security.shared_cache()->remember_password(login, password, s.credentials_generation,
                                                     c.security.password_cache_ttl());
    else
        c.security.password_cache().remember(login, password, std::chrono::steady_clock::now(),
                                             s.credentials_generation);
}

}  // namespace kiva
