#pragma once
/// @file
/// Routes: how the application declares its API. One line per route gives the method,
/// the path with typed segments, the authorization, the handler and its typed parameters:
///
///     r.get("/stuff/<sid:int>", OPEN, get_stuff_sid, param<int64_t>("sid"));
///     r.post("/stuff", OPEN, post_stuff, param<std::string>("stuff"));
///     r.get("/stuff", OPEN, get_stuff, maybe<std::string>("filter"));
///
/// The handler is `Response(Context&, T1, T2...)` with the parameters' types in order; its
/// Context is the framework's or the application's (with its typed queries `c.q`).
/// Parameters are converted after authentication and authorization (400 on a missing or
/// mistyped one), and object permissions are checked after them, before the handler runs.
/// A group of routes under a prefix (a Flask blueprint) is `app.routes().group("/cmp")`.

#include <algorithm>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "kiva/core/rate_spec.hpp"
#include "kiva/security/authorize.hpp"
#include "kiva/app/caching.hpp"
#include "kiva/app/context.hpp"
#include "kiva/app/handler_context.hpp"
#include "kiva/http/response.hpp"
#include "kiva/http/router.hpp"
#include "kiva/http/schema.hpp"

namespace kiva {

/// How a declared parameter shows in the OpenAPI document.
struct ParamDoc {
    std::string name;
    std::string schema;    ///< JSON Schema text
    bool required = true;
    std::string fallback;  ///< JSON text of the default, "" when none
};

/// A success answer declared for the document: `.returns<db::StuffRow>()`.
struct ReturnsDoc {
    int status = 200;
    std::string schema_name;  ///< a component schema ("StuffRow"), or "" for an inline schema
    std::string schema;       ///< its JSON Schema text
    bool list = false;
};

/// A required parameter, or an optional one with a default value.
template <typename T>
struct Param {
    using type = T;
    std::string name;
    std::optional<T> fallback;
    T extract(Context& c) const {
        return fallback ? c.params.get_or<T>(name, *fallback) : c.params.get<T>(name);
    }
    void names(std::vector<std::string>& out) const { out.push_back(name); }
    void doc(std::vector<ParamDoc>& out) const {
        out.push_back({name, schema_of<T>(), !fallback, fallback ? default_text(*fallback) : ""});
    }
};

/// An optional parameter without default: the handler gets std::optional<T>.
template <typename T>
struct MaybeParam {
    using type = std::optional<T>;
    std::string name;
    std::optional<T> extract(Context& c) const { return c.params.maybe<T>(name); }
    void names(std::vector<std::string>& out) const { out.push_back(name); }
    void doc(std::vector<ParamDoc>& out) const { out.push_back({name, schema_of<T>(), false, ""}); }
};

/// The authenticated login (FlaskSimpleAuth's CurrentUser).
struct CurrentUserParam {
    using type = std::string;
    std::string extract(Context& c) const { return c.login(); }
    void names(std::vector<std::string>&) const {}
    void doc(std::vector<ParamDoc>&) const {}
};

template <typename T>
Param<T> param(std::string name) {
    return Param<T>{std::move(name), std::nullopt};
}
template <typename T>
Param<T> param(std::string name, T fallback) {
    return Param<T>{std::move(name), std::move(fallback)};
}
template <typename T>
MaybeParam<T> maybe(std::string name) {
    return MaybeParam<T>{std::move(name)};
}
inline CurrentUserParam current_user() {
    return {};
}

/// Runs a route: extracts its parameters, calls `gate` (object permissions), then the handler.
using Invoker = std::function<Response(Context&, const std::function<void()>& gate)>;

struct RouteData {
    Authorize authorize;
    Invoker invoke;
    /// Names of the declared parameters; any other parameter sent is a 400.
    std::vector<std::string> params;
    /// For the OpenAPI document.
    std::vector<ParamDoc> docs;
    std::vector<ReturnsDoc> returns;
    /// Caching, If-Match and pages (kiva/app/caching.hpp): .cache(), .if_match(), keyset_page().
    RouteHttp http;
    /// Its own rate limit (`.rate_limit("5/1s")`, `.rate_limit("off")`) when it declares one;
    /// otherwise the configured rate_limit applies.
    std::optional<std::optional<RateSpec>> rate_limit;
};

/// A parameter spec that makes the route paged (kiva/app/pagination.hpp's keyset_page()).
template <typename P>
constexpr bool is_paged = requires { P::paged; };

using RouteTable = Router<RouteData>;

class Routes {
  public:
    Routes(RouteTable& table, std::string prefix) : table_(&table), prefix_(std::move(prefix)) {}

    /// Routes under prefix + sub ("/cmp"), as a Flask blueprint mounted with url_prefix.
    Routes group(std::string_view sub) const { return Routes(*table_, prefix_ + std::string(sub)); }

