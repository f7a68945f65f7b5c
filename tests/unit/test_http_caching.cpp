// HTTP caching, conditional requests and keyset pages: the header parsers (kiva/http/etag.hpp),
// the cursor (kiva/http/cursor.hpp), the reason phrases, and the pipeline in process (App::handle
// without database: the routes here read an in-memory "row").

#include "kiva/app/app.hpp"
#include "kiva/http/cursor.hpp"
#include "kiva/http/etag.hpp"

#include <boost/test/unit_test.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "request_fixture.hpp"

using namespace kiva;
using kiva::test::FakeRequest;
using kiva::test::RequestSpec;

namespace {

std::string header(const Response& r, std::string_view name) {
    for (const auto& [n, v] : r.headers)
        if (n == name) return v;
    return "<none>";
}

struct CachingApp {
    Config config = [] {
        Config c;
        c.auth_state = false;
        c.test_mode = true;
        c.password_cost = 4;
        c.page_limit_max = 5;
        return c;
    }();
    Logger log{LogLevel::off};
    App app{config, log};
    db::QueryFile queries;
    db::Database db{queries, "host=/nonexistent/kiva-unit-test dbname=none connect_timeout=1",
                    "kiva-test", log};
    std::optional<std::string> row = "chair";  ///< the "resource" of /thing
    int writes = 0;

    CachingApp() {
        Routes r = app.routes();
        r.get("/thing", OPEN, [this](Context&) -> Response {
            if (!row) throw HttpError(404, "no thing");
            return json(*row);
        });
        r.put(
             "/thing", OPEN,
             [this](Context&, std::string v) {
                 row = v;
                 ++writes;
                 return no_content();
             },
             param<std::string>("v"))
            .if_match([this](Context&) -> std::optional<Response> {
                if (!row) return std::nullopt;
                return json(*row);
            });
        r.get("/cached", OPEN, [](Context&) { return json(1); }).cache(Caching::max_age(std::chrono::seconds(60)));
        r.get("/secret", OPEN, [](Context&) { return json(2); }).cache(Caching::no_store());
        r.get("/mine", AUTH, [](Context& c) { return json(c.login()); });
        r.get(
            "/list", OPEN,
            [](Context& c, Page page) {
                std::vector<int64_t> keys;
                for (int64_t k = page.after().value_or(0) + 1; k <= 7; ++k) keys.push_back(k);
                if (!page) return json(keys);
                if (keys.size() > static_cast<std::size_t>(page.fetch())) keys.resize(static_cast<std::size_t>(page.fetch()));
                return page.answer(c, keys, [](int64_t k) { return k; });
            },
            keyset_page());
        app.password_lookup([](Context&, std::string_view) -> std::optional<std::string> {
            return std::nullopt;
        });
    }

