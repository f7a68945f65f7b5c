#include "kiva/http/router.hpp"

#include "kiva/core/values.hpp"

#include <charconv>
#include <cmath>
#include <stdexcept>

namespace kiva {

bool parse_int64(std::string_view text, int64_t& out) {
    if (text.empty()) return false;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc{} && end == text.data() + text.size();
}

bool parse_double(std::string_view text, double& out) {
    if (text.empty()) return false;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc{} && end == text.data() + text.size() && std::isfinite(out);
}

PathPattern::PathPattern(std::string_view pattern) : text_(pattern) {
    auto fail = [&](const std::string& why) {
        throw std::invalid_argument("bad route pattern \"" + std::string(pattern) + "\": " + why);
    };
    if (pattern.empty() || pattern.front() != '/') fail("must start with '/'");
    std::string_view rest = pattern.substr(1);
    if (rest.empty()) return;  // "/" itself
    std::vector<std::string> names;
    while (true) {
        auto slash = rest.find('/');
        std::string_view seg = rest.substr(0, slash);
        if (seg.empty()) fail("empty segment");
        PathSegment s;
        if (seg.front() == '<') {
            if (seg.back() != '>') fail("unclosed '<'");
            std::string_view inner = seg.substr(1, seg.size() - 2);
            auto colon = inner.find(':');
            std::string_view name = inner.substr(0, colon);
            std::string_view type =
                colon == std::string_view::npos ? "str" : inner.substr(colon + 1);
            if (name.empty()) fail("capture without a name");
            if (type == "str" || type == "string")
                s.kind = PathSegment::Kind::str;
            else if (type == "int")
                s.kind = PathSegment::Kind::integer;
            else if (type == "float")
                s.kind = PathSegment::Kind::number;
            else if (type == "path")
                s.kind = PathSegment::Kind::path;
            else if (type == "uuid")
                s.kind = PathSegment::Kind::uuid;
            else if (type == "date")
                s.kind = PathSegment::Kind::date;
            else if (type == "datetime")
                s.kind = PathSegment::Kind::datetime;
            else
                fail("unknown type \"" + std::string(type) +
                     "\" (str, int, float, uuid, date, datetime, path)");
            for (const auto& n : names)
                if (n == name) fail("duplicate name \"" + std::string(name) + "\"");
            names.emplace_back(name);
            s.text = std::string(name);
        } else {
            if (seg.find_first_of("<>") != std::string_view::npos) fail("stray '<' or '>'");
            s.text = std::string(seg);
        }
        bool last = slash == std::string_view::npos;
        if (s.kind == PathSegment::Kind::path && !last) fail("a path capture must come last");
        segments_.push_back(std::move(s));
        if (last) break;
        rest = rest.substr(slash + 1);
    }
}

std::string PathPattern::shape() const {
    static const char* const kinds[] = {"",       "<str>",  "<int>",  "<float>",
                                        "<path>", "<uuid>", "<date>", "<datetime>"};
    std::string out;
    for (const auto& s : segments_)
        out += "/" + (s.kind == PathSegment::Kind::literal
                          ? s.text
                          : std::string(kinds[static_cast<int>(s.kind)]));
    return out.empty() ? "/" : out;
}

std::vector<std::string> PathPattern::names() const {
    std::vector<std::string> out;
    for (const auto& s : segments_)
        if (s.kind != PathSegment::Kind::literal) out.push_back(s.text);
    return out;
}

bool PathPattern::match(
    std::string_view path,
    std::vector<std::pair<std::string_view, std::string_view>>& captures) const {
    if (path.empty() || path.front() != '/') return false;
    std::string_view rest = path.substr(1);
    if (segments_.empty()) return rest.empty();
    for (std::size_t i = 0; i < segments_.size(); ++i) {
        const auto& s = segments_[i];
        if (s.kind == PathSegment::Kind::path) {
            if (rest.empty()) return false;
            captures.emplace_back(s.text, rest);
            return true;
        }
        auto slash = rest.find('/');
        bool last_in_path = slash == std::string_view::npos;
        std::string_view seg = rest.substr(0, slash);
        bool last_in_pattern = i + 1 == segments_.size();
        if (last_in_path != last_in_pattern) return false;
        switch (s.kind) {
            case PathSegment::Kind::literal:
                if (seg != s.text) return false;
                break;
            case PathSegment::Kind::str:
                if (seg.empty()) return false;
                captures.emplace_back(s.text, seg);
                break;
            case PathSegment::Kind::integer: {
                int64_t ignored;
                if (!parse_int64(seg, ignored)) return false;
                captures.emplace_back(s.text, seg);
                break;
            }
            case PathSegment::Kind::number: {
                double ignored;
                if (!parse_double(seg, ignored)) return false;
                captures.emplace_back(s.text, seg);
                break;
            }
            case PathSegment::Kind::uuid:
            case PathSegment::Kind::date:
            case PathSegment::Kind::datetime: {
                bool ok = s.kind == PathSegment::Kind::uuid   ? Uuid::parse(seg).has_value()
                          : s.kind == PathSegment::Kind::date ? Date::parse(seg).has_value()
                                                              : DateTime::parse(seg).has_value();
                if (!ok) return false;
                captures.emplace_back(s.text, seg);
                break;
            }
            case PathSegment::Kind::path:
                break;  // handled above
        }
        if (!last_in_path) rest = rest.substr(slash + 1);
    }
    return true;
}

}  // namespace kiva
