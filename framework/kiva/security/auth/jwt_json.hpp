#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

/// The little JSON that JWT needs: flat objects (a JOSE header, a claims set).
namespace kiva::auth {

/// A top-level member of a JSON object. Strings and integers are kept; anything else
/// (null, boolean, fraction, array, object, integer beyond int64) is only known to exist.
struct JsonMember {
    enum class Kind { string, integer, other };
    Kind kind = Kind::other;
    std::string text;          ///< when kind == string
    std::int64_t integer = 0;  ///< when kind == integer
};

using JsonObject = std::map<std::string, JsonMember, std::less<>>;

/// The members of a JSON object (RFC 8259, strict UTF-8), or nullopt when json is not one,
/// repeats a member name (RFC 7515 §4 lets us refuse), or nests deeper than 16 levels.
std::optional<JsonObject> parse_json_object(std::string json);

/// utf8 as a quoted, escaped JSON string; throws std::invalid_argument if not valid UTF-8.
std::string json_string(std::string_view utf8);

}  // namespace kiva::auth
