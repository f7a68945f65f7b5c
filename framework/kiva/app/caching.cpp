#include "kiva/app/caching.hpp"

#include <algorithm>
#include <cctype>

#include "kiva/http/etag.hpp"

namespace kiva {

namespace {

/// The value of a header the handler set (names compared without case), or nullptr.
const std::string* find_header(const Response& r, std::string_view name) {
    for (const auto& [n, v] : r.headers)
        if (n.size() == name.size() &&
            std::equal(n.begin(), n.end(), name.begin(), [](char a, char b) {
                return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
            }))
            return &v;
    return nullptr;
}

std::optional<etag::Condition> condition(const Request& request, std::string_view header) {
    std::string_view value = request.header(header);
    if (value.empty()) return std::nullopt;
    auto parsed = etag::parse(value);
    if (!parsed)
        throw HttpError(400, "malformed " + std::string(header) +
                                 " header: expected * or a list of quoted entity tags");
    return parsed;
}

}  // namespace

void check_preconditions(Context& c, const RouteHttp& route, const HttpSettings& settings) {
    if (route.paged)
        if (auto limit = c.params.maybe<int64_t>("limit"); limit && *limit > settings.page_limit_max)
            throw HttpError(400, "limit must be at most " + std::to_string(settings.page_limit_max) +
                                     " (page_limit_max)");
    if (!route.current) return;
    auto wanted = condition(c.request, "If-Match");
    if (!wanted) return;  // no condition: the course's answers, unchanged
    std::optional<Response> now = route.current(c);
    std::optional<std::string> tag;
    if (now) tag = etag::of(now->body);
    if (etag::match_holds(*wanted, tag)) return;
    std::vector<HttpError::Header> headers;
    if (tag) headers.emplace_back("ETag", *tag);
    throw HttpError(412,
                    tag ? "precondition failed: the resource has changed (If-Match)"
                        : "precondition failed: no such resource (If-Match)",
                    std::move(headers));
}

void add_validators(const Request& request, const RouteHttp& route, bool authenticated,
                    const HttpSettings& settings, Response& response) {
    if (response.status != 200 || (request.method() != "GET" && request.method() != "HEAD")) return;
    std::string control = route.caching ? route.caching->control
                          : authenticated ? "private, no-cache"
                                          : settings.open_cache_control;
    if (authenticated && route.caching && control.rfind("max-age", 0) == 0) control = "private, " + control;
    if (const std::string* own = find_header(response, "Cache-Control"))
        control = *own;  // the handler's (/health, /metrics: no-store)
    else if (!control.empty())
        response.header("Cache-Control", control);
    std::string vary;
    if (authenticated) vary = settings.cookie ? "Authorization, Cookie" : "Authorization";
    if (route.caching)
        for (const auto& v : route.caching->vary) vary += (vary.empty() ? "" : ", ") + v;
    if (!vary.empty()) response.header("Vary", vary);
    if (control == "no-store" || response.stream || find_header(response, "ETag")) return;
    std::string tag = etag::of(response.body);
    response.header("ETag", tag);
    std::optional<etag::Condition> cond;
    try {
        cond = condition(request, "If-None-Match");
    } catch (const HttpError& e) {
        Response bad = error_response(400, e.what());
        response.status = bad.status;
        response.body = std::move(bad.body);
        std::erase_if(response.headers, [](const auto& h) { return h.first == "ETag"; });
        return;
    }
    if (cond && etag::none_match_hits(*cond, tag)) {
        response.status = 304;
        response.body.clear();
    }
}

}  // namespace kiva
