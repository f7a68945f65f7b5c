#pragma once
/// @file
/// Entity tags (RFC 9110 8.8.3) and the conditional headers that carry them: the strong tag
/// of a body, the parsing of `If-None-Match` / `If-Match` lists, weak and strong comparison
/// (RFC 9110 8.8.3.2). Pure functions, without I/O: unit-tested and fuzzed
/// (tests/fuzz/fuzz_conditional.cpp).

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kiva::etag {

/// The strong entity tag of a representation: `"` + the first 128 bits of the SHA-256 of its
/// bytes, in 32 lowercase hexadecimal digits + `"`. The same bytes give the same tag on every
/// host and process (no key, no time), different bytes a different one.
std::string of(std::string_view body);

/// One entity tag of a list: `W/"xyz"` is {weak, "xyz"}; opaque excludes the quotes.
struct Tag {
    bool weak = false;
    std::string_view opaque;
};

/// An `If-None-Match` or `If-Match` value: `*`, or a list of entity tags.
struct Condition {
    bool any = false;  ///< `*`
    std::vector<Tag> tags;
};

/// Parses `*` or `#entity-tag` (commas, optional white space, empty elements allowed as RFC
/// 9110 5.6.1 says). nullopt when malformed (an unquoted tag, a stray character, `*` in a
/// list, nothing at all). The views point into value.
std::optional<Condition> parse(std::string_view value);

/// The tag in `"..."` or `W/"..."` form (what `ETag` carries); nullopt when malformed.
std::optional<Tag> parse_tag(std::string_view tag);

/// Weak comparison: the opaque tags are equal, whatever their weakness.
inline bool weak_equal(const Tag& a, const Tag& b) { return a.opaque == b.opaque; }
/// Strong comparison: both strong and their opaque tags equal.
inline bool strong_equal(const Tag& a, const Tag& b) {
    return !a.weak && !b.weak && a.opaque == b.opaque;
}

/// Whether an `If-None-Match` condition matches the current tag (weak comparison): then a GET
/// or HEAD is answered 304. `*` matches any current representation.
bool none_match_hits(const Condition& c, std::string_view current);

/// Whether an `If-Match` condition holds (strong comparison): `*` holds when there is a current
/// representation; a list when one of its tags equals the current one. current: the tag
/// (`"..."`), or nullopt when the resource has no current representation.
bool match_holds(const Condition& c, const std::optional<std::string>& current);

}  // namespace kiva::etag
