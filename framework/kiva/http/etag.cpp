#include "kiva/http/etag.hpp"

#include <openssl/sha.h>

#include "kiva/core/text.hpp"

namespace kiva::etag {

std::string of(std::string_view body) {
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(body.data()), body.size(), digest);
    static constexpr char hex[] = "0123456789abcdef";
    std::string tag;
    tag.reserve(34);
    tag.push_back('"');
    for (int i = 0; i < 16; ++i) {
        tag.push_back(hex[digest[i] >> 4]);
        tag.push_back(hex[digest[i] & 0xf]);
    }
    tag.push_back('"');
    return tag;
}

namespace {

/// etagc = %x21 / %x23-7E / obs-text
bool etagc(unsigned char c) {
    return c == 0x21 || (c >= 0x23 && c <= 0x7e) || c >= 0x80;
}

}  // namespace

std::optional<Tag> parse_tag(std::string_view s) {
    Tag t;
    if (s.substr(0, 2) == "W/") {
        t.weak = true;
        s.remove_prefix(2);
    }
    if (s.size() < 2 || s.front() != '"' || s.back() != '"') return std::nullopt;
    s = s.substr(1, s.size() - 2);
    for (unsigned char c : s)
        if (!etagc(c)) return std::nullopt;
    t.opaque = s;
    return t;
}

std::optional<Condition> parse(std::string_view value) {
    Condition c;
    value = trim_ows(value);
    if (value == "*") {
        c.any = true;
        return c;
    }
    while (!value.empty()) {
        // An element ends at the comma after its closing quote (a quoted tag may hold commas).
        std::size_t end;
        std::string_view rest = trim_ows(value);
        if (rest.empty()) break;
        if (rest.front() == ',') {  // an empty element
            value = rest.substr(1);
            continue;
        }
        std::size_t open = rest.find('"');
        if (open == std::string_view::npos) return std::nullopt;
        std::size_t close = rest.find('"', open + 1);
        if (close == std::string_view::npos) return std::nullopt;
        end = close + 1;
        auto tag = parse_tag(rest.substr(0, end));
        if (!tag) return std::nullopt;
        c.tags.push_back(*tag);
        rest = trim_ows(rest.substr(end));
        if (!rest.empty() && rest.front() != ',') return std::nullopt;
        value = rest.empty() ? rest : rest.substr(1);
    }
    if (c.tags.empty()) return std::nullopt;
    return c;
}

bool none_match_hits(const Condition& c, std::string_view current) {
    if (c.any) return true;
    auto now = parse_tag(current);
    if (!now) return false;
    for (const auto& t : c.tags)
        if (weak_equal(t, *now)) return true;
    return false;
}

bool match_holds(const Condition& c, const std::optional<std::string>& current) {
    if (!current) return false;
    if (c.any) return true;
    auto now = parse_tag(*current);
    if (!now) return false;
    for (const auto& t : c.tags)
        if (strong_equal(t, *now)) return true;
    return false;
}

}  // namespace kiva::etag
