#include "kiva/http/router.hpp"

#include <boost/test/unit_test.hpp>

#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

using kiva::PathPattern;
using kiva::PathSegment;
using Captures = std::vector<std::pair<std::string_view, std::string_view>>;

namespace {

/// Matches path against pattern; the captures as owned strings, "name=value,..." for easy
/// comparison.
bool matches(std::string_view pattern, std::string_view path, std::string* captured = nullptr) {
    const PathPattern parsed(pattern);  // capture names are views into it: it must outlive them
    Captures captures;
    bool ok = parsed.match(path, captures);
    if (captured) {
        captured->clear();
        for (const auto& [name, value] : captures) {
            if (!captured->empty()) captured->push_back(',');
            captured->append(name).append("=").append(value);
        }
    }
    return ok;
}

/// A router carrying an int per route, as the application carries handlers.
using IntRouter = kiva::Router<int>;

const IntRouter::Entry* route(const IntRouter& router, std::string_view method,
                              std::string_view path, std::string* allow = nullptr) {
    IntRouter::Match m;
    router.match(method, path, m);
    if (allow) *allow = m.allow;
    return m.entry;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(router)

// ---------------------------------------------------------------- PathPattern parsing

BOOST_AUTO_TEST_CASE(parses_typed_segments) {
    PathPattern p("/stuff/<sid:int>/<name>/<s:str>/<t:string>/<x:float>/<rest:path>");
    const auto& s = p.segments();
    BOOST_TEST_REQUIRE(s.size() == 7u);
    BOOST_TEST((s[0].kind == PathSegment::Kind::literal));
    BOOST_TEST(s[0].text == "stuff");
    BOOST_TEST((s[1].kind == PathSegment::Kind::integer));
    BOOST_TEST(s[1].text == "sid");
    BOOST_TEST((s[2].kind == PathSegment::Kind::str));  // str is the default type
    BOOST_TEST((s[3].kind == PathSegment::Kind::str));
    BOOST_TEST((s[4].kind == PathSegment::Kind::str));
    BOOST_TEST((s[5].kind == PathSegment::Kind::number));
    BOOST_TEST((s[6].kind == PathSegment::Kind::path));
    BOOST_TEST(p.text() == "/stuff/<sid:int>/<name>/<s:str>/<t:string>/<x:float>/<rest:path>");
    std::vector<std::string> names{"sid", "name", "s", "t", "x", "rest"};
    BOOST_TEST(p.names() == names, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(root_pattern_has_no_segment) {
    PathPattern p("/");
    BOOST_TEST(p.segments().empty());
    BOOST_TEST(p.names().empty());
}

BOOST_AUTO_TEST_CASE(bad_patterns_throw) {
    for (const char* bad : {
             "",                // empty
             "stuff",           // no leading '/'
             "stuff/<id:int>",  // no leading '/'
             "/a/<x:guid>",     // unknown type
             "/a/<x:>",         // empty type is unknown
             "/a/<x:INT>",      // types are lower case
             "/<a>/<a:int>",    // duplicate capture name
             "/<p:path>/x",     // path not last
             "/a//b",           // empty segment
             "/a/",             // trailing slash: an empty last segment
             "//",              // empty segment
             "/<x",             // unclosed
             "/<>",             // capture without a name
             "/<:int>",         // capture without a name
             "/a<b",            // stray '<'
             "/a>b",            // stray '>'
             "/<x>y",           // '<' not closed at the end of the segment
         }) {
        BOOST_TEST_CONTEXT("pattern \"" << bad << "\"") {
            BOOST_CHECK_THROW(PathPattern{bad}, std::invalid_argument);
        }
    }
}

BOOST_AUTO_TEST_CASE(error_message_names_the_pattern) {
    try {
        PathPattern p("/a/<x:guid>");
        BOOST_FAIL("no exception");
    } catch (const std::invalid_argument& e) {
        std::string what = e.what();
        BOOST_TEST(what.find("/a/<x:guid>") != std::string::npos);
        BOOST_TEST(what.find("guid") != std::string::npos);
    }
}

// ---------------------------------------------------------------- matching

BOOST_AUTO_TEST_CASE(literal_match) {
    BOOST_TEST(matches("/", "/"));
    BOOST_TEST(!matches("/", "/x"));
    BOOST_TEST(!matches("/", ""));
    BOOST_TEST(matches("/stuff", "/stuff"));
    BOOST_TEST(!matches("/stuff", "/stuffs"));
    BOOST_TEST(!matches("/stuff", "/Stuff"));  // case-sensitive
    BOOST_TEST(!matches("/stuff", "stuff"));   // no leading '/'
    BOOST_TEST(!matches("/stuff", "/"));
    BOOST_TEST(!matches("/stuff", "/stuff/x"));
    BOOST_TEST(matches("/a/b/c", "/a/b/c"));
    BOOST_TEST(!matches("/a/b/c", "/a/b"));
}

BOOST_AUTO_TEST_CASE(trailing_slash_and_empty_segments_do_not_match) {
    BOOST_TEST(!matches("/stuff", "/stuff/"));
    BOOST_TEST(!matches("/stuff/<sid:int>", "/stuff/1/"));
    BOOST_TEST(!matches("/a/<x>/b", "/a//b"));
    BOOST_TEST(!matches("/a/b", "//a/b"));
    BOOST_TEST(!matches("/a/b", "/a//b"));
    BOOST_TEST(!matches("/<x>", "/"));
}

BOOST_AUTO_TEST_CASE(int_segment) {
    std::string got;
    BOOST_TEST(matches("/stuff/<sid:int>", "/stuff/12", &got));
    BOOST_TEST(got == "sid=12");
    BOOST_TEST(matches("/stuff/<sid:int>", "/stuff/-12", &got));
    BOOST_TEST(got == "sid=-12");
    BOOST_TEST(matches("/stuff/<sid:int>", "/stuff/0"));
    BOOST_TEST(matches("/stuff/<sid:int>", "/stuff/9223372036854775807"));
    BOOST_TEST(matches("/stuff/<sid:int>", "/stuff/-9223372036854775808"));
    BOOST_TEST(!matches("/stuff/<sid:int>", "/stuff/9223372036854775808"));   // > INT64_MAX
    BOOST_TEST(!matches("/stuff/<sid:int>", "/stuff/-9223372036854775809"));  // < INT64_MIN
    BOOST_TEST(!matches("/stuff/<sid:int>", "/stuff/99999999999999999999999"));
    for (const char* bad : {"+1", " 1", "1 ", "1x", "x1", "-", "1.0", "0x10", "1e3", "abc"}) {
        BOOST_TEST_CONTEXT("segment \"" << bad << "\"") {
            BOOST_TEST(!matches("/stuff/<sid:int>", std::string("/stuff/") + bad));
        }
    }
    BOOST_TEST(!matches("/stuff/<sid:int>", "/stuff/"));
}

BOOST_AUTO_TEST_CASE(parse_int64_is_strict) {
    int64_t n = 0;
    BOOST_TEST(kiva::parse_int64("-42", n));
    BOOST_TEST(n == -42);
    BOOST_TEST(!kiva::parse_int64("", n));
    BOOST_TEST(!kiva::parse_int64("+42", n));
    BOOST_TEST(!kiva::parse_int64("42 ", n));
    BOOST_TEST(!kiva::parse_int64("9223372036854775808", n));
}

BOOST_AUTO_TEST_CASE(float_segment_is_finite_only) {
    std::string got;
    BOOST_TEST(matches("/f/<x:float>", "/f/1.5", &got));
    BOOST_TEST(got == "x=1.5");
    for (const char* good : {"0", "-2", "3.25", "1e3", "-1.5E-3", ".5", "5."}) {
        BOOST_TEST_CONTEXT("segment \"" << good << "\"") {
            BOOST_TEST(matches("/f/<x:float>", std::string("/f/") + good));
        }
    }
    for (const char* bad : {"nan", "NaN", "inf", "-inf", "infinity", "1e999", "+1", " 1", "1x",
                            "0x1p3x", "1.5.2", "-", "e5"}) {
        BOOST_TEST_CONTEXT("segment \"" << bad << "\"") {
            BOOST_TEST(!matches("/f/<x:float>", std::string("/f/") + bad));
        }
    }
    double d = 0;
    BOOST_TEST(!kiva::parse_double("", d));
    BOOST_TEST(kiva::parse_double("2.5", d));
    BOOST_TEST(d == 2.5);
}

BOOST_AUTO_TEST_CASE(str_segment) {
    std::string got;
    BOOST_TEST(matches("/users/<name>", "/users/bob", &got));
    BOOST_TEST(got == "name=bob");
    BOOST_TEST(matches("/users/<name>", "/users/caf\xc3\xa9 au lait"));
    BOOST_TEST(!matches("/users/<name>", "/users/"));
    BOOST_TEST(!matches("/users/<name>", "/users/a/b"));
    BOOST_TEST(matches("/<a>/<b:int>/<c>", "/x/1/y", &got));
    BOOST_TEST(got == "a=x,b=1,c=y");
}

BOOST_AUTO_TEST_CASE(path_capture_takes_the_rest) {
    std::string got;
    BOOST_TEST(matches("/files/<rest:path>", "/files/a", &got));
    BOOST_TEST(got == "rest=a");
    BOOST_TEST(matches("/files/<rest:path>", "/files/a/b/c", &got));
    BOOST_TEST(got == "rest=a/b/c");
    BOOST_TEST(matches("/files/<rest:path>", "/files/a//b/", &got));
    BOOST_TEST(got == "rest=a//b/");
    BOOST_TEST(!matches("/files/<rest:path>", "/files/"));  // the path capture is not empty
    BOOST_TEST(!matches("/files/<rest:path>", "/files"));
    BOOST_TEST(matches("/<all:path>", "/x/y", &got));
    BOOST_TEST(got == "all=x/y");
}

BOOST_AUTO_TEST_CASE(captures_are_views_into_the_path) {
    std::string path = "/a/42/b/rest/of/it";
    Captures captures;
    BOOST_TEST_REQUIRE(PathPattern("/a/<n:int>/b/<r:path>").match(path, captures));
    BOOST_TEST_REQUIRE(captures.size() == 2u);
    for (const auto& [name, value] : captures) {
        BOOST_TEST((value.data() >= path.data() &&
                    value.data() + value.size() <= path.data() + path.size()));
    }
    BOOST_TEST(captures[0].second == "42");
    BOOST_TEST(captures[1].second == "rest/of/it");
}

// ---------------------------------------------------------------- Router

BOOST_AUTO_TEST_CASE(finds_the_route_of_method_and_path) {
    IntRouter r;
    r.add("GET", "/stuff", 1);
    r.add("POST", "/stuff", 2);
    r.add("GET", "/stuff/<sid:int>", 3);
    r.add("DELETE", "/stuff/<sid:int>", 4);
    const auto* e = route(r, "GET", "/stuff");
    BOOST_TEST_REQUIRE(e);
    BOOST_TEST(e->data == 1);
    e = route(r, "POST", "/stuff");
    BOOST_TEST_REQUIRE(e);
    BOOST_TEST(e->data == 2);
    IntRouter::Match m;
    r.match("DELETE", "/stuff/7", m);
    BOOST_TEST_REQUIRE(m.entry);
    BOOST_TEST(m.entry->data == 4);
    BOOST_TEST_REQUIRE(m.captures.size() == 1u);
    BOOST_TEST(m.captures[0].first == "sid");
    BOOST_TEST(m.captures[0].second == "7");
    BOOST_TEST(m.allow.empty());
}

BOOST_AUTO_TEST_CASE(unknown_path_is_404_with_empty_allow) {
    IntRouter r;
    r.add("GET", "/stuff/<sid:int>", 1);
    std::string allow = "x";
    BOOST_TEST(!route(r, "GET", "/nothing", &allow));
    BOOST_TEST(allow.empty());
    BOOST_TEST(!route(r, "GET", "/stuff/abc", &allow));  // a typed segment that does not parse
    BOOST_TEST(allow.empty());
    BOOST_TEST(!route(r, "DELETE", "/stuff/abc", &allow));
    BOOST_TEST(allow.empty());
}

BOOST_AUTO_TEST_CASE(known_path_other_method_is_405_with_sorted_allow) {
    IntRouter r;
    r.add("POST", "/stuff", 2);
    r.add("GET", "/stuff", 1);
    r.add("DELETE", "/stuff/<sid:int>", 4);
    r.add("GET", "/stuff/<sid:int>", 3);
    r.add("PUT", "/stuff/<sid:int>", 5);
    std::string allow;
    BOOST_TEST(!route(r, "PUT", "/stuff", &allow));
    BOOST_TEST(allow == "GET, HEAD, POST");  // sorted, HEAD added with GET
    BOOST_TEST(!route(r, "PATCH", "/stuff/1", &allow));
    BOOST_TEST(allow == "DELETE, GET, HEAD, PUT");

    IntRouter post_only;
    post_only.add("POST", "/login", 1);
    BOOST_TEST(!route(post_only, "GET", "/login", &allow));
    BOOST_TEST(allow == "POST");  // no HEAD without GET
    BOOST_TEST(!route(post_only, "HEAD", "/login", &allow));
    BOOST_TEST(allow == "POST");
}

BOOST_AUTO_TEST_CASE(no_captures_left_when_no_route) {
    IntRouter r;
    r.add("GET", "/stuff/<sid:int>", 1);
    IntRouter::Match m;
    r.match("GET", "/stuff/3", m);
    BOOST_TEST(m.captures.size() == 1u);
    r.match("POST", "/stuff/3", m);  // reusing the match object
    BOOST_TEST(!m.entry);
    BOOST_TEST(m.captures.empty());
    BOOST_TEST(m.allow == "GET, HEAD");
    r.match("GET", "/stuff/3", m);
    BOOST_TEST(m.entry);
    BOOST_TEST(m.allow.empty());
}

BOOST_AUTO_TEST_CASE(head_is_served_by_get) {
    IntRouter r;
    r.add("GET", "/stuff", 1);
    const auto* e = route(r, "HEAD", "/stuff");
    BOOST_TEST_REQUIRE(e);
    BOOST_TEST(e->data == 1);
    BOOST_TEST(e->method == "GET");
}

BOOST_AUTO_TEST_CASE(first_registered_wins) {
    IntRouter a;
    a.add("GET", "/<name>", 1);
    a.add("GET", "/special", 2);
    const auto* e = route(a, "GET", "/special");
    BOOST_TEST_REQUIRE(e);
    BOOST_TEST(e->data == 1);

    IntRouter b;
    b.add("GET", "/special", 2);
    b.add("GET", "/<name>", 1);
    e = route(b, "GET", "/special");
    BOOST_TEST_REQUIRE(e);
    BOOST_TEST(e->data == 2);
    e = route(b, "GET", "/other");
    BOOST_TEST_REQUIRE(e);
    BOOST_TEST(e->data == 1);

    // A later route of the right method is found after an earlier one of another method.
    IntRouter c;
    c.add("POST", "/<name>", 1);
    c.add("GET", "/<name>", 2);
    e = route(c, "GET", "/x");
    BOOST_TEST_REQUIRE(e);
    BOOST_TEST(e->data == 2);
}

BOOST_AUTO_TEST_CASE(duplicate_route_throws) {
    IntRouter r;
    r.add("GET", "/stuff/<sid:int>", 1);
    BOOST_CHECK_THROW(r.add("GET", "/stuff/<sid:int>", 2), std::invalid_argument);
    BOOST_CHECK_NO_THROW(r.add("POST", "/stuff/<sid:int>", 3));  // another method is fine
    BOOST_CHECK_THROW(r.add("GET", "no-slash", 4), std::invalid_argument);
    // Another capture name, the same shape: the second could never be reached.
    BOOST_CHECK_THROW(r.add("GET", "/stuff/<id:int>", 5), std::invalid_argument);
    BOOST_CHECK_NO_THROW(r.add("GET", "/stuff/<name>", 6));  // another type is another shape
    BOOST_TEST(r.entries().size() == 3u);
}

BOOST_AUTO_TEST_CASE(uuid_date_and_datetime_segments) {
    std::string got;
    BOOST_TEST(matches("/t/<id:uuid>", "/t/123e4567-e89b-12d3-a456-426614174000", &got));
    BOOST_TEST(got == "id=123e4567-e89b-12d3-a456-426614174000");
    BOOST_TEST(!matches("/t/<id:uuid>", "/t/123e4567-e89b-12d3-a456-42661417400"));
    BOOST_TEST(!matches("/t/<id:uuid>", "/t/123e4567xe89b-12d3-a456-426614174000"));
    BOOST_TEST(matches("/d/<day:date>", "/d/2000-02-29"));
    BOOST_TEST(!matches("/d/<day:date>", "/d/1900-02-29"));
    BOOST_TEST(!matches("/d/<day:date>", "/d/2000-13-01"));
    BOOST_TEST(matches("/a/<at:datetime>", "/a/2000-02-29T23:59:59Z"));
    BOOST_TEST(!matches("/a/<at:datetime>", "/a/2000-02-29T24:00"));
    BOOST_TEST(PathPattern("/t/<id:uuid>").shape() == "/t/<uuid>");
}

BOOST_AUTO_TEST_SUITE_END()
