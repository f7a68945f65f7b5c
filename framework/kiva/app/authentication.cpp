// Authentication: the credentials a route's schemes accept, checked (see authentication.hpp).
#include "kiva/app/authentication.hpp"

#include <algorithm>
#include <chrono>

#include "kiva/observe/metrics.hpp"
#include "kiva/security/auth/auth_error.hpp"
#include "kiva/security/auth/authorization_header.hpp"
#include "kiva/security/auth/password.hpp"
#include "kiva/security/revocation.hpp"

namespace kiva {

bool accepts(const std::vector<AuthScheme>& schemes, AuthScheme s) {
    return std::find(schemes.begin(), schemes.end(), s) != schemes.end();
}

std::string shown(std::string_view text) {
    if (text.size() <= 100) return std::string(text);
    std::size_t cut = 100;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80)
        --cut;  // whole characters
    return std::string(text.substr(0, cut)) + "...";
}

std::optional<std::string> Authentication::authenticate(Context& c,
                                                        const std::vector<AuthScheme>& schemes,
                                                        bool required) const {
    bool basic = accepts(schemes, AuthScheme::basic), token = accepts(schemes, AuthScheme::token),
         param = accepts(schemes, AuthScheme::param), httpd = accepts(schemes, AuthScheme::httpd);
    bool token_only = token && !basic && !param && !httpd;
    auto unauthorized = [&](const std::string& message) -> HttpError {
        std::vector<HttpError::Header> headers;
        std::string challenge = security_.challenge(schemes);
        if (!challenge.empty()) headers.emplace_back("WWW-Authenticate", challenge);
        return HttpError(401, message, std::move(headers));
    };
    std::string_view tried = "none";  // the scheme that failed, for the metrics
    try {
        if (httpd) {
            // The front end authenticated the client (Apache AuthType...): trust it.
            std::string_view remote = c.request.var("REMOTE_USER");
            if (!remote.empty()) return std::string(remote);
        }
        std::string_view header = c.request.header("Authorization");
        if (!header.empty()) {
            auth::Credentials credentials = auth::parse_authorization(header);
            tried = credentials.scheme == auth::Scheme::basic ? "basic" : "token";
            if (credentials.scheme == auth::Scheme::basic) {
                if (!basic)
                    throw auth::AuthError(token_only ? "missing token"
                                                     : "unexpected authorization scheme");
                check_password(c, "basic", credentials.login, credentials.password);
                return credentials.login;
            }
            if (!token) throw auth::AuthError("unexpected authorization scheme");
            if (!security_.carrier().bearer())
                throw auth::AuthError("unexpected authorization scheme: tokens are carried by cookie");
            auth::VerifiedToken verified = security_.check_token(credentials.token);
            auto scope = c.security_scope();
            check_not_revoked(scope, credentials.token, verified);
            return verified.login;
        }
        if (token) {
            if (std::optional<std::string> cookie = security_.carrier().from_cookie(c.request)) {
                tried = "token";
                security_.carrier().check_csrf(c.request);
                auth::VerifiedToken verified = security_.check_token(*cookie);
                auto scope = c.security_scope();
                check_not_revoked(scope, *cookie, verified);
                return verified.login;
            }
        }
        if (param) {
            if (const ParamValue* user = c.params.find("USER")) {
                tried = "param";
                std::string login = ParamConverter<std::string>::convert(*user);
                const ParamValue* pass = c.params.find("PASS");
                if (!pass) throw auth::AuthError("missing PASS parameter");
                check_password(c, "param", login, ParamConverter<std::string>::convert(*pass));
                return login;
            }
        }
    } catch (const auth::AuthError& e) {
        if (metrics_) metrics_->auth_failure(tried, observe::auth_failure_reason(e.what()));
        throw unauthorized(e.what());
    }
    if (required && metrics_) metrics_->auth_failure("none", "missing_credentials");
    if (required) throw unauthorized(token_only ? "missing token" : "missing authorization header");
    return std::nullopt;
}

void Authentication::check_password(Context& c, std::string_view scheme, const std::string& login,
                                    const std::string& password) const {
    const Throttle& throttle = security_.throttle();
    SecurityScope scope = c.security_scope();
    Throttle::State state = throttle.state(scope, login, password);
    if (state.retry_after) {
        // Refused before any bcrypt: a locked login costs the server one indexed read.
        if (metrics_) metrics_->auth_failure(scheme, "throttled");
        throw HttpError(429, "too many failed attempts, retry later",
                        {{"Retry-After", std::to_string(std::max(1, *state.retry_after))}});
    }
    bool known = state.shared ? state.known_good
                              : security_.password_cache().known_good(
                                    login, password, std::chrono::steady_clock::now(),
                                    state.credentials_generation);
    if (metrics_) metrics_->password_cache(known);
    if (known) return;
    std::optional<std::string> hash = password_lookup_(c, login);
    bool good = security_.verify_password(password, hash ? *hash : security_.decoy_hash());
    if (!hash || !good) {
        throttle.failed(scope, login, state);
        if (!hash) throw auth::AuthError("no such user: " + shown(login));
        throw auth::AuthError("invalid password for " + shown(login));
    }
    throttle.succeeded(scope, login, state);
    // Not a password change: the same password, in today's scheme and cost.
    if (password_update_ && security_.needs_rehash(*hash))
        password_update_(c, login, security_.hash_password(password));
    throttle.remember(scope, login, password, state);
}

}  // namespace kiva
