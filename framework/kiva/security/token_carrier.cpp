#include "kiva/security/token_carrier.hpp"

#include <cctype>
#include <stdexcept>

#include "kiva/core/config.hpp"
#include "kiva/core/text.hpp"
#include "kiva/http/http_error.hpp"
#include "kiva/http/request.hpp"
#include "kiva/security/auth/base64.hpp"

namespace kiva {

namespace {

bool safe_method(std::string_view method) {
    return method == "GET" || method == "HEAD" || method == "OPTIONS";
}

}  // namespace

TokenCarrier::TokenCarrier(const Config& config)
    : cookie_name_(config.token_cookie.empty() ? "__Host-" + config.app_name + "-token"
                                               : config.token_cookie),
      csrf_header_(config.csrf_header) {
    bearer_ = cookie_ = false;
    for (const auto& c : config.token_carrier) {
        if (c == "bearer") bearer_ = true;
        if (c == "cookie") cookie_ = true;
    }
    if (!cookie_) return;
    bool name_ok = !cookie_name_.empty();
    for (unsigned char ch : cookie_name_)
        if (!std::isalnum(ch) && ch != '-' && ch != '_') name_ok = false;
    if (!name_ok)
        throw std::runtime_error("token cookie name \"" + cookie_name_ +
                                 "\": letters, digits, - or _ (set token_cookie)");
}

std::optional<std::string> TokenCarrier::from_cookie(const Request& request) const {
    if (!cookie_) return std::nullopt;
    // Cookie: a=1; b=2 (RFC 6265 §5.4); the first of a repeated name wins, as browsers
    // send the most specific first.
    std::string_view header = request.header("Cookie");
    while (!header.empty()) {
        std::size_t end = header.find(';');
        std::string_view pair = trim_ows(header.substr(0, end));
        header = end == std::string_view::npos ? std::string_view{} : header.substr(end + 1);
        std::size_t eq = pair.find('=');
        if (eq == std::string_view::npos || trim_ows(pair.substr(0, eq)) != cookie_name_) continue;
        std::optional<std::string> token = auth::base64url_decode(trim_ows(pair.substr(eq + 1)));
        if (!token || token->empty()) return std::nullopt;
        return token;
    }
    return std::nullopt;
}

void TokenCarrier::check_csrf(const Request& request) const {
    if (safe_method(request.method())) return;
    if (request.header(csrf_header_).empty())
        throw HttpError(403, "missing " + csrf_header_ +
                                 " header: required with a token cookie on " +
                                 std::string(request.method()) + " (CSRF protection)");
}

std::string TokenCarrier::set_cookie(std::string_view token, long long max_age) const {
    return cookie_name_ + "=" + auth::base64url_encode(token) +
           "; Path=/; Max-Age=" + std::to_string(max_age) + "; HttpOnly; Secure; SameSite=Strict";
}

std::string TokenCarrier::clear_cookie() const {
    return cookie_name_ + "=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Strict";
}

}  // namespace kiva
