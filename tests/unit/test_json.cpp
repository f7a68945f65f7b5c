#include "kiva/core/json.hpp"

#include <boost/test/unit_test.hpp>

#include <rapidjson/document.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "kiva/core/decode.hpp"
#include "kiva/http/response.hpp"

using namespace std::string_literals;
using kiva::json;
using kiva::object;

namespace {

/// True when text is one valid JSON document (UTF-8 checked).
bool valid_json(const std::string& text) {
    rapidjson::Document d;
    d.Parse<rapidjson::kParseValidateEncodingFlag>(text.data(), text.size());
    return !d.HasParseError();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(json_response)

// ---------------------------------------------------------------- strings

BOOST_AUTO_TEST_CASE(plain_strings) {
    kiva::Response r = json("hello");
    BOOST_TEST(r.status == 200);
    BOOST_TEST(r.body == "\"hello\"");
    BOOST_TEST(r.content_type == "application/json");
    BOOST_TEST(r.headers.empty());
    BOOST_TEST(json(std::string("s")).body == "\"s\"");
    BOOST_TEST(json(std::string_view("v")).body == "\"v\"");
    BOOST_TEST(json("").body == "\"\"");
}

BOOST_AUTO_TEST_CASE(strings_are_escaped) {
    BOOST_TEST(json("a\"b\\c/d").body == R"("a\"b\\c/d")");
    BOOST_TEST(json("line\nnext\ttab\rcr\b\f").body == R"("line\nnext\ttab\rcr\b\f")");
    BOOST_TEST(json("\x01\x1f").body == R"("\u0001\u001F")");
    BOOST_TEST(json("nul\0inside"s).body == R"("nul\u0000inside")");
    BOOST_TEST(valid_json(json("\x7f").body));
}

BOOST_AUTO_TEST_CASE(unicode_passes_through) {
    const std::string text = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80";
    auto body = json(text).body;
    BOOST_TEST(body == "\"" + text + "\"");
    BOOST_TEST(valid_json(body));
}

// ---------------------------------------------------------------- numbers and others

BOOST_AUTO_TEST_CASE(integers) {
    BOOST_TEST(json(0).body == "0");
    BOOST_TEST(json(-42).body == "-42");
    BOOST_TEST(json(std::numeric_limits<int64_t>::min()).body == "-9223372036854775808");
    BOOST_TEST(json(std::numeric_limits<int64_t>::max()).body == "9223372036854775807");
    BOOST_TEST(json(std::numeric_limits<uint64_t>::max()).body == "18446744073709551615");
    BOOST_TEST(json(std::numeric_limits<int>::min()).body == "-2147483648");
    BOOST_TEST(json(static_cast<unsigned short>(65535)).body == "65535");
    BOOST_TEST(json(static_cast<std::size_t>(7)).body == "7");
}

BOOST_AUTO_TEST_CASE(status_is_kept) {
    auto r = json(object{{"sid", 5}}, 201);
    BOOST_TEST(r.status == 201);
    BOOST_TEST(r.body == R"({"sid":5})");
}

BOOST_AUTO_TEST_CASE(doubles_and_non_finite) {
    BOOST_TEST(json(1.5).body == "1.5");
    BOOST_TEST(json(-0.25).body == "-0.25");
    BOOST_TEST(json(1e300).body == "1e300");
    BOOST_TEST(valid_json(json(1e-300).body));
    BOOST_TEST(valid_json(json(std::numeric_limits<double>::denorm_min()).body));
    BOOST_TEST(json(std::nan("")).body == "null");
    BOOST_TEST(json(std::numeric_limits<double>::infinity()).body == "null");
    BOOST_TEST(json(-std::numeric_limits<double>::infinity()).body == "null");
    BOOST_TEST(json(std::vector<double>{1, NAN, INFINITY}).body == "[1.0,null,null]");
}

BOOST_AUTO_TEST_CASE(bool_and_null) {
    BOOST_TEST(json(true).body == "true");
    BOOST_TEST(json(false).body == "false");
    BOOST_TEST(json(nullptr).body == "null");
}

BOOST_AUTO_TEST_CASE(optionals) {
    BOOST_TEST(json(std::optional<int>{}).body == "null");
    BOOST_TEST(json(std::optional<int>{5}).body == "5");
    BOOST_TEST(json(std::optional<std::string>{"x"}).body == "\"x\"");
    BOOST_TEST(json(std::optional<double>{NAN}).body == "null");
}

BOOST_AUTO_TEST_CASE(vectors) {
    BOOST_TEST(json(std::vector<int>{}).body == "[]");
    BOOST_TEST(json(std::vector<int>{1, 2, 3}).body == "[1,2,3]");
    BOOST_TEST(json(std::vector<std::string>{"a", "b\""}).body == R"(["a","b\""])");
    BOOST_TEST(json(std::vector<std::optional<int>>{1, std::nullopt}).body == "[1,null]");
    BOOST_TEST(json(std::vector<std::vector<int>>{{1}, {}, {2, 3}}).body == "[[1],[],[2,3]]");
}

BOOST_AUTO_TEST_CASE(objects_nested) {
    std::string name = "kiva";
    std::optional<int64_t> none;
    auto body = json(object{{"app", "kiva"},
                            {"name", name},
                            {"n", int64_t{-1}},
                            {"ok", true},
                            {"none", none},
                            {"list", std::vector<int>{1, 2}},
                            {"inner", object{{"d", 2.5}, {"deeper", object{}}}}})
                    .body;
    BOOST_TEST(body == R"({"app":"kiva","name":"kiva","n":-1,"ok":true,"none":null,"list":[1,2],)"
                       R"("inner":{"d":2.5,"deeper":{}}})");
    BOOST_TEST(valid_json(body));
    BOOST_TEST(json(object{}).body == "{}");
    BOOST_TEST(json(object{{"q\"uote", "v"}}).body == R"({"q\"uote":"v"})");  // names escaped too
}

