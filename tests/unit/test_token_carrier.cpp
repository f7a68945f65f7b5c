// Token carriers: the Authorization header and the HttpOnly cookie, with the CSRF header
// that unsafe methods need when a cookie carries the token (App::handle, no database).

#include "kiva/security/token_carrier.hpp"

#include <boost/test/unit_test.hpp>

#include <string>

#include "kiva/app/app.hpp"
#include "kiva/security/auth/base64.hpp"
#include "kiva/core/config.hpp"
#include "request_fixture.hpp"

using namespace kiva;
using kiva::test::FakeRequest;
using kiva::test::RequestSpec;

namespace {

Config carrier_config(std::vector<std::string> carriers) {
    Config c;
    c.auth_state = false;  // revocation is tested through nginx
    c.test_mode = true;
    c.token_carrier = std::move(carriers);
    return c;
}

struct CookieApp {
    Config config;
    Logger log{LogLevel::off};
    App app{config, log};
    db::QueryFile queries;
    db::Database db{queries, "host=/nonexistent/kiva-unit-test dbname=none connect_timeout=1",
                    "kiva-test", log};

    explicit CookieApp(std::vector<std::string> carriers) : config(carrier_config(carriers)) {
        Routes r = app.routes();
        r.get("/token", AUTH.via({AuthScheme::token}), [](Context& c) { return json(c.login()); });
        r.post("/token", AUTH.via({AuthScheme::token}),
               [](Context& c) { return json(c.login(), 201); });
        app.password_lookup([](Context&, std::string_view) { return std::optional<std::string>{}; });
        app.check();
    }
    std::string cookie(std::string_view login) const {
        return app.security().carrier().cookie_name() + "=" +
               auth::base64url_encode(app.security().create_token(login));
    }
    Outcome call(RequestSpec spec) {
        FakeRequest request(std::move(spec));
        return app.handle(request, db);
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(token_carrier)

BOOST_AUTO_TEST_CASE(bearer_only_is_the_default_and_ignores_cookies) {
    Config c;
    TokenCarrier carrier(c);
    BOOST_TEST(carrier.bearer());
    BOOST_TEST(!carrier.cookie());
    BOOST_TEST(carrier.cookie_name() == "__Host-kiva-token");
    FakeRequest r(RequestSpec().var("HTTP_COOKIE", "__Host-kiva-token=" + auth::base64url_encode("t")));
    BOOST_TEST(!carrier.from_cookie(r).has_value());
}

BOOST_AUTO_TEST_CASE(the_cookie_is_found_among_others_and_decoded) {
    Config c = carrier_config({"bearer", "cookie"});
    TokenCarrier carrier(c);
    std::string value = auth::base64url_encode("kiva:a;b,c:123:ff");  // a login may hold ; and ,
    FakeRequest r(RequestSpec().var("HTTP_COOKIE", "theme=dark;  __Host-kiva-token=" + value +
                                                       " ; __Host-kiva-token=second"));
    BOOST_TEST(carrier.from_cookie(r).value_or("<none>") == "kiva:a;b,c:123:ff");
    for (std::string header : {"", "other=1", "__Host-kiva-token=", "__Host-kiva-token=not base64!",
                               "x__Host-kiva-token=abc", "__Host-kiva-token"}) {
        BOOST_TEST_CONTEXT(header) {
            FakeRequest bad(RequestSpec().var("HTTP_COOKIE", header));
            BOOST_TEST(!carrier.from_cookie(bad).has_value());
        }
    }
}

BOOST_AUTO_TEST_CASE(set_cookie_has_every_protection) {
    Config c = carrier_config({"cookie"});
    c.token_cookie = "sid";
    TokenCarrier carrier(c);
    BOOST_TEST(carrier.set_cookie("tok", 3600) ==
               "sid=" + auth::base64url_encode("tok") +
                   "; Path=/; Max-Age=3600; HttpOnly; Secure; SameSite=Strict");
    BOOST_TEST(carrier.clear_cookie() == "sid=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Strict");
}

BOOST_AUTO_TEST_CASE(a_cookie_name_that_is_no_token_is_refused_at_start) {
    Config c = carrier_config({"cookie"});
    c.app_name = "my app";
    BOOST_CHECK_THROW(TokenCarrier{c}, std::runtime_error);
    c.token_carrier = {"bearer"};  // no cookie: the name does not matter
    BOOST_CHECK_NO_THROW(TokenCarrier{c});
}

BOOST_AUTO_TEST_CASE(configuration_keys) {
    Config c;
    set_option(c, "token_carrier", "cookie, bearer");
    BOOST_TEST(c.token_carrier.size() == 2u);
    BOOST_CHECK_THROW(set_option(c, "token_carrier", "bearer,header"), std::invalid_argument);
    BOOST_CHECK_THROW(set_option(c, "token_carrier", ""), std::invalid_argument);
    set_option(c, "csrf_header", "X-CSRF");
    BOOST_TEST(c.csrf_header == "X-CSRF");
    BOOST_CHECK_THROW(set_option(c, "csrf_header", "X_CSRF"), std::invalid_argument);
    BOOST_CHECK_THROW(set_option(c, "csrf_header", "X CSRF"), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(a_cookie_authenticates_safe_methods) {
    CookieApp t({"bearer", "cookie"});
    auto out = t.call(RequestSpec("GET", "/token").var("HTTP_COOKIE", t.cookie("moe")));
    BOOST_TEST(out.response.status == 200);
    BOOST_TEST(out.response.body == R"("moe")");
}

BOOST_AUTO_TEST_CASE(unsafe_methods_need_the_csrf_header_with_a_cookie) {
    CookieApp t({"bearer", "cookie"});
    auto out = t.call(RequestSpec("POST", "/token").var("HTTP_COOKIE", t.cookie("moe")));
    BOOST_TEST(out.response.status == 403);
    BOOST_TEST(out.response.body ==
               R"x({"error":"missing X-Requested-With header: required with a token cookie on POST (CSRF protection)"})x");
    out = t.call(RequestSpec("POST", "/token")
                     .var("HTTP_COOKIE", t.cookie("moe"))
                     .var("HTTP_X_REQUESTED_WITH", "fetch"));
    BOOST_TEST(out.response.status == 201);
    // A Bearer header is no cookie: no CSRF header needed (a browser never adds it by itself).
    out = t.call(RequestSpec("POST", "/token")
                     .authorization("Bearer " + t.app.security().create_token("moe")));
    BOOST_TEST(out.response.status == 201);
}

BOOST_AUTO_TEST_CASE(the_header_wins_over_the_cookie) {
    CookieApp t({"bearer", "cookie"});
    auto out = t.call(RequestSpec("GET", "/token")
                          .var("HTTP_COOKIE", t.cookie("moe"))
                          .authorization("Bearer " + t.app.security().create_token("larry")));
    BOOST_TEST(out.response.body == R"("larry")");
    out = t.call(RequestSpec("GET", "/token")
                     .var("HTTP_COOKIE", t.cookie("moe"))
                     .authorization("Bearer garbage"));
    BOOST_TEST(out.response.status == 401);
}

BOOST_AUTO_TEST_CASE(cookie_only_refuses_bearer_tokens) {
    CookieApp t({"cookie"});
    auto out = t.call(RequestSpec("GET", "/token")
                          .authorization("Bearer " + t.app.security().create_token("moe")));
    BOOST_TEST(out.response.status == 401);
    BOOST_TEST(out.response.body ==
               R"({"error":"unexpected authorization scheme: tokens are carried by cookie"})");
    out = t.call(RequestSpec("GET", "/token").var("HTTP_COOKIE", t.cookie("moe")));
    BOOST_TEST(out.response.status == 200);
}

BOOST_AUTO_TEST_CASE(a_forged_cookie_is_401) {
    CookieApp t({"cookie"});
    std::string forged = t.app.security().carrier().cookie_name() + "=" +
                         auth::base64url_encode("kiva:moe:99999999999:00");
    auto out = t.call(RequestSpec("GET", "/token").var("HTTP_COOKIE", forged));
    BOOST_TEST(out.response.status == 401);
}

BOOST_AUTO_TEST_SUITE_END()
