#pragma once

#include <string>
#include <string_view>

/// Parsing of the HTTP Authorization header value (RFC 7617 Basic, RFC 6750 Bearer).
namespace kiva::auth {

enum class Scheme { basic, bearer };

/// What the client presented: login and password for basic, token for bearer
/// (the fields of the other scheme are left empty).
struct Credentials {
    Scheme scheme = Scheme::basic;
    std::string login;
    std::string password;
    std::string token;
};

/// Parses an Authorization header value such as "Basic Y2FsdmluOmhvYmJlcw==" or
/// "Bearer <token>". The scheme is case-insensitive, separated from its value by one or
/// more spaces or tabs; surrounding whitespace is ignored.
///
/// Basic: base64 (padded or not) of "login:password", split at the first colon so that the
/// password may contain colons. Login and password must both be non-empty, valid UTF-8,
/// without NUL, control characters (below 0x20) or DEL.
/// Bearer: a non-empty token of printable ASCII without spaces (0x21 to 0x7E).
///
/// Throws AuthError on a malformed header: "unexpected authorization scheme",
/// "invalid basic authorization header" or "invalid bearer token".
Credentials parse_authorization(std::string_view header);

}  // namespace kiva::auth