BOOST_AUTO_TEST_CASE(raw_json_is_inserted_as_is) {
    BOOST_TEST(json(object{{"row", kiva::js::Raw{R"({"x":1})"}}}).body == R"({"row":{"x":1}})");
}

BOOST_AUTO_TEST_CASE(append_and_serialize) {
    std::string out = "prefix:";
    kiva::js::append(out, std::vector<int>{1});
    BOOST_TEST(out == "prefix:[1]");
    BOOST_TEST(kiva::js::serialize(object{{"a", 1}}) == R"({"a":1})");
}

// ---------------------------------------------------------------- responses

BOOST_AUTO_TEST_CASE(error_response_body) {
    auto r = kiva::error_response(404, "not found");
    BOOST_TEST(r.status == 404);
    BOOST_TEST(r.body == R"({"error":"not found"})");
    BOOST_TEST(r.content_type == "application/json");
    BOOST_TEST(kiva::error_response(400, R"(parameter "x" is missing)").body ==
               R"({"error":"parameter \"x\" is missing"})");
    BOOST_TEST(kiva::error_response(400, "caf\xc3\xa9").body == "{\"error\":\"caf\xc3\xa9\"}");
}

BOOST_AUTO_TEST_CASE(error_response_is_valid_json_whatever_the_message) {
    for (std::string message : {"bad \xff byte"s, "\xc3"s, "\xed\xa0\x80 surrogate"s,
                                "caf\xc3\xa9 \xff"s, "ctl \x01\n\0"s}) {
        auto body = kiva::error_response(400, message).body;
        BOOST_TEST_CONTEXT("body " << body) {
            BOOST_TEST(kiva::is_valid_utf8(body));
            BOOST_TEST(valid_json(body));
        }
    }
    BOOST_TEST(kiva::error_response(400, "bad \xff byte").body == R"({"error":"bad ? byte"})");
}

BOOST_AUTO_TEST_CASE(no_content_response) {
    auto r = kiva::no_content();
    BOOST_TEST(r.status == 204);
    BOOST_TEST(r.body.empty());
}

BOOST_AUTO_TEST_CASE(headers_chain) {
    auto r = json("x");
    r.header("Allow", "GET").header("X-A", "1");
    BOOST_TEST_REQUIRE(r.headers.size() == 2u);
    BOOST_TEST(r.headers[0].first == "Allow");
    BOOST_TEST(r.headers[1].second == "1");
}

BOOST_AUTO_TEST_CASE(status_reasons) {
    BOOST_TEST(kiva::status_reason(200) == "OK");
    BOOST_TEST(kiva::status_reason(201) == "Created");
    BOOST_TEST(kiva::status_reason(204) == "No Content");
    BOOST_TEST(kiva::status_reason(400) == "Bad Request");
    BOOST_TEST(kiva::status_reason(401) == "Unauthorized");
    BOOST_TEST(kiva::status_reason(403) == "Forbidden");
    BOOST_TEST(kiva::status_reason(404) == "Not Found");
    BOOST_TEST(kiva::status_reason(405) == "Method Not Allowed");
    BOOST_TEST(kiva::status_reason(409) == "Conflict");
    BOOST_TEST(kiva::status_reason(413) == "Content Too Large");
    BOOST_TEST(kiva::status_reason(415) == "Unsupported Media Type");
    BOOST_TEST(kiva::status_reason(500) == "Internal Server Error");
    BOOST_TEST(kiva::status_reason(503) == "Service Unavailable");
    BOOST_TEST(kiva::status_reason(418) == "Client Error");  // unregistered: its class
    BOOST_TEST(kiva::status_reason(429) == "Too Many Requests");
    BOOST_TEST(kiva::status_reason(0) == "Unknown");
}

BOOST_AUTO_TEST_SUITE_END()