    template <typename H, typename... P>
    Routes& route(std::vector<std::string> methods, std::string_view path, Authorize a, H handler,
                  P... params) {
        RouteData data{std::move(a), make_invoker(std::move(handler), params...), {}, {}, {}, {}, {}};
        (params.names(data.params), ...);
        (params.doc(data.docs), ...);
        data.http.paged = (is_paged<P> || ...);
        std::string full = prefix_ + std::string(path);
        if (full.size() > 1 && full.back() == '/') full.pop_back();
        for (auto& name : PathPattern(full).names())  // path segments are parameters too
            if (std::find(data.params.begin(), data.params.end(), name) == data.params.end())
                data.params.push_back(std::move(name));
        last_ = table_->entries().size();
        for (auto& m : methods) table_->add(std::move(m), full, data);
        return *this;
    }

    /// Documents the success answer of the route just declared (OpenAPI): a row of a typed
    /// query, `r.get(...).returns<db::StuffRow>()`, or a list of them, `returns_list<...>()`.
    template <typename Row>
    Routes& returns(int status = 200) {
        return returns_doc({status, std::string(Row::schema_name), std::string(Row::json_schema), false});
    }
    template <typename Row>
    Routes& returns_list(int status = 200) {
        return returns_doc({status, std::string(Row::schema_name), std::string(Row::json_schema), true});
    }
    /// The caching of the route's 200 answers to GET/HEAD: `.cache(Caching::max_age(60s))`.
    Routes& cache(Caching c) {
        return each_entry([&](RouteData& d) { d.http.caching = c; });
    }
    /// If-Match on the route (412 when it does not hold): `current` reads the resource's
    /// current representation under a row lock, as its GET answers it (kiva/app/caching.hpp).
    template <typename F>
    Routes& if_match(F current) {
        CurrentRepresentation reader = [current = std::move(current)](Context& c) mutable {
            return with_context(current, c);
        };
        return each_entry([&](RouteData& d) { d.http.current = reader; });
    }

    /// An inline JSON Schema: `returns(201, R"({"type":"integer"})")`; 204: `returns(204, "")`.
    Routes& returns(int status, std::string schema) { return returns_doc({status, "", std::move(schema), false}); }

    /// The rate limit of the route just declared, instead of the configured one: `N/T`
    /// (`r.post(...).rate_limit("5/1m")`) or "off". Throws std::invalid_argument when malformed.
    Routes& rate_limit(std::string_view spec) {
        auto parsed = parse_rate_spec(spec);
        for (std::size_t i = last_; i < table_->entries().size(); ++i) table_->data(i).rate_limit = parsed;
        return *this;
    }

    /// A route that declares no authorization is closed: 403 for everyone.
    template <typename H, typename... P>
    requires(!std::is_convertible_v<H, Authorize>) Routes& route(std::vector<std::string> methods,
                                                                 std::string_view path, H handler,
                                                                 P... params) {
        return route(std::move(methods), path, Authorize{}, std::move(handler), params...);
    }

    // One method each; the arguments are route()'s: [authorization,] handler, parameters.
    template <typename... A>
    Routes& get(std::string_view path, A&&... a) {
        return route({"GET"}, path, std::forward<A>(a)...);
    }
    template <typename... A>
    Routes& post(std::string_view path, A&&... a) {
        return route({"POST"}, path, std::forward<A>(a)...);
    }
    template <typename... A>
    Routes& put(std::string_view path, A&&... a) {
        return route({"PUT"}, path, std::forward<A>(a)...);
    }
    template <typename... A>
    Routes& patch(std::string_view path, A&&... a) {
        return route({"PATCH"}, path, std::forward<A>(a)...);
    }
    template <typename... A>
    Routes& del(std::string_view path, A&&... a) {
        return route({"DELETE"}, path, std::forward<A>(a)...);
    }

  private:
    template <typename H, typename... P>
    static Invoker make_invoker(H handler, P... specs) {
        static_assert(std::is_invocable_r_v<Response, H&, context_of<H>&, typename P::type...>,
                      "a handler is Response(Context&, T...) with its parameters' types in order");
        return [handler = std::move(handler), specs...](Context& c,
                                                        const std::function<void()>& gate) {
            // Braced initialization converts parameters left to right: the first problem is
            // reported.
            std::tuple<typename P::type...> args{specs.extract(c)...};
            gate();
            return std::apply(
                [&](auto&... a) -> Response { return with_context(handler, c, std::move(a)...); },
                args);
        };
    }

    template <typename F>
    Routes& each_entry(F f) {
        for (std::size_t i = last_; i < table_->entries().size(); ++i) f(table_->data(i));
        return *this;
    }

    Routes& returns_doc(ReturnsDoc doc) {
        for (std::size_t i = last_; i < table_->entries().size(); ++i) table_->data(i).returns.push_back(doc);
        return *this;
    }

    RouteTable* table_;
    std::string prefix_;
    std::size_t last_ = static_cast<std::size_t>(-1);  ///< the first entry of the last route()
};

}  // namespace kiva
