#include "kiva/http/params.hpp"

#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kiva/core/decode.hpp"
#include "request_fixture.hpp"

using kiva::HttpError;
using kiva::Params;
using kiva::test::FakeRequest;
using kiva::test::RequestSpec;

namespace {

const Params::Captures no_captures;

/// Runs f, which must throw HttpError with this status and a message starting with prefix.
template <typename F>
void check_http_error(F&& f, int status, std::string_view prefix) {
    try {
        f();
        BOOST_ERROR("no HttpError, expected " << status << " " << prefix);
    } catch (const HttpError& e) {
        BOOST_TEST(e.status() == status);
        BOOST_TEST(std::string_view(e.what()).substr(0, prefix.size()) == prefix,
                   "message \"" << e.what() << "\" should start with \"" << prefix << "\"");
    }
}

FakeRequest query(std::string q) {
    return FakeRequest(RequestSpec().query(std::move(q)));
}

FakeRequest body(std::string content_type, std::string text, std::string method = "POST") {
    return FakeRequest(
        RequestSpec(std::move(method)).content_type(std::move(content_type)).body(std::move(text)));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(params)

// ---------------------------------------------------------------- the request itself

BOOST_AUTO_TEST_CASE(request_from_cgi_variables) {
    FakeRequest f(RequestSpec("PUT", "/stuff/1")
                      .query("a=1")
                      .content_type("application/json")
                      .authorization("Bearer t")
                      .var("HTTP_X_FORWARDED_FOR", "10.0.0.1")
                      .body("{}"));
    const kiva::Request& r = f;
    BOOST_TEST(r.method() == "PUT");
    BOOST_TEST(r.path() == "/stuff/1");
    BOOST_TEST(r.query() == "a=1");
    BOOST_TEST(r.content_type() == "application/json");
    BOOST_TEST(r.body() == "{}");
    BOOST_TEST(r.header("Authorization") == "Bearer t");
    BOOST_TEST(r.header("x-forwarded-for") == "10.0.0.1");
    BOOST_TEST(r.header("Content-Type") == "application/json");  // CGI: CONTENT_TYPE, no HTTP_
    BOOST_TEST(r.header("Content-Length") == "2");
    BOOST_TEST(r.header("X-Missing") == "");
    BOOST_TEST(r.var("REQUEST_METHOD") == "PUT");
    BOOST_TEST(r.var("NOPE") == "");

    FakeRequest root(RequestSpec("GET", ""));  // the mount point itself: no PATH_INFO
    BOOST_TEST(root.request().path() == "/");
}

// ---------------------------------------------------------------- sources and precedence

BOOST_AUTO_TEST_CASE(path_beats_query_beats_body) {
    FakeRequest r(RequestSpec("POST", "/x/path")
                      .query("x=query&y=query")
                      .content_type("application/x-www-form-urlencoded")
                      .body("x=body&y=body&z=body"));
    Params::Captures captures{{"x", "path"}};
    Params p(r, captures);
    BOOST_TEST(p.get<std::string>("x") == "path");
    BOOST_TEST(p.get<std::string>("y") == "query");
    BOOST_TEST(p.get<std::string>("z") == "body");
}

BOOST_AUTO_TEST_CASE(path_beats_json_body) {
    auto r = body("application/json", R"({"sid": 99, "other": 1})", "PUT");
    Params::Captures captures{{"sid", "5"}};
    Params p(r, captures);
    BOOST_TEST(p.get<int64_t>("sid") == 5);
    BOOST_TEST(p.get<int64_t>("other") == 1);
}

BOOST_AUTO_TEST_CASE(first_occurrence_wins_within_a_source) {
    auto q = query("a=1&a=2");
    Params p(q, no_captures);
    BOOST_TEST(p.get<std::string>("a") == "1");
    auto j = body("application/json", R"({"a": 1, "a": 2})");
    Params pj(j, no_captures);
    BOOST_TEST(pj.get<int64_t>("a") == 1);
}

BOOST_AUTO_TEST_CASE(form_body_on_get) {
    // curl -X GET -d filter=C% sends a form body with GET.
    auto r = body("application/x-www-form-urlencoded", "filter=C%", "GET");
    Params p(r, no_captures);
    BOOST_TEST(p.get<std::string>("filter") == "C%");
}

BOOST_AUTO_TEST_CASE(form_body_without_content_type) {
    auto r = body("", "a=1&b=two");
    Params p(r, no_captures);
    BOOST_TEST(p.get<int64_t>("a") == 1);
    BOOST_TEST(p.get<std::string>("b") == "two");
}

BOOST_AUTO_TEST_CASE(form_content_type_is_case_insensitive_with_parameters) {
    auto r = body("Application/X-WWW-Form-Urlencoded; charset=UTF-8", "a=1");
    Params p(r, no_captures);
    BOOST_TEST(p.get<int64_t>("a") == 1);
}

BOOST_AUTO_TEST_CASE(names_lists_every_source_once) {
    FakeRequest r(RequestSpec("POST")
                      .query("a=1&b=2&a=3")
                      .content_type("application/json")
                      .body(R"({"c": 1, "b": 5})"));
    Params::Captures captures{{"p", "7"}};
    Params p(r, captures);
    std::vector<std::string_view> expected{"p", "a", "b", "c"};
    auto names = p.names();
    BOOST_TEST(names == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(body_is_decoded_on_first_use_only) {
    // A bad body is not looked at while only path parameters are asked for.
    auto r = body("application/json", "{");
    Params::Captures captures{{"id", "1"}};
    Params p(r, captures);
    BOOST_TEST(p.get<int64_t>("id") == 1);
    check_http_error([&] { p.find("other"); }, 400, "invalid JSON body");
}

// ---------------------------------------------------------------- JSON bodies

BOOST_AUTO_TEST_CASE(json_body_accepted_content_types) {
    for (const char* type :
         {"application/json", "application/json; charset=utf-8", "application/json;charset=UTF-8",
          "APPLICATION/JSON", "application/json ; charset=utf-8", "application/vnd.api+json",
          "application/merge-patch+json"}) {
        BOOST_TEST_CONTEXT("content type " << type) {
            auto r = body(type, R"({"a": "b"})");
            Params p(r, no_captures);
            BOOST_TEST(p.get<std::string>("a") == "b");
        }
    }
}

BOOST_AUTO_TEST_CASE(invalid_json_is_400) {
    for (const char* text :
         {"{", "{\"a\":}", "{'a': 1}", "{\"a\": 1,}", "   ", "{\"a\": 1} x", "nul"}) {
        BOOST_TEST_CONTEXT("body " << text) {
            auto r = body("application/json", text);
            Params p(r, no_captures);
            check_http_error([&] { p.load(); }, 400, "invalid JSON body");
        }
    }
}

BOOST_AUTO_TEST_CASE(non_utf8_json_is_400) {
    for (const char* text : {"{\"a\": \"\xff\"}", "{\"\xc3\": 1}", "{\"a\": \"\xed\xa0\x80\"}"}) {
        auto r = body("application/json", text);
        Params p(r, no_captures);
        check_http_error([&] { p.load(); }, 400, "JSON body is not valid UTF-8");
    }
}

// RapidJSON 1.1.0 accepts a lone low surrogate escape (Tencent/rapidjson#1738) and stores bytes
// that are not UTF-8: the body is refused like any other bytes that are not UTF-8.
BOOST_AUTO_TEST_CASE(json_lone_surrogate_escape_is_400) {
    for (const char* text :
         {R"({"s": "\udc00"})", R"({"s": "a\udfffb"})", R"({"\ude00": "x", "s": "ok"})"}) {
        BOOST_TEST_CONTEXT("body " << text) {
            auto r = body("application/json", text);
            Params p(r, no_captures);
            try {
                for (auto name : p.names()) {
                    BOOST_TEST(kiva::is_valid_utf8(name));
                    BOOST_TEST(kiva::is_valid_utf8(p.get<std::string>(name)));
                }
            } catch (const HttpError& e) {
                BOOST_TEST(e.status() == 400);
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(json_body_must_be_an_object) {
    for (const char* text : {"[1, 2]", "42", "\"text\"", "null", "true"}) {
        BOOST_TEST_CONTEXT("body " << text) {
            auto r = body("application/json", text);
            Params p(r, no_captures);
            check_http_error([&] { p.load(); }, 400, "JSON body must be an object");
        }
    }
}

BOOST_AUTO_TEST_CASE(unsupported_content_type_is_415) {
    for (const char* type :
         {"text/plain", "application/xml", "multipart/form-data; boundary=x", "json"}) {
        BOOST_TEST_CONTEXT("content type " << type) {
            auto r = body(type, "a=1");
            Params p(r, no_captures);
            check_http_error([&] { p.load(); }, 415, "unsupported content type");
        }
    }
}

BOOST_AUTO_TEST_CASE(empty_body_has_no_content_type_check) {
    auto r = body("text/plain", "");
    Params p(r, no_captures);
    BOOST_TEST(p.names().empty());
}

// ---------------------------------------------------------------- typed access from JSON

BOOST_AUTO_TEST_CASE(typed_values_from_json) {
    auto r = body("application/json", R"({"i": 42, "neg": -7, "f": 1.5, "s": "t\u00e9", "b": true,
        "n": null, "o": {"k": [1, 2]}, "big": 9223372036854775807, "huge": 18446744073709551615,
        "i32": 3000000000})");
    Params p(r, no_captures);
    BOOST_TEST(p.get<int64_t>("i") == 42);
    BOOST_TEST(p.get<int>("i") == 42);
    BOOST_TEST(p.get<int>("neg") == -7);
    BOOST_TEST(p.get<double>("i") == 42.0);
    BOOST_TEST(p.get<double>("f") == 1.5);
    BOOST_TEST(p.get<std::string>("s") == "t\xc3\xa9");
    BOOST_TEST(p.get<bool>("b") == true);
    BOOST_TEST(p.get<int64_t>("big") == std::numeric_limits<int64_t>::max());
    BOOST_TEST(p.get<double>("huge") > 1.8e19);
    kiva::Json o = p.get<kiva::Json>("o");
    BOOST_TEST_REQUIRE(o->IsObject());
    BOOST_TEST(o.value()["k"].Size() == 2u);
    kiva::Json n = p.get<kiva::Json>("n");
    BOOST_TEST(n->IsNull());
    BOOST_TEST(kiva::js::serialize(o) == R"({"k":[1,2]})");
}

BOOST_AUTO_TEST_CASE(wrong_json_types_are_400_naming_the_parameter) {
    auto r = body("application/json",
                  R"({"f": 1.5, "s": "x", "i": 1, "n": null, "huge": 18446744073709551615,
        "i32": 3000000000, "a": [1]})");
    Params p(r, no_captures);
    check_http_error([&] { p.get<int64_t>("f"); }, 400, "parameter \"f\" must be an integer");
    check_http_error([&] { p.get<int64_t>("s"); }, 400, "parameter \"s\" must be an integer");
    check_http_error([&] { p.get<int64_t>("huge"); }, 400, "parameter \"huge\" must be an integer");
    check_http_error([&] { p.get<int>("i32"); }, 400, "parameter \"i32\" must be a 32-bit integer");
    check_http_error([&] { p.get<double>("s"); }, 400, "parameter \"s\" must be a number");
    check_http_error([&] { p.get<std::string>("i"); }, 400, "parameter \"i\" must be a string");
    check_http_error([&] { p.get<std::string>("a"); }, 400, "parameter \"a\" must be a string");
    check_http_error([&] { p.get<bool>("i"); }, 400, "parameter \"i\" must be a boolean");
    check_http_error([&] { p.get<bool>("s"); }, 400, "parameter \"s\" must be a boolean");
    check_http_error([&] { p.get<int64_t>("n"); }, 400,
                     "parameter \"n\" must be an integer");  // required
}

BOOST_AUTO_TEST_CASE(json_null_is_absent_for_maybe) {
    auto r = body("application/json", R"({"n": null, "v": 3})");
    Params p(r, no_captures);
    BOOST_TEST(!p.maybe<int64_t>("n").has_value());
    BOOST_TEST(!p.maybe<std::string>("n").has_value());
    BOOST_TEST(p.get_or<int64_t>("n", 7) == 7);
    BOOST_TEST(p.maybe<int64_t>("v").value_or(0) == 3);
    BOOST_TEST(p.get_or<int64_t>("v", 7) == 3);
}

// ---------------------------------------------------------------- typed access from text

BOOST_AUTO_TEST_CASE(typed_values_from_text) {
    auto r = query(
        "i=42&neg=-7&big=9223372036854775807&f=2.5&t=true&y=YES&on=on&one=1&z=0&no=No&off=OFF"
        "&j=%7B%22k%22%3A1%7D&s=caf%C3%A9&e=");
    Params p(r, no_captures);
    BOOST_TEST(p.get<int64_t>("i") == 42);
    BOOST_TEST(p.get<int>("neg") == -7);
    BOOST_TEST(p.get<int64_t>("big") == std::numeric_limits<int64_t>::max());
    BOOST_TEST(p.get<double>("f") == 2.5);
    BOOST_TEST(p.get<double>("i") == 42.0);
    BOOST_TEST(p.get<bool>("t"));
    BOOST_TEST(p.get<bool>("y"));
    BOOST_TEST(p.get<bool>("on"));
    BOOST_TEST(p.get<bool>("one"));
    BOOST_TEST(!p.get<bool>("z"));
    BOOST_TEST(!p.get<bool>("no"));
    BOOST_TEST(!p.get<bool>("off"));
    BOOST_TEST(p.get<std::string>("s") == "caf\xc3\xa9");
    BOOST_TEST(p.get<std::string>("e") == "");
    kiva::Json j = p.get<kiva::Json>("j");
    BOOST_TEST_REQUIRE(j->IsObject());
    BOOST_TEST(j.value()["k"].GetInt() == 1);
}

BOOST_AUTO_TEST_CASE(wrong_text_values_are_400_naming_the_parameter) {
    auto r = query(
        "over=9223372036854775808&plus=%2B1&x=1x&i32=3000000000&nan=nan&inf=inf&b=maybe"
        "&j=%7B&e=");
    Params p(r, no_captures);
    check_http_error([&] { p.get<int64_t>("over"); }, 400, "parameter \"over\" must be an integer");
    check_http_error([&] { p.get<int64_t>("plus"); }, 400, "parameter \"plus\" must be an integer");
    check_http_error([&] { p.get<int64_t>("x"); }, 400, "parameter \"x\" must be an integer");
    check_http_error([&] { p.get<int64_t>("e"); }, 400, "parameter \"e\" must be an integer");
    check_http_error([&] { p.get<int>("i32"); }, 400, "parameter \"i32\" must be a 32-bit integer");
    check_http_error([&] { p.get<double>("nan"); }, 400, "parameter \"nan\" must be a number");
    check_http_error([&] { p.get<double>("inf"); }, 400, "parameter \"inf\" must be a number");
    check_http_error([&] { p.get<bool>("b"); }, 400, "parameter \"b\" must be a boolean");
    check_http_error([&] { p.get<kiva::Json>("j"); }, 400, "parameter \"j\" must be valid JSON");
    check_http_error([&] { p.maybe<int64_t>("x"); }, 400, "parameter \"x\" must be an integer");
}

BOOST_AUTO_TEST_CASE(missing_parameters) {
    auto r = query("a=1");
    Params p(r, no_captures);
    check_http_error([&] { p.get<std::string>("x"); }, 400, "parameter \"x\" is missing");
    check_http_error([&] { p.get<int64_t>("x"); }, 400, "parameter \"x\" is missing");
    BOOST_TEST(!p.maybe<std::string>("x").has_value());
    BOOST_TEST(!p.maybe<int64_t>("x").has_value());
    BOOST_TEST(p.get_or<std::string>("x", "fallback") == "fallback");
    BOOST_TEST(p.get_or<int64_t>("x", -1) == -1);
    BOOST_TEST(p.maybe<std::string>("a").value_or("") == "1");
    BOOST_TEST(p.find("x") == nullptr);
    BOOST_TEST(p.find("a") != nullptr);
}

BOOST_AUTO_TEST_CASE(path_captures_are_checked_for_utf8) {
    FakeRequest r(RequestSpec("GET", "/u/\xff"));
    Params::Captures captures{{"name", "\xff"}};
    Params p(r, captures);
    check_http_error([&] { p.get<std::string>("name"); }, 400,
                     "parameter \"name\" must be valid UTF-8");
}

// ---------------------------------------------------------------- invalid UTF-8

BOOST_AUTO_TEST_CASE(invalid_utf8_in_query_is_400) {
    for (const char* q : {"a=%FF", "a=\xff", "%C0%80=1", "a=%ED%A0%80"}) {
        BOOST_TEST_CONTEXT("query " << q) {
            auto r = query(q);
            Params p(r, no_captures);
            check_http_error([&] { p.load(); }, 400, "query string is not valid UTF-8");
        }
    }
}

BOOST_AUTO_TEST_CASE(invalid_utf8_in_form_is_400) {
    auto r = body("application/x-www-form-urlencoded", "a=%FF");
    Params p(r, no_captures);
    check_http_error([&] { p.get<std::string>("a"); }, 400, "form body is not valid UTF-8");
}

// ---------------------------------------------------------------- lists and more types

BOOST_AUTO_TEST_CASE(list_from_repeated_query_fields) {
    auto q = query("ids=3&ids=1&ids=2");
    Params p(q, no_captures);
    BOOST_TEST((p.get<std::vector<int64_t>>("ids") == std::vector<int64_t>{3, 1, 2}));
    BOOST_TEST(p.get<int64_t>("ids") == 3);  // a single value is the first
    BOOST_TEST(p.names().size() == 1u);       // the name once
}

BOOST_AUTO_TEST_CASE(list_from_a_json_array_or_a_form) {
    auto j = body("application/json", R"({"ids": [5, 6], "one": 7, "none": null})");
    Params pj(j, no_captures);
    BOOST_TEST((pj.get<std::vector<int64_t>>("ids") == std::vector<int64_t>{5, 6}));
    BOOST_TEST((pj.get<std::vector<int64_t>>("one") == std::vector<int64_t>{7}));
    BOOST_TEST(!pj.maybe<std::vector<int64_t>>("none").has_value());
    BOOST_TEST(!pj.maybe<std::vector<int64_t>>("absent").has_value());
    auto f = body("application/x-www-form-urlencoded", "t=a&t=b%20c");
    Params pf(f, no_captures);
    BOOST_TEST((pf.get<std::vector<std::string>>("t") == std::vector<std::string>{"a", "b c"}));
}

BOOST_AUTO_TEST_CASE(a_list_comes_from_its_first_source_only) {
    FakeRequest r(RequestSpec("POST").query("ids=1&ids=2").content_type("application/x-www-form-urlencoded").body("ids=9"));
    Params p(r, no_captures);
    BOOST_TEST((p.get<std::vector<int64_t>>("ids") == std::vector<int64_t>{1, 2}));
}

BOOST_AUTO_TEST_CASE(list_errors_name_the_parameter) {
    auto q = query("ids=1&ids=x");
    Params p(q, no_captures);
    check_http_error([&] { p.get<std::vector<int64_t>>("ids"); }, 400,
                     "parameter \"ids\" must be an integer");
    check_http_error([&] { p.get<std::vector<int64_t>>("other"); }, 400,
                     "parameter \"other\" is missing");
    auto j = body("application/json", R"({"ids": [1, "2"]})");
    Params pj(j, no_captures);
    check_http_error([&] { pj.get<std::vector<int64_t>>("ids"); }, 400,
                     "parameter \"ids\" must be an integer");
}

BOOST_AUTO_TEST_CASE(dates_datetimes_and_uuids) {
    auto q = query("d=2024-02-29&t=2024-02-29T10:11:12.5%2B01:00&u=123E4567-E89B-12D3-A456-426614174000"
                   "&bad_d=2023-02-29&bad_t=2024-01-01&bad_u=123");
    Params p(q, no_captures);
    BOOST_TEST(p.get<kiva::Date>("d").text() == "2024-02-29");
    BOOST_TEST(p.get<kiva::DateTime>("t").text() == "2024-02-29T10:11:12.5+01:00");
    BOOST_TEST(p.get<kiva::Uuid>("u").text() == "123e4567-e89b-12d3-a456-426614174000");
    check_http_error([&] { p.get<kiva::Date>("bad_d"); }, 400, "parameter \"bad_d\" must be a date");
    check_http_error([&] { p.get<kiva::DateTime>("bad_t"); }, 400,
                     "parameter \"bad_t\" must be a date and time");
    check_http_error([&] { p.get<kiva::Uuid>("bad_u"); }, 400, "parameter \"bad_u\" must be a UUID");
    auto j = body("application/json", R"({"d": 20240101, "u": ["x"]})");
    Params pj(j, no_captures);
    check_http_error([&] { pj.get<kiva::Date>("d"); }, 400, "parameter \"d\" must be a date");
    check_http_error([&] { pj.get<std::vector<kiva::Uuid>>("u"); }, 400, "parameter \"u\" must be a UUID");
}

BOOST_AUTO_TEST_SUITE_END()
