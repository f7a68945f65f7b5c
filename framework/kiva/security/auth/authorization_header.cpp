#include "kiva/security/auth/authorization_header.hpp"

#include "kiva/core/text.hpp"
#include "kiva/core/utf8.hpp"
#include "kiva/security/auth/auth_error.hpp"
#include "kiva/security/auth/base64.hpp"

#include <algorithm>

namespace kiva::auth {
namespace {

constexpr const char* unexpected_scheme = "unexpected authorization scheme";
constexpr const char* invalid_basic = "invalid basic authorization header";
constexpr const char* invalid_bearer = "invalid bearer token";

bool iequals(std::string_view a, std::string_view b) {
    const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; };
    return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                      [&](char x, char y) { return lower(x) == lower(y); });
}

bool has_control(std::string_view s) {
    return std::any_of(s.begin(), s.end(), [](char c) {
        const auto byte = static_cast<unsigned char>(c);
        return byte < 0x20 || byte == 0x7F;
    });
}

bool is_acceptable_text(std::string_view s) {
    return !s.empty() && !has_control(s) && is_valid_utf8(s);
}

Credentials parse_basic(std::string_view value) {
    const auto decoded = base64_decode(value);
    if (!decoded) throw AuthError(invalid_basic);
    const std::string_view pair = *decoded;
    const auto colon = pair.find(':');
    if (colon == std::string_view::npos) throw AuthError(invalid_basic);
    Credentials credentials{
        Scheme::basic, std::string(pair.substr(0, colon)), std::string(pair.substr(colon + 1)), {}};
    if (!is_acceptable_text(credentials.login) || !is_acceptable_text(credentials.password))
        throw AuthError(invalid_basic);
    return credentials;
}

Credentials parse_bearer(std::string_view value) {
    const bool printable = std::all_of(value.begin(), value.end(), [](char c) {
        return static_cast<unsigned char>(c) > 0x20 && static_cast<unsigned char>(c) < 0x7F;
    });
    if (value.empty() || !printable) throw AuthError(invalid_bearer);
    return Credentials{Scheme::bearer, {}, {}, std::string(value)};
}

}  // namespace

Credentials parse_authorization(std::string_view header) {
    header = trim_ows(header);
    const auto end_of_scheme = std::min(header.find_first_of(" \t"), header.size());
    const auto scheme = header.substr(0, end_of_scheme);
    const auto value = trim_ows(header.substr(end_of_scheme));
    if (iequals(scheme, "basic")) return parse_basic(value);
    if (iequals(scheme, "bearer")) return parse_bearer(value);
    throw AuthError(unexpected_scheme);
}

}  // namespace kiva::auth
