// libFuzzer target: route matching on arbitrary paths, and route patterns from arbitrary text.
// The first byte picks the method, the rest is the path, matched against a fixed table with
// every segment type. Invariants: a match has the right method, one non-empty capture per
// pattern name, each a view into the path, typed captures parse as their type; no match gives
// no capture and an Allow list that is sorted, without duplicates and without the method.
// The same bytes as a pattern only ever throw std::invalid_argument, and a pattern that parses
// matches a path built from it. With a newline, "pattern\npath" is also matched directly.

#include "kiva/http/router.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

using Captures = std::vector<std::pair<std::string_view, std::string_view>>;

void check(bool ok) {
    if (!ok) std::abort();
}

const char* const methods[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "get"};

const kiva::Router<int>& table() {
    static const kiva::Router<int> router = [] {
        kiva::Router<int> r;
        int n = 0;
        r.add("GET", "/", ++n);
        r.add("GET", "/stuff", ++n);
        r.add("POST", "/stuff", ++n);
        r.add("GET", "/stuff/<sid:int>", ++n);
        r.add("PUT", "/stuff/<sid:int>", ++n);
        r.add("PATCH", "/stuff/<sid:int>", ++n);
        r.add("DELETE", "/stuff/<sid:int>", ++n);
        r.add("GET", "/users/<name>/items/<x:float>", ++n);
        r.add("GET", "/users/<name:str>", ++n);
        r.add("POST", "/cmp/<a:int>/<b:int>", ++n);
        r.add("GET", "/files/<rest:path>", ++n);
        r.add("GET", "/<any>/fallback", ++n);
        return r;
    }();
    return router;
}

bool inside(std::string_view part, std::string_view whole) {
    return part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size();
}

/// Checks the captures of a successful match of pattern on path.
void check_captures(const kiva::PathPattern& pattern, std::string_view path,
                    const Captures& captures) {
    const auto names = pattern.names();
    check(captures.size() == names.size());
    std::size_t k = 0;
    for (const auto& segment : pattern.segments()) {
        if (segment.kind == kiva::PathSegment::Kind::literal) continue;
        const auto& [name, value] = captures[k++];
        check(name == segment.text);
        check(!value.empty() && inside(value, path));
        if (segment.kind != kiva::PathSegment::Kind::path)
            check(value.find('/') == std::string_view::npos);
        int64_t n;
        double d;
        if (segment.kind == kiva::PathSegment::Kind::integer) check(kiva::parse_int64(value, n));
        if (segment.kind == kiva::PathSegment::Kind::number) check(kiva::parse_double(value, d));
    }
}

void check_router(std::string_view method, std::string_view path) {
    kiva::Router<int>::Match m;
    table().match(method, path, m);
    if (m.entry) {
        check(m.entry->method == method || (method == "HEAD" && m.entry->method == "GET"));
        check(m.allow.empty());
        Captures again;
        check(m.entry->pattern.match(path, again));
        check_captures(m.entry->pattern, path, m.captures);
        return;
    }
    check(m.captures.empty());
    std::string_view allow = m.allow;
    std::string previous;
    while (!allow.empty()) {
        auto comma = allow.find(", ");
        std::string item(allow.substr(0, comma));
        allow = comma == std::string_view::npos ? std::string_view{} : allow.substr(comma + 2);
        check(!item.empty() && item != method && item > previous);
        previous = item;
    }
}

/// A path the pattern must match: each capture replaced by a value of its type.
std::string sample_path(const kiva::PathPattern& pattern) {
    std::string path;
    for (const auto& s : pattern.segments()) {
        path += '/';
        switch (s.kind) {
            case kiva::PathSegment::Kind::literal:
                path += s.text;
                break;
            case kiva::PathSegment::Kind::str:
                path += "x";
                break;
            case kiva::PathSegment::Kind::integer:
                path += "-12";
                break;
            case kiva::PathSegment::Kind::number:
                path += "1.5e3";
                break;
            case kiva::PathSegment::Kind::path:
                path += "a/b/";
                break;
            case kiva::PathSegment::Kind::uuid:
                path += "123e4567-e89b-12d3-a456-426614174000";
                break;
            case kiva::PathSegment::Kind::date:
                path += "2024-02-29";
                break;
            case kiva::PathSegment::Kind::datetime:
                path += "2024-02-29T10:11:12Z";
                break;
        }
    }
    return path.empty() ? "/" : path;
}

void check_pattern(std::string_view text) {
    try {
        const kiva::PathPattern pattern(text);
        check(pattern.text() == text);
        const auto names = pattern.names();
        for (std::size_t i = 0; i < names.size(); ++i)
            for (std::size_t j = 0; j < i; ++j) check(names[i] != names[j]);
        const std::string path = sample_path(pattern);
        Captures captures;
        check(pattern.match(path, captures));
        check_captures(pattern, path, captures);
    } catch (const std::invalid_argument&) {
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::string_view method = methods[data[0] % (sizeof methods / sizeof methods[0])];
    const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
    check_router(method, rest);
    check_pattern(rest);

    if (auto nl = rest.find('\n'); nl != std::string_view::npos) {
        const std::string_view pattern_text = rest.substr(0, nl), path = rest.substr(nl + 1);
        try {
            const kiva::PathPattern pattern(pattern_text);
            Captures captures;
            if (pattern.match(path, captures)) check_captures(pattern, path, captures);
        } catch (const std::invalid_argument&) {
        }
    }
    return 0;
}
