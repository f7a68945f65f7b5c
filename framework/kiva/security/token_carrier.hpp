#pragma once
/// @file
/// Where a client presents its token: the Authorization header (Bearer, for apps and curl)
/// and, when token_carrier lists "cookie", an HttpOnly cookie set by /login for a browser
/// front end, so that no script of the page can read the token. A cookie is sent by the
/// browser on its own, so a request it carries could be forged by another site (CSRF):
/// SameSite=Strict keeps it off cross-site requests, and unsafe methods must also carry a
/// custom header (csrf_header), which a page of another origin cannot add without a CORS
/// preflight that cors_origins refuses (OWASP's "custom request header" defense).

#include <optional>
#include <string>
#include <string_view>

namespace kiva {

class Request;
struct Config;

class TokenCarrier {
  public:
    explicit TokenCarrier(const Config& config);

    bool bearer() const { return bearer_; }
    bool cookie() const { return cookie_; }
    const std::string& cookie_name() const { return cookie_name_; }
    const std::string& csrf_header() const { return csrf_header_; }

    /// The token of the request's cookie, or nullopt (no cookie carrier, no such cookie, or
    /// a value that is not ours). Cookie values are base64url: a login may hold ';' or ','.
    std::optional<std::string> from_cookie(const Request& request) const;
    /// Throws HttpError 403 when a cookie-carried token comes with an unsafe method and
    /// without the CSRF header.
    void check_csrf(const Request& request) const;

    /// Set-Cookie value carrying token for max_age seconds.
    std::string set_cookie(std::string_view token, long long max_age) const;
    /// Set-Cookie value that makes the browser forget the token (logout).
    std::string clear_cookie() const;

  private:
    bool bearer_ = true;
    bool cookie_ = false;
    std::string cookie_name_;
    std::string csrf_header_;
};

}  // namespace kiva
