#pragma once
/// @file
/// Router: method + path pattern -> route. Patterns have typed segments,
/// `/stuff/<sid:int>`; a segment that does not parse as its type is no match (404).
/// A path known under other methods gives 405 with an Allow list.

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kiva {

/// One segment of a pattern: a literal, or a typed capture.
struct PathSegment {
    enum class Kind { literal, str, integer, number, path, uuid, date, datetime };
    Kind kind = Kind::literal;
    std::string text;  ///< the literal, or the capture's name
};

/// A parsed pattern. Types: str (default, one non-empty segment), int (64-bit signed),
/// float, uuid, date, datetime (see values.hpp), path (the rest of the path, last segment only).
class PathPattern {
  public:
    /// Throws std::invalid_argument on a malformed pattern (unknown type, duplicate name...).
    explicit PathPattern(std::string_view pattern);

    /// Matches a request path; captures get (name, text) pairs on success.
    bool match(std::string_view path,
               std::vector<std::pair<std::string_view, std::string_view>>& captures) const;

    const std::string& text() const { return text_; }
    /// The pattern without capture names ("/stuff/<int>"): two routes of one shape collide.
    std::string shape() const;
    const std::vector<PathSegment>& segments() const { return segments_; }
    /// The capture names, in order.
    std::vector<std::string> names() const;

  private:
    std::string text_;
    std::vector<PathSegment> segments_;
};

/// True when text is a complete base-10 int64 ("-12", not "+1", " 1" or "1x").
bool parse_int64(std::string_view text, int64_t& out);
/// True when text is a complete finite floating-point number.
bool parse_double(std::string_view text, double& out);

/// Route table, generic in what a route carries (the application stores handlers in it).
template <typename RouteData>
class Router {
  public:
    using Captures = std::vector<std::pair<std::string_view, std::string_view>>;

    struct Entry {
        std::string method;
        PathPattern pattern;
        RouteData data;
    };

    struct Match {
        const Entry* entry = nullptr;  ///< null: see allow
        Captures captures;
        /// When no entry: methods accepted on this path ("GET, HEAD, POST"), empty for 404.
        std::string allow;
    };

    /// Throws std::invalid_argument for a duplicate method + pattern.
    void add(std::string method, std::string_view pattern, RouteData data) {
        PathPattern parsed(pattern);
        for (const auto& e : entries_)
            if (e.method == method && e.pattern.shape() == parsed.shape())
                throw std::invalid_argument("route declared twice: " + method + " " +
                                            parsed.text());
        entries_.push_back(Entry{std::move(method), std::move(parsed), std::move(data)});
    }

    /// HEAD is served by the GET route of the path.
    void match(std::string_view method, std::string_view path, Match& out) const {
        out.entry = nullptr;
        out.allow.clear();
        bool found_path = false;
        std::vector<std::string_view> methods;
        for (const auto& e : entries_) {
            out.captures.clear();
            if (!e.pattern.match(path, out.captures)) continue;
            if (e.method == method || (method == "HEAD" && e.method == "GET")) {
                out.entry = &e;
                return;
            }
            found_path = true;
            methods.push_back(e.method);
            if (e.method == "GET") methods.push_back("HEAD");
        }
        out.captures.clear();
        if (!found_path) return;
        std::sort(methods.begin(), methods.end());
        methods.erase(std::unique(methods.begin(), methods.end()), methods.end());
        for (auto m : methods) {
            if (!out.allow.empty()) out.allow += ", ";
            out.allow += m;
        }
    }

    const std::vector<Entry>& entries() const { return entries_; }
    /// What entry i carries, to complete it after add() (its documentation).
    RouteData& data(std::size_t i) { return entries_[i].data; }

  private:
    std::vector<Entry> entries_;
};

}  // namespace kiva
