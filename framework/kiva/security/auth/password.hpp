#pragma once

#include <string>
#include <string_view>

/// bcrypt password hashing through libxcrypt's reentrant interface (thread-safe).
/// bcrypt only uses the first 72 bytes of a password: longer passwords that share those
/// bytes are equivalent. Passwords are limited to 511 bytes without NUL (libxcrypt's limit).
namespace kiva::auth {

/// A new bcrypt hash ("$2b$" + two-digit cost + salt and digest, 60 characters) of password,
/// with a 16-byte salt from OpenSSL's RAND_bytes. The work is 2^cost rounds: each step of
/// cost doubles the time. Throws std::invalid_argument when cost is outside 4..31 or the
/// password is longer than 511 bytes or contains a NUL byte; std::runtime_error if the
/// random generator or libxcrypt fails.
std::string hash_password(std::string_view password, int cost);

/// True when password matches a bcrypt hash ($2a$, $2b$ or $2y$). Any other hash format
/// ($2x$ included), a malformed hash, or a password with a NUL byte or longer than 511 bytes
/// gives false: bad input never throws.
bool verify_password(std::string_view password, std::string_view hash);

}  // namespace kiva::auth
