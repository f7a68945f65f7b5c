#pragma once
/// @file
/// Keyset pagination in one declaration (docs/http-caching.md#pagination): the route declares
/// `keyset_page()` among its parameters, which adds the query parameters `limit` (1..the
/// configured page_limit_max) and `cursor` (opaque, from the previous page's Link), and its
/// handler gets a Page:
///
///     static Response get_stuff(Context& c, Page page) {
///         if (!page) return json(c.q.get_stuff_all());         // no limit: every row
///         return page.answer(c, c.q.get_stuff_page(page.after(), page.fetch()).all(),
///                            [](const StuffRow& r) { return r.sid; });
///     }
///     r.get("/stuff", OPEN, get_stuff, keyset_page());
///
/// The query returns the rows with a key greater than `after()` (all when nullopt), in key
/// order, at most `fetch()` = limit + 1 of them: the extra row tells that another page exists,
/// and answer() then adds `Link: <...cursor=...>; rel="next"` (RFC 8288). A cursor is the last
/// key of a page, not an offset: rows inserted or deleted meanwhile never make a walk visit a
/// row twice or skip one that existed all along.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "kiva/app/context.hpp"
#include "kiva/app/routes.hpp"
#include "kiva/http/response.hpp"

namespace kiva {

class Page {
  public:
    Page() = default;
    Page(std::optional<int64_t> limit, std::optional<int64_t> after) : limit_(limit), after_(after) {}

    /// Whether the client asked for a page (sent limit).
    explicit operator bool() const { return limit_.has_value(); }
    std::optional<int64_t> limit() const { return limit_; }
    /// The key the page starts after; nullopt for the first page.
    std::optional<int64_t> after() const { return after_; }
    /// How many rows the query should return: limit + 1.
    int64_t fetch() const { return limit_.value_or(0) + 1; }

    /// The page's answer: rows (at most fetch(), in key order) as a JSON list of at most limit,
    /// with a Link to the next page when the query found more.
    template <typename Row, typename Key>
    Response answer(const Context& c, std::vector<Row> rows, Key key) const {
        bool more = limit_ && rows.size() > static_cast<std::size_t>(*limit_);
        if (more) rows.resize(static_cast<std::size_t>(*limit_));
        Response r = json(rows);
        if (more) r.header("Link", next_link(c, key(rows.back())));
        return r;
    }

    /// `<path?query with cursor>; rel="next"`: the request's own path and parameters (limit,
    /// filters, wherever they came from), its cursor replaced by the one after last_key.
    static std::string next_link(const Context& c, int64_t last_key);

  private:
    std::optional<int64_t> limit_, after_;
};

/// The `limit` and `cursor` query parameters, as a Page (400: limit under 1, cursor without
/// limit, a cursor that is not one the API made). The maximum limit is checked by the App
/// before the handler (configuration key page_limit_max).
struct PageParam {
    using type = Page;
    static constexpr bool paged = true;  ///< the route's RouteHttp::paged
    Page extract(Context& c) const;
    void names(std::vector<std::string>& out) const {
        out.push_back("limit");
        out.push_back("cursor");
    }
    void doc(std::vector<ParamDoc>& out) const {
        out.push_back({"limit", R"J({"type":"integer","minimum":1,"description":"at most this many rows, in key order; a Link header (rel=\"next\") gives the next page; at most page_limit_max"})J", false, ""});
        out.push_back({"cursor", R"J({"type":"string","description":"opaque: where the previous page's Link resumes"})J", false, ""});
    }
};

inline PageParam keyset_page() { return {}; }

}  // namespace kiva
