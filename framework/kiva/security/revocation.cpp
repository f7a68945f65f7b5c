#include "kiva/security/revocation.hpp"

#include <chrono>
#include <thread>

#include "kiva/security/revocation_cache.hpp"
#include "kiva/security/scope.hpp"
#include "kiva/security/security.hpp"
#include "kiva/security/auth/auth_error.hpp"
#include "kiva/security/auth/authorization_header.hpp"
#include "kiva/security/auth/crypto.hpp"

namespace kiva {

namespace {

/// Tokens are kept by digest: the table holds nothing that could be presented again.
std::string digest_of(std::string_view token) {
    return auth::to_hex(auth::sha256(token));
}

/// Refuses a token issued before (or in the same second as) its login's password changed.
void check_generation(SecurityScope& c, const auth::VerifiedToken& verified, std::int64_t generation) {
    if (generation == 0) return;
    // Whole seconds: a token of the same second as the change is refused too (safe side).
    auto issued = (verified.expiry - c.security.token_delay()).time_since_epoch().count();
    if (static_cast<std::int64_t>(issued) * 1000000 < generation)
        throw auth::AuthError("invalid token");
}

/// A writer whose change Redis did not take waits until every verdict Redis may still hold
/// from before its commit has expired (see kiva/security/shared_cache.hpp).
void after_shared_write(bool written) {
    if (!written) std::this_thread::sleep_for(cache::unsynced_wait);
}

/// After the statement that sends the notification: commits, forgets the verdict here at
/// once, and waits (at most RevocationCache::await_limit) until this process's channel
/// delivered it: the other processes' channels, signalled by the same commit, have then
/// most likely delivered it too when the answer leaves.
void after_notification(SecurityScope& c, const std::string& payload) {
    RevocationCache* memory = c.security.revocation_cache();
    if (!memory || !memory->live()) return;  // not answering: nothing to forget or wait for
    auto awaited = memory->expect(payload);
    c.db.finish(true);
    memory->forget(payload);
    memory->await(awaited);
}

std::int64_t seconds_since_epoch(std::chrono::system_clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

}  // namespace

void check_not_revoked(SecurityScope& c, std::string_view token, const auth::VerifiedToken& verified) {
    if (!c.security.shared_state()) return;
    const std::string digest = digest_of(token);
    if (RevocationCache* memory = c.security.revocation_cache()) {
        if (auto v = memory->find(digest, verified.login)) {
            if (v->revoked) throw auth::AuthError("invalid token");
            return check_generation(c, verified, v->generation);
        }
        if (memory->live()) {
            // From the database only: a verdict of Redis may be stale by up to
            // cache::unsynced_wait, which no notification would correct.
            const std::uint64_t ticket = memory->ticket();
            auto state = c.q.token_state(digest, verified.login);
            const bool revoked = state && state->revoked.value_or(false);
            const std::int64_t generation = state ? state->changed_us.value_or(0) : 0;
            memory->remember(ticket, digest, verified.login, {revoked, generation});
            if (revoked) throw auth::AuthError("invalid token");
            return check_generation(c, verified, generation);
        }
    }
    const cache::SharedCache* shared = c.security.shared_cache();
    std::string run_id;  // of the Redis server asked first: verdicts are kept only there
    if (shared) {
        if (auto s = shared->token(digest, verified.login)) {
            if (s->revoked) throw auth::AuthError("invalid token");
            if (s->not_revoked && s->generation) return check_generation(c, verified, *s->generation);
            run_id = std::move(s->run_id);
        }
    }
    const auto read_at = std::chrono::system_clock::now();
    auto state = c.q.token_state(digest, verified.login);
    const bool revoked = state && state->revoked.value_or(false);
    const std::int64_t generation = state ? state->changed_us.value_or(0) : 0;
    if (shared && !run_id.empty())
        shared->remember_token(digest, verified.login, revoked, generation,
                               seconds_since_epoch(verified.expiry), read_at, run_id);
    if (revoked) throw auth::AuthError("invalid token");
    check_generation(c, verified, generation);
}

void revoke_request_token(SecurityScope& c) {
    // The token that authenticated the request: the header's when there is one (as
    // App::authenticate decides), else the cookie's.
    std::string token;
    std::string_view header = c.request.header("Authorization");
    if (!header.empty())
        token = auth::parse_authorization(header).token;
    else if (auto cookie = c.security.carrier().from_cookie(c.request))
        token = std::move(*cookie);
    auto verified = c.security.check_token(token);
    const std::string digest = digest_of(token);
    const std::int64_t expiry = seconds_since_epoch(verified.expiry);
    c.q.revoke_token(digest, expiry);
    if (const cache::SharedCache* shared = c.security.shared_cache()) {
        c.db.finish(true);  // durable first: Redis is only a cache of it
        after_shared_write(shared->revoked(digest, expiry));
    }
    after_notification(c, "t:" + digest);
    // A login in the second this token was issued would be given this very token back (the
    // course's format carries its expiry to the second, nothing else that varies): answer once
    // that second has passed. Only a logout within a second of its login waits (< 1 s).
    const auto next_second = verified.expiry - c.security.token_delay() + std::chrono::seconds(1);
    if (std::chrono::system_clock::now() < next_second)
        std::this_thread::sleep_until(next_second + std::chrono::milliseconds(5));
}

void credentials_changed(SecurityScope& c, std::string_view login) {
    c.security.password_cache().forget(login);
    auto generation = c.q.credentials_changed(login);
    if (const cache::SharedCache* shared = c.security.shared_cache()) {
        c.db.finish(true);  // durable first: Redis is only a cache of it
        after_shared_write(generation && shared->credentials_changed(login, *generation));
    }
    after_notification(c, login.size() <= 4000 ? "c:" + std::string(login) : "*");
    auto now = std::chrono::system_clock::now();
    std::this_thread::sleep_until(std::chrono::ceil<std::chrono::seconds>(now) +
                                  std::chrono::milliseconds(5));
}

}  // namespace kiva
