#pragma once
/// @file
/// HTTP caching and conditional requests, declared on the route line (docs/http-caching.md):
///
///     r.get("/stuff/<sid:int>", OPEN, get_stuff_sid, param<int64_t>("sid"))
///         .cache(Caching::max_age(std::chrono::seconds(60)));
///     r.route({"PUT", "PATCH"}, "/stuff/<sid:int>", OPEN, put_stuff_sid, ...)
///         .if_match(current_stuff);   // a reader of the current representation, row locked
///
/// Every 200 answer to GET or HEAD gets an `ETag` (kiva/http/etag.hpp), a `Cache-Control`
/// (the route's, else `private, no-cache` on authenticated routes and `cache_control_open`
/// on OPEN ones) and a `Vary`; an `If-None-Match` that matches turns it into a 304 without
/// body. A route with `.if_match(reader)` evaluates `If-Match` before its handler runs (after
/// parameters and object permissions): 412 when it does not hold, nothing written.

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "kiva/app/context.hpp"
#include "kiva/http/response.hpp"

namespace kiva {

/// A route's declared caching of its 200 answers to GET and HEAD.
struct Caching {
    std::string control;            ///< the Cache-Control value
    std::vector<std::string> vary;  ///< request headers the answer depends on, beyond the defaults

    /// `max-age=N` (`private, max-age=N` on an authenticated route): caches may reuse the answer
    /// for N seconds without asking, then revalidate with its ETag.
    static Caching max_age(std::chrono::seconds age) { return {"max-age=" + std::to_string(age.count()), {}}; }
    /// `private, max-age=N`: only the client's own cache may keep it.
    static Caching private_max_age(std::chrono::seconds age) {
        return {"private, max-age=" + std::to_string(age.count()), {}};
    }
    /// `no-store`: never kept, no ETag either (an answer that must not outlive the request).
    static Caching no_store() { return {"no-store", {}}; }
    /// Adds a request header the answer depends on (`Accept-Language`) to Vary.
    Caching varying(std::string header) && {
        vary.push_back(std::move(header));
        return std::move(*this);
    }
};

/// Reads the current representation of the route's resource, as its GET would answer it, in
/// the request's transaction and under a row lock (`SELECT ... FOR UPDATE`), so that nothing
/// changes it between the If-Match check and the handler's write. nullopt: no such resource.
using CurrentRepresentation = std::function<std::optional<Response>(Context&)>;

/// What a route declared about HTTP caching, conditions and pages (kept in its RouteData).
struct RouteHttp {
    std::optional<Caching> caching;
    CurrentRepresentation current;  ///< set by .if_match(): If-Match is evaluated
    bool paged = false;             ///< declares keyset_page(): limit is checked against the maximum
};

/// The process-wide settings (configuration keys cache_control_open and page_limit_max).
struct HttpSettings {
    std::string open_cache_control = "no-cache";
    int64_t page_limit_max = 1000;
    bool cookie = false;  ///< tokens may come in a cookie: authenticated answers vary on it
};

/// Before the handler (after parameters and object permissions): a limit over the maximum
/// (400), then If-Match on a route that declares a reader (400 malformed, 412 not holding).
void check_preconditions(Context& c, const RouteHttp& route, const HttpSettings& settings);

/// After the request: the validators and caching headers of a 200 answer to GET or HEAD, and
/// the 304 when If-None-Match matches (400 when it is malformed). authenticated: the route is
/// not OPEN. A streamed answer (a db row stream) has no ETag: its body is not known before
/// its headers are sent.
void add_validators(const Request& request, const RouteHttp& route, bool authenticated,
                    const HttpSettings& settings, Response& response);

}  // namespace kiva
