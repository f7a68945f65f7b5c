#pragma once
/// @file
/// Authentication: who the client is, by the schemes a route accepts (FlaskSimpleAuth's
/// get_user). In order: the front end's REMOTE_USER (httpd), the Authorization header (Basic
/// or Bearer), the token cookie (with its CSRF check), the USER and PASS parameters. A password
/// is throttled (429), then looked up in the cache, then checked against the application's
/// hash (password_lookup) and rehashed when its scheme is outdated (password_update); a token
/// is verified, then checked against the revocations. A failure is a 401 with the route's
/// WWW-Authenticate challenge. It lives on the application floor because the callbacks take
/// the request's Context; the checks themselves are security's, given a SecurityScope.

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kiva/app/context.hpp"
#include "kiva/security/security.hpp"

namespace kiva {

namespace observe {
class Metrics;
}

/// The password hash of a login, or nullopt when there is no such user.
using PasswordLookup = std::function<std::optional<std::string>(Context&, std::string_view login)>;
/// Stores a new hash of the same password (a transparent rehash to the configured scheme).
using PasswordUpdate =
    std::function<void(Context&, std::string_view login, const std::string& hash)>;

/// Whether s is one of the schemes.
bool accepts(const std::vector<AuthScheme>& schemes, AuthScheme s);

/// A client's text (a login, a parameter name) echoed in an error message: bounded, so that
/// a huge header does not make a huge answer.
std::string shown(std::string_view text);

class Authentication {
  public:
    /// security: the App's, which outlives this.
    explicit Authentication(const Security& security) : security_(security) {}

    void password_lookup(PasswordLookup f) { password_lookup_ = std::move(f); }
    void password_update(PasswordUpdate f) { password_update_ = std::move(f); }
    bool has_password_lookup() const { return static_cast<bool>(password_lookup_); }
    /// Where authentication failures and password cache results are counted (optional).
    void observe(observe::Metrics* metrics) { metrics_ = metrics; }

    /// The login the request's credentials prove, by one of schemes; nullopt when it brings
    /// none and they are not required. Throws HttpError: 401 (with the challenge), 429.
    std::optional<std::string> authenticate(Context& c, const std::vector<AuthScheme>& schemes,
                                            bool required) const;

  private:
    /// Throttled (429 when locked), then cached, then bcrypt; throws auth::AuthError.
    void check_password(Context& c, std::string_view scheme, const std::string& login,
                        const std::string& password) const;

    const Security& security_;
    PasswordLookup password_lookup_;
    PasswordUpdate password_update_;
    observe::Metrics* metrics_ = nullptr;
};

}  // namespace kiva
