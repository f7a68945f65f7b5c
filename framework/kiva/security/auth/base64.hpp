#pragma once

#include <optional>
#include <string>
#include <string_view>

/// Base64 codecs of RFC 4648, strict on input: no whitespace, no foreign characters.
namespace kiva::auth {

/// Standard alphabet (RFC 4648 §4), padded with '='.
std::string base64_encode(std::string_view bytes);

/// Decodes the standard alphabet, with or without '=' padding; padding, when present, must
/// be complete. Returns nullopt on any character outside the alphabet (whitespace included),
/// misplaced or partial padding, or an impossible length. Non-zero trailing bits are ignored.
std::optional<std::string> base64_decode(std::string_view text);

/// URL-safe alphabet (RFC 4648 §5, '-' and '_'), without padding, as JWT wants it.
std::string base64url_encode(std::string_view bytes);

/// Decodes the URL-safe alphabet without padding: '=' is rejected like any foreign character.
std::optional<std::string> base64url_decode(std::string_view text);

}  // namespace kiva::auth
