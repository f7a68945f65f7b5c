// The test client's parts that need neither database nor server: URLs, the JSON view, the
// CGI environment of an in-process request, form encoding.
#include <boost/test/unit_test.hpp>

#include <sstream>
#include <stdexcept>

#include "kiva/testing/client.hpp"
#include "kiva/testing/http_client.hpp"
#include "kiva/testing/in_process.hpp"
#include "kiva/testing/json.hpp"

using namespace kiva::testing;

BOOST_AUTO_TEST_SUITE(testclient_parts)

BOOST_AUTO_TEST_CASE(urls) {
    auto u = parse_url("https://example.org/api/");
    BOOST_TEST(u.tls);
    BOOST_TEST(u.host == "example.org");
    BOOST_TEST(u.port == "443");
    BOOST_TEST(u.prefix == "/api");
    auto v = parse_url("http://127.0.0.1:8080");
    BOOST_TEST(!v.tls);
    BOOST_TEST(v.port == "8080");
    BOOST_TEST(v.prefix == "");
    auto w = parse_url("http://[::1]:81/x");
    BOOST_TEST(w.host == "::1");
    BOOST_TEST(w.port == "81");
    BOOST_CHECK_THROW(parse_url("ftp://host/"), std::invalid_argument);
    BOOST_CHECK_THROW(parse_url("http:///api"), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(json_view) {
    Json j(R"({"s": "é", "n": 3, "b": true, "z": null, "a": [1, 2.5], "o": {"k": "v"}})");
    BOOST_TEST(j.valid());
    BOOST_TEST(j["s"] == "é");
    BOOST_TEST(j["n"] == 3);
    BOOST_TEST(j["n"].integer() == 3);
    BOOST_TEST(j["b"] == true);
    BOOST_TEST(j["z"] == nullptr);
    BOOST_TEST(j["a"].size() == 2u);
    BOOST_TEST(j["a"][1] == 2.5);
    BOOST_TEST(j["o"]["k"] == "v");
    BOOST_TEST(j.has("o"));
    BOOST_TEST(!j.has("missing"));
    BOOST_TEST(j["missing"]["deeper"][3].is_null());  // a chain never throws
    BOOST_TEST(!(j["missing"] == nullptr));           // missing is not null
    BOOST_TEST(!(j["n"] == "3"));
    BOOST_CHECK_THROW(j["s"].integer(), std::logic_error);
    std::ostringstream out;
    out << j["a"] << " " << j["missing"];
    BOOST_TEST(out.str() == "[1,2.5] <missing>");
    BOOST_TEST(!Json("not json").valid());
}

BOOST_AUTO_TEST_CASE(cgi_environment_of_a_request) {
    Outgoing o{
        "POST", "/items", "a=1", {{"Content-Type", "application/json"}, {"X-Thing-Id", "7"}}, "{}"};
    auto vars = cgi_environment(o);
    auto var = [&vars](std::string_view name) {
        for (const auto& [n, v] : vars)
            if (n == name) return v;
        return std::string("<absent>");
    };
    BOOST_TEST(var("REQUEST_METHOD") == "POST");
    BOOST_TEST(var("PATH_INFO") == "/items");
    BOOST_TEST(var("QUERY_STRING") == "a=1");
    BOOST_TEST(var("CONTENT_TYPE") == "application/json");
    BOOST_TEST(var("CONTENT_LENGTH") == "2");
    BOOST_TEST(var("HTTP_X_THING_ID") == "7");
    BOOST_TEST(var("HTTP_CONTENT_TYPE") == "<absent>");
}

BOOST_AUTO_TEST_CASE(encoding) {
    BOOST_TEST(url_encode("a b&c=d/é") == "a%20b%26c%3Dd%2F%C3%A9");
    BOOST_TEST(url_encode("A-z_0.9~") == "A-z_0.9~");
}

BOOST_AUTO_TEST_SUITE_END()
