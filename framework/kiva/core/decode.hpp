#pragma once
/// @file
/// Decoding of client bytes: percent-encoding (lenient), UTF-8 validation, urlencoded forms.

#include <functional>
#include <string>
#include <string_view>

#include "kiva/core/utf8.hpp"

namespace kiva {

/// Decodes %XX escapes; a '%' not followed by two hex digits stays a literal '%'
/// (so `filter=C%` means "C%"). With plus_is_space, '+' decodes to a space (forms, query strings).
std::string percent_decode(std::string_view text, bool plus_is_space = true);

/// Calls on_pair(name, value) for each `name=value` of an application/x-www-form-urlencoded
/// text (query strings too), both percent-decoded. Empty pieces (`a=1&&b=2`) are skipped;
/// a piece without '=' is a name with an empty value.
void parse_urlencoded(std::string_view text,
                      const std::function<void(std::string name, std::string value)>& on_pair);

}  // namespace kiva
