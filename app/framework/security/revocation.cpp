#include "framework/security/revocation.hpp"

#include <thread>

#include "framework/context.hpp"
#include "framework/security/auth/auth_error.hpp"
#include "framework/security/auth/authorization_header.hpp"
#include "framework/security/auth/crypto.hpp"

namespace kiva {

namespace {

/// Tokens are kept by digest: the table holds nothing that could be presented again.
std::string digest_of(std::string_view token) {
    return auth::to_hex(auth::sha256(token));
}

}  // namespace

void check_not_revoked(Context& c, std::string_view token, const auth::VerifiedToken& verified) {
    if (!c.security.shared_state()) return;
    auto state = c.q.token_state(digest_of(token), verified.login);
    if (!state) return;
    if (state->revoked.value_or(false)) throw auth::AuthError("invalid token");
    if (state->changed_at) {
        // Whole seconds: a token of the same second as the change is refused too (safe side).
        auto issued = (verified.expiry - c.security.token_delay()).time_since_epoch().count();
        if (static_cast<double>(issued) < *state->changed_at) throw auth::AuthError("invalid token");
    }
}

void revoke_request_token(Context& c) {
    // The token that authenticated the request: the header's when there is one (as
    // App::authenticate decides), else the cookie's.
    std::string token;
    std::string_view header = c.request.header("Authorization");
    if (!header.empty())
        token = auth::parse_authorization(header).token;
    else if (auto cookie = c.security.carrier().from_cookie(c.request))
        token = std::move(*cookie);
    auto verified = c.security.check_token(token);
    c.q.revoke_token(digest_of(token),
                     static_cast<int64_t>(verified.expiry.time_since_epoch().count()));
}

void credentials_changed(Context& c, std::string_view login) {
    c.security.password_cache().forget(login);
    c.q.credentials_changed(login);
    auto now = std::chrono::system_clock::now();
    std::this_thread::sleep_until(std::chrono::ceil<std::chrono::seconds>(now) +
                                  std::chrono::milliseconds(5));
}

}  // namespace kiva
