#pragma once

#include <string_view>

namespace kiva {

/// True when text is well-formed UTF-8 (RFC 3629): no overlong forms, no surrogates,
/// nothing above U+10FFFF, no truncated sequence. Never reads outside text.
bool is_valid_utf8(std::string_view text);

}  // namespace kiva
