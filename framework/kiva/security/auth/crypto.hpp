#pragma once

#include <cstddef>
#include <string>
#include <string_view>

/// Thin wrappers over OpenSSL's libcrypto for the few primitives authentication needs.
/// Byte strings are carried in std::string; "raw" means binary, not hex.
namespace kiva::auth {

/// HMAC-SHA256 of data under key (RFC 2104), as 32 raw bytes. Throws std::runtime_error
/// if OpenSSL fails.
std::string hmac_sha256(std::string_view key, std::string_view data);

/// SHA-256 of data, as 32 raw bytes.
std::string sha256(std::string_view data);

/// Lowercase hexadecimal of bytes, two digits per byte.
std::string to_hex(std::string_view bytes);

/// Equality whose time depends on the lengths only, never on where the contents differ.
/// Strings of different lengths are unequal (their lengths are not secret).
bool constant_time_equal(std::string_view a, std::string_view b);

/// n bytes from OpenSSL's CSPRNG; throws std::runtime_error if it cannot provide them.
std::string random_bytes(std::size_t n);

}  // namespace kiva::auth