    Outcome call(RequestSpec spec) {
        FakeRequest request(std::move(spec));
        return app.handle(request, db);
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(http_caching)

// ---------------------------------------------------------------- entity tags

BOOST_AUTO_TEST_CASE(etag_is_a_strong_digest_of_the_bytes) {
    std::string a = etag::of("{\"sid\":1}");
    BOOST_TEST(a.size() == 34u);
    BOOST_TEST(a.front() == '"');
    BOOST_TEST(a.back() == '"');
    BOOST_TEST(a == etag::of("{\"sid\":1}"));
    BOOST_TEST(a != etag::of("{\"sid\":2}"));
    BOOST_TEST(etag::of("") == "\"e3b0c44298fc1c149afbf4c8996fb924\"");  // SHA-256("") prefix
}

BOOST_AUTO_TEST_CASE(condition_lists_parse) {
    auto c = etag::parse(R"( "a", W/"b" ,, "c,d" )");
    BOOST_REQUIRE(c.has_value());
    BOOST_TEST(!c->any);
    BOOST_REQUIRE(c->tags.size() == 3u);
    BOOST_TEST(c->tags[0].opaque == "a");
    BOOST_TEST(!c->tags[0].weak);
    BOOST_TEST(c->tags[1].opaque == "b");
    BOOST_TEST(c->tags[1].weak);
    BOOST_TEST(c->tags[2].opaque == "c,d");
    auto any = etag::parse("*");
    BOOST_REQUIRE(any.has_value());
    BOOST_TEST(any->any);
    BOOST_TEST(etag::parse(R"("")")->tags[0].opaque == "");
}

BOOST_AUTO_TEST_CASE(malformed_conditions_are_refused) {
    for (std::string_view bad : {"", " ", ",", "abc", "\"abc", "abc\"", "W/abc", "w/\"a\"",
                                 "\"a\" \"b\"", "\"a\";x", "*, \"a\"", "\"a\", *", "\"a\"b\"",
                                 "\"a b\"", "W/ \"a\"", "\"a\"\x01"})
        BOOST_TEST(!etag::parse(bad).has_value(), "accepted: [" << bad << "]");
}

BOOST_AUTO_TEST_CASE(weak_and_strong_comparison) {
    // RFC 9110 8.8.3.2's table.
    etag::Tag w1{true, "1"}, w2{true, "2"}, s1{false, "1"};
    BOOST_TEST(!etag::strong_equal(w1, w1));
    BOOST_TEST(etag::weak_equal(w1, w1));
    BOOST_TEST(!etag::strong_equal(w1, w2));
    BOOST_TEST(!etag::weak_equal(w1, w2));
    BOOST_TEST(!etag::strong_equal(w1, s1));
    BOOST_TEST(etag::weak_equal(w1, s1));
    BOOST_TEST(etag::strong_equal(s1, s1));
    BOOST_TEST(etag::weak_equal(s1, s1));
}

BOOST_AUTO_TEST_CASE(if_none_match_is_weak_if_match_is_strong) {
    std::string now = "\"x\"";
    BOOST_TEST(etag::none_match_hits(*etag::parse(R"(W/"x")"), now));
    BOOST_TEST(etag::none_match_hits(*etag::parse(R"("y", "x")"), now));
    BOOST_TEST(!etag::none_match_hits(*etag::parse(R"("y")"), now));
    BOOST_TEST(etag::none_match_hits(*etag::parse("*"), now));
    BOOST_TEST(etag::match_holds(*etag::parse(R"("y", "x")"), now));
    BOOST_TEST(!etag::match_holds(*etag::parse(R"(W/"x")"), now));
    BOOST_TEST(etag::match_holds(*etag::parse("*"), now));
    BOOST_TEST(!etag::match_holds(*etag::parse("*"), std::nullopt));  // no representation
    BOOST_TEST(!etag::match_holds(*etag::parse(R"("x")"), std::nullopt));
}

// ---------------------------------------------------------------- cursors

BOOST_AUTO_TEST_CASE(cursors_round_trip) {
    for (int64_t key : {int64_t{0}, int64_t{1}, int64_t{-1}, int64_t{42}, INT64_MAX, INT64_MIN}) {
        std::string c = cursor::seal(key);
        BOOST_TEST(c.size() == 34u);
        auto opened = cursor::open(c);
        BOOST_REQUIRE(opened.has_value());
        BOOST_TEST(*opened == key);
    }
}

BOOST_AUTO_TEST_CASE(tampered_cursors_are_refused) {
    std::string c = cursor::seal(41);
    for (std::size_t i = 0; i < c.size(); ++i) {
        std::string t = c;
        t[i] = t[i] == '0' ? '1' : '0';
        BOOST_TEST(!cursor::open(t).has_value(), "accepted a change at " << i);
    }
    BOOST_TEST(!cursor::open(c.substr(0, 33)).has_value());
    BOOST_TEST(!cursor::open(c + "0").has_value());
    BOOST_TEST(!cursor::open("").has_value());
    std::string upper = c;
    for (auto& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    BOOST_TEST(!cursor::open(upper).has_value());
}

// ---------------------------------------------------------------- reason phrases

BOOST_AUTO_TEST_CASE(every_status_has_its_reason) {
    BOOST_TEST(status_reason(429) == "Too Many Requests");
    BOOST_TEST(status_reason(412) == "Precondition Failed");
    BOOST_TEST(status_reason(304) == "Not Modified");
    for (int s : {100, 200, 201, 202, 204, 301, 302, 303, 304, 307, 308, 400, 401, 403, 404, 405,
                  406, 408, 409, 410, 411, 412, 413, 414, 415, 416, 422, 425, 428, 429, 431, 451,
                  500, 501, 502, 503, 504})
        BOOST_TEST(status_reason(s) != "Unknown", s);
    BOOST_TEST(status_reason(499) == "Client Error");  // unregistered: its class
}

// ---------------------------------------------------------------- the pipeline

BOOST_AUTO_TEST_CASE(get_has_etag_and_if_none_match_gives_304) {
    CachingApp t;
    auto out = t.call(RequestSpec("GET", "/thing"));
    BOOST_TEST(out.response.status == 200);
    std::string tag = header(out.response, "ETag");
    BOOST_TEST(tag == etag::of(out.response.body));
    BOOST_TEST(header(out.response, "Cache-Control") == "no-cache");
    auto again = t.call(RequestSpec("GET", "/thing").var("HTTP_IF_NONE_MATCH", "\"zz\", W/" + tag));
    BOOST_TEST(again.response.status == 304);
    BOOST_TEST(again.response.body.empty());
    BOOST_TEST(header(again.response, "ETag") == tag);
    auto other = t.call(RequestSpec("GET", "/thing").var("HTTP_IF_NONE_MATCH", "\"zz\""));
    BOOST_TEST(other.response.status == 200);
    auto head = t.call(RequestSpec("HEAD", "/thing").var("HTTP_IF_NONE_MATCH", tag));
    BOOST_TEST(head.response.status == 304);
    auto bad = t.call(RequestSpec("GET", "/thing").var("HTTP_IF_NONE_MATCH", "nope"));
    BOOST_TEST(bad.response.status == 400);
    BOOST_TEST(bad.response.body.find("If-None-Match") != std::string::npos);
    t.row.reset();
    BOOST_TEST(header(t.call(RequestSpec("GET", "/thing")).response, "ETag") == "<none>");  // a 404
}

BOOST_AUTO_TEST_CASE(cache_control_is_declared_or_defaulted) {
    CachingApp t;
    BOOST_TEST(header(t.call(RequestSpec("GET", "/cached")).response, "Cache-Control") == "max-age=60");
    auto secret = t.call(RequestSpec("GET", "/secret")).response;
    BOOST_TEST(header(secret, "Cache-Control") == "no-store");
    BOOST_TEST(header(secret, "ETag") == "<none>");
    auto mine = t.call(RequestSpec("GET", "/mine").authorization(
                           "Bearer " + t.app.security().create_token("moe")))
                    .response;
    BOOST_TEST(mine.status == 200);
    BOOST_TEST(header(mine, "Cache-Control") == "private, no-cache");
    BOOST_TEST(header(mine, "Vary") == "Authorization");
}

BOOST_AUTO_TEST_CASE(if_match_guards_the_write) {
    CachingApp t;
    std::string tag = header(t.call(RequestSpec("GET", "/thing")).response, "ETag");
    auto put = [&](std::string condition) {
        auto spec = RequestSpec("PUT", "/thing").query("v=desk");
        if (!condition.empty()) spec.var("HTTP_IF_MATCH", condition);
        return t.call(std::move(spec)).response;
    };
    auto stale = put("\"0123\"");
    BOOST_TEST(stale.status == 412);
    BOOST_TEST(header(stale, "ETag") == tag);
    BOOST_TEST(t.writes == 0);
    BOOST_TEST(put("W/" + tag).status == 412);  // strong comparison
    BOOST_TEST(put("nope").status == 400);
    BOOST_TEST(t.writes == 0);
    BOOST_TEST(put(tag).status == 204);
    BOOST_TEST(t.writes == 1);
    BOOST_TEST(put(tag).status == 412);  // it changed
    BOOST_TEST(put("*").status == 204);
    BOOST_TEST(put("").status == 204);  // no condition: as before
    t.row.reset();
    BOOST_TEST(put("*").status == 412);  // no current representation
    BOOST_TEST(t.writes == 3);
}

BOOST_AUTO_TEST_CASE(pages_link_to_the_next) {
    CachingApp t;
    auto first = t.call(RequestSpec("GET", "/list").query("limit=3")).response;
    BOOST_TEST(first.body == "[1,2,3]");
    std::string link = header(first, "Link");
    BOOST_TEST(link == "</list?limit=3&cursor=" + cursor::seal(3) + ">; rel=\"next\"");
    auto second = t.call(RequestSpec("GET", "/list").query("limit=3&cursor=" + cursor::seal(3))).response;
    BOOST_TEST(second.body == "[4,5,6]");
    auto last = t.call(RequestSpec("GET", "/list").query("limit=3&cursor=" + cursor::seal(6))).response;
    BOOST_TEST(last.body == "[7]");
    BOOST_TEST(header(last, "Link") == "<none>");
    BOOST_TEST(t.call(RequestSpec("GET", "/list")).response.body == "[1,2,3,4,5,6,7]");
    // Parameters from a form body (curl -X GET -d limit=3) go into the Link's query string.
    auto form = t.call(RequestSpec("GET", "/list")
                           .content_type("application/x-www-form-urlencoded")
                           .body("limit=3"))
                    .response;
    BOOST_TEST(header(form, "Link") == "</list?limit=3&cursor=" + cursor::seal(3) + ">; rel=\"next\"");
    auto json_body = t.call(RequestSpec("GET", "/list").content_type("application/json").body(R"({"limit": 2})"))
                         .response;
    BOOST_TEST(header(json_body, "Link") == "</list?limit=2&cursor=" + cursor::seal(2) + ">; rel=\"next\"");
    auto over = t.call(RequestSpec("GET", "/list").query("limit=6")).response;
    BOOST_TEST(over.status == 400);
    BOOST_TEST(over.body.find("page_limit_max") != std::string::npos);
    BOOST_TEST(t.call(RequestSpec("GET", "/list").query("limit=0")).response.status == 400);
    BOOST_TEST(t.call(RequestSpec("GET", "/list").query("limit=3&cursor=c1zz")).response.status == 400);
    BOOST_TEST(t.call(RequestSpec("GET", "/list").query("cursor=" + cursor::seal(3))).response.status == 400);
}

BOOST_AUTO_TEST_SUITE_END()
