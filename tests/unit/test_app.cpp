// The request pipeline in-process: App::handle on plain Requests, without sockets or database
// (the Database is never connected: no route here runs a query, and finish() has nothing to end).

#include "kiva/app/app.hpp"

#include <boost/test/unit_test.hpp>

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include "kiva/db/errors.hpp"
#include "request_fixture.hpp"

using namespace kiva;
using namespace std::string_literals;
using kiva::test::FakeRequest;
using kiva::test::RequestSpec;

namespace {

Config test_config() {
    Config c;
    c.auth_state = false;  // no database here: auth state is tested through nginx
    c.test_mode = true;   // a random token secret
    c.password_cost = 4;  // fast bcrypt for the one password check
    return c;
}

/// An App with a few routes that never touch the database, and a Database that is never used.
struct TestApp {
    Config config = test_config();
    Logger log{LogLevel::off};
    App app{config, log};
    db::QueryFile queries;
    db::Database db{queries, "host=/nonexistent/kiva-unit-test dbname=none connect_timeout=1",
                    "kiva-test", log};
    std::string calvin_hash = app.security().hash_password("hobbes");
    int boom_calls = 0;

    TestApp() {
        Routes r = app.routes();
        r.get("/hello", OPEN, [](Context&) { return json("ok"); });
        r.post("/hello", OPEN, [](Context&) { return json("posted", 201); });
        r.get("/who", OPEN, [](Context& c) { return json(c.user); });
        r.get("/closed", [](Context&) { return json("never"); });  // no authorization declared
        r.get("/close", CLOSE, [](Context&) { return json("never"); });
        r.get("/token", AUTH.via({AuthScheme::token}), [](Context& c) {
            return json(object{{"user", c.login()}});
        });
        r.get(
            "/me", AUTH, [](Context&, std::string login) { return json(login); }, current_user());
        r.get("/admin", group("ADMIN"),
              [](Context& c) { return json("hello admin " + c.login()); });
        r.get(
            "/add", OPEN, [](Context&, int64_t a, int64_t b) { return json(a + b); },
            param<int64_t>("a"), param<int64_t>("b"));
        r.get(
            "/opt", OPEN,
            [](Context&, std::optional<std::string> s, int64_t n) {
                return json(object{{"s", s}, {"n", n}});
            },
            maybe<std::string>("s"), param<int64_t>("n", 10));
        r.post(
            "/echo", OPEN, [](Context&, std::string s) { return json(s); },
            param<std::string>("s"));
        r.get(
            "/items/<id:int>", OPEN, [](Context&, int64_t id) { return json(id); },
            param<int64_t>("id"));
        r.get(
            "/things/<tid:int>", permission("thing", "tid"),
            [](Context&, int64_t tid) { return json(tid); }, param<int64_t>("tid"));
        r.get("/boom", OPEN, [this](Context&) -> Response {
            ++boom_calls;
            throw std::runtime_error("boom: internal detail");
        });
        r.get("/conflict", OPEN, [](Context&) -> Response {
            throw HttpError(409, "already there", {{"X-Why", "duplicate"}});
        });
        r.get("/dup", OPEN, [](Context&) -> Response {
            throw db::DbError("23505", "duplicate key value violates unique constraint \"x\"",
                              "already exists");
        });
        r.get("/badsql", OPEN, [](Context&) -> Response {
            throw db::DbError("42P01", "relation \"nope\" does not exist", "secret detail");
        });
        r.get("/down", OPEN,
              [](Context&) -> Response { throw db::DbUnavailable("connection refused"); });
        r.get("/weird", OPEN, [](Context&) -> Response { throw 42; });
        app.routes().group("/cmp").get(
            "/add", OPEN, [](Context&, int64_t a) { return json(a); }, param<int64_t>("a"));

        app.password_lookup([this](Context&, std::string_view login) -> std::optional<std::string> {
            if (login == "calvin") return calvin_hash;
            return std::nullopt;
        });
        app.group_check([](Context&, std::string_view login, std::string_view group) {
            return login == "admin" && group == "ADMIN";
        });
        app.object_check(
            "thing", [](Context&, std::string_view login, int64_t id, Mode) -> std::optional<bool> {
                if (id == 404) return std::nullopt;
                return id == 1 || login == "admin";
            });
        app.check();
    }

    Outcome call(RequestSpec spec) {
        FakeRequest request(std::move(spec));
        return app.handle(request, db);
    }
    Outcome get(std::string path, std::string query = {}) {
        return call(RequestSpec("GET", std::move(path)).query(std::move(query)));
    }
    Outcome with_auth(std::string path, std::string authorization, std::string method = "GET") {
        return call(RequestSpec(std::move(method), std::move(path))
                        .authorization(std::move(authorization)));
    }
    std::string bearer(std::string_view login) const {
        return "Bearer " + app.security().create_token(login);
    }
};

std::string header(const Response& r, std::string_view name) {
    for (const auto& [n, v] : r.headers)
        if (n == name) return v;
    return "<none>";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(app)

// ---------------------------------------------------------------- routing

BOOST_AUTO_TEST_CASE(open_route_answers) {
    TestApp t;
    auto out = t.get("/hello");
    BOOST_TEST(out.response.status == 200);
    BOOST_TEST(out.response.body == "\"ok\"");
    BOOST_TEST(!out.user.has_value());
    out = t.call(RequestSpec("POST", "/hello"));
    BOOST_TEST(out.response.status == 201);
}

BOOST_AUTO_TEST_CASE(unknown_path_is_404) {
    TestApp t;
    auto out = t.get("/nothing");
    BOOST_TEST(out.response.status == 404);
    BOOST_TEST(out.response.body == R"({"error":"not found"})");
    BOOST_TEST(t.get("/items/abc").response.status == 404);  // a typed segment that does not parse
    BOOST_TEST(t.get("/hello/").response.status == 404);
}

BOOST_AUTO_TEST_CASE(other_method_is_405_with_allow) {
    TestApp t;
    auto out = t.call(RequestSpec("PUT", "/hello"));
    BOOST_TEST(out.response.status == 405);
    BOOST_TEST(header(out.response, "Allow") == "GET, HEAD, POST");
    BOOST_TEST(out.response.body == R"({"error":"method PUT not allowed"})");
}

BOOST_AUTO_TEST_CASE(head_is_get_without_body) {
    TestApp t;
    auto out = t.call(RequestSpec("HEAD", "/hello"));
    BOOST_TEST(out.response.status == 200);
    BOOST_TEST(out.response.body.empty());
}

// HEAD on an unknown path returns the JSON error body too: App::handle returns early for
// 404/405, before the `HEAD -> body.clear()` line. The front ends drop it (nginx and Apache
// never send a body for HEAD), but the worker's own contract "HEAD -> no body" does not hold.
BOOST_AUTO_TEST_CASE(head_error_has_no_body) {
    TestApp t;
    auto out = t.call(RequestSpec("HEAD", "/nothing"));
    BOOST_TEST(out.response.status == 404);
    BOOST_TEST(out.response.body.empty());
    out = t.call(RequestSpec("HEAD", "/echo"));
    BOOST_TEST(out.response.status == 405);
    BOOST_TEST(out.response.body.empty());
}

BOOST_AUTO_TEST_CASE(group_prefix) {
    TestApp t;
    auto out = t.get("/cmp/add", "a=3");
    BOOST_TEST(out.response.status == 200);
    BOOST_TEST(out.response.body == "3");
    BOOST_TEST(t.get("/add", "a=3").response.status == 400);  // /add is another route, needing b
}

BOOST_AUTO_TEST_CASE(path_parameters) {
    TestApp t;
    auto out = t.get("/items/42");
    BOOST_TEST(out.response.status == 200);
    BOOST_TEST(out.response.body == "42");
    // A path parameter cannot be overridden by the query string.
    BOOST_TEST(t.get("/items/42", "id=7").response.body == "42");
}

// ---------------------------------------------------------------- authorization

BOOST_AUTO_TEST_CASE(undeclared_route_is_403) {
    TestApp t;
    auto out = t.get("/closed");
    BOOST_TEST(out.response.status == 403);
    BOOST_TEST(out.response.body == R"({"error":"access denied: this route is closed"})");
    // Closed even for an authenticated caller.
    BOOST_TEST(t.with_auth("/closed", t.bearer("admin")).response.status == 403);
    BOOST_TEST(t.get("/close").response.status == 403);
}

BOOST_AUTO_TEST_CASE(token_route_without_token_is_401) {
    TestApp t;
    auto out = t.get("/token");
    BOOST_TEST(out.response.status == 401);
    BOOST_TEST(header(out.response, "WWW-Authenticate") == R"(Bearer realm="kiva")");
    BOOST_TEST(out.response.body == R"({"error":"missing token"})");
    // Basic credentials on a token-only route.
    out = t.with_auth("/token", "Basic Y2FsdmluOmhvYmJlcw==");
    BOOST_TEST(out.response.status == 401);
    BOOST_TEST(out.response.body == R"({"error":"missing token"})");
}

BOOST_AUTO_TEST_CASE(valid_token_is_accepted) {
    TestApp t;
    auto out = t.with_auth("/token", t.bearer("moe"));
    BOOST_TEST(out.response.status == 200);
    BOOST_TEST(out.response.body == R"({"user":"moe"})");
    BOOST_TEST(out.user.value_or("<none>") == "moe");
}

BOOST_AUTO_TEST_CASE(bad_token_is_401) {
    TestApp t;
    for (std::string auth :
         {"Bearer garbage"s, "Bearer " + t.app.security().create_token("moe") + "x", "Bearer"s}) {
        BOOST_TEST_CONTEXT(auth) {
            auto out = t.with_auth("/token", auth);
            BOOST_TEST(out.response.status == 401);
            BOOST_TEST(header(out.response, "WWW-Authenticate") == R"(Bearer realm="kiva")");
            BOOST_TEST(!out.user.has_value());
        }
    }
}

BOOST_AUTO_TEST_CASE(open_route_checks_credentials_when_sent) {
    TestApp t;
    auto out = t.with_auth("/who", t.bearer("moe"));
    BOOST_TEST(out.response.status == 200);
    BOOST_TEST(out.response.body == "\"moe\"");
    BOOST_TEST(out.user.value_or("<none>") == "moe");
    BOOST_TEST(t.get("/who").response.body == "null");
    BOOST_TEST(t.with_auth("/who", "Bearer garbage").response.status == 401);
}

BOOST_AUTO_TEST_CASE(basic_authentication) {
    TestApp t;
    auto out = t.with_auth("/me", "Basic Y2FsdmluOmhvYmJlcw==");  // calvin:hobbes
    BOOST_TEST(out.response.status == 200);
    BOOST_TEST(out.response.body == "\"calvin\"");
    BOOST_TEST(out.user.value_or("<none>") == "calvin");

    out = t.with_auth("/me", "Basic Y2FsdmluOnRpZ3Jl");  // calvin:tigre
    BOOST_TEST(out.response.status == 401);
    BOOST_TEST(out.response.body == R"({"error":"invalid password for calvin"})");

    out = t.with_auth("/me", "Basic bW9lOnB3");  // moe:pw, no such user
    BOOST_TEST(out.response.status == 401);
    BOOST_TEST(out.response.body == R"({"error":"no such user: moe"})");
    BOOST_TEST(header(out.response, "WWW-Authenticate") ==
               R"(Basic realm="kiva", Bearer realm="kiva")");

    out = t.get("/me");
    BOOST_TEST(out.response.status == 401);
    BOOST_TEST(out.response.body == R"({"error":"missing authorization header"})");
}

BOOST_AUTO_TEST_CASE(groups_are_checked) {
    TestApp t;
    auto out = t.with_auth("/admin", t.bearer("moe"));
    BOOST_TEST(out.response.status == 403);
    BOOST_TEST(out.response.body == R"({"error":"not in group \"ADMIN\""})");
    BOOST_TEST(out.user.value_or("<none>") == "moe");  // authenticated, just not allowed
    out = t.with_auth("/admin", t.bearer("admin"));
    BOOST_TEST(out.response.status == 200);
    BOOST_TEST(t.get("/admin").response.status == 401);
}

BOOST_AUTO_TEST_CASE(object_permissions) {
    TestApp t;
    BOOST_TEST(t.with_auth("/things/1", t.bearer("moe")).response.status == 200);
    auto out = t.with_auth("/things/2", t.bearer("moe"));
    BOOST_TEST(out.response.status == 403);
    BOOST_TEST(out.response.body == R"({"error":"permission denied on thing:2"})");
    out = t.with_auth("/things/404", t.bearer("moe"));
    BOOST_TEST(out.response.status == 404);
    BOOST_TEST(out.response.body == R"({"error":"object not found"})");
    BOOST_TEST(t.with_auth("/things/2", t.bearer("admin")).response.status == 200);
    BOOST_TEST(t.get("/things/1").response.status == 401);
}

// ---------------------------------------------------------------- parameters

BOOST_AUTO_TEST_CASE(typed_parameters) {
    TestApp t;
    auto out = t.get("/add", "a=1&b=2");
    BOOST_TEST(out.response.status == 200);
    BOOST_TEST(out.response.body == "3");
    out = t.get("/opt");
    BOOST_TEST(out.response.body == R"({"s":null,"n":10})");
    out = t.get("/opt", "s=x&n=3");
    BOOST_TEST(out.response.body == R"({"s":"x","n":3})");
}

BOOST_AUTO_TEST_CASE(missing_parameter_is_400) {
    TestApp t;
    auto out = t.get("/add", "a=1");
    BOOST_TEST(out.response.status == 400);
    BOOST_TEST(out.response.body == R"({"error":"parameter \"b\" is missing"})");
}

BOOST_AUTO_TEST_CASE(mistyped_parameter_is_400) {
    TestApp t;
    auto out = t.get("/add", "a=x&b=2");
    BOOST_TEST(out.response.status == 400);
    BOOST_TEST(out.response.body == R"({"error":"parameter \"a\" must be an integer"})");
}

BOOST_AUTO_TEST_CASE(unexpected_parameter_is_400) {
    TestApp t;
    auto out = t.get("/add", "a=1&b=2&c=3");
    BOOST_TEST(out.response.status == 400);
    BOOST_TEST(out.response.body == R"({"error":"unexpected parameter \"c\""})");
    out = t.get("/hello", "x=1");
    BOOST_TEST(out.response.status == 400);
}

BOOST_AUTO_TEST_CASE(bodies) {
    TestApp t;
    auto out =
        t.call(RequestSpec("POST", "/echo").content_type("application/json").body(R"({"s":"x"})"));
    BOOST_TEST(out.response.status == 200);
    BOOST_TEST(out.response.body == "\"x\"");
    out = t.call(RequestSpec("POST", "/echo").body("s=y"));
    BOOST_TEST(out.response.body == "\"y\"");
    out = t.call(RequestSpec("POST", "/echo").content_type("text/plain").body("s=y"));
    BOOST_TEST(out.response.status == 415);
    out = t.call(RequestSpec("POST", "/echo").content_type("application/json").body("{"));
    BOOST_TEST(out.response.status == 400);
    out = t.call(RequestSpec("POST", "/echo").content_type("application/json").body(R"({"s": 1})"));
    BOOST_TEST(out.response.status == 400);
    BOOST_TEST(out.response.body == R"({"error":"parameter \"s\" must be a string"})");
}

BOOST_AUTO_TEST_CASE(body_is_not_read_before_authentication) {
    TestApp t;
    // A bad body on a route the caller may not use: 401, not 400.
    auto out = t.call(RequestSpec("GET", "/token").content_type("application/json").body("{"));
    BOOST_TEST(out.response.status == 401);
}

// ---------------------------------------------------------------- errors

BOOST_AUTO_TEST_CASE(handler_exception_is_500_and_app_keeps_working) {
    TestApp t;
    auto out = t.get("/boom");
    BOOST_TEST(out.response.status == 500);
    BOOST_TEST(out.response.body == R"({"error":"internal error"})");  // no internal detail
    BOOST_TEST(t.boom_calls == 1);
    out = t.get("/weird");  // not even a std::exception
    BOOST_TEST(out.response.status == 500);
    BOOST_TEST(out.response.body == R"({"error":"internal error"})");
    out = t.get("/hello");
    BOOST_TEST(out.response.status == 200);
    BOOST_TEST(t.get("/boom").response.status == 500);
    BOOST_TEST(t.boom_calls == 2);
}

BOOST_AUTO_TEST_CASE(http_error_keeps_status_and_headers) {
    TestApp t;
    auto out = t.get("/conflict");
    BOOST_TEST(out.response.status == 409);
    BOOST_TEST(out.response.body == R"({"error":"already there"})");
    BOOST_TEST(header(out.response, "X-Why") == "duplicate");
}

BOOST_AUTO_TEST_CASE(database_errors_map_to_statuses) {
    TestApp t;
    auto out = t.get("/dup");
    BOOST_TEST(out.response.status == 409);
    BOOST_TEST(out.response.body == R"({"error":"already exists"})");
    out = t.get("/badsql");
    BOOST_TEST(out.response.status == 500);
    BOOST_TEST(out.response.body == R"({"error":"internal error"})");
    out = t.get("/down");
    BOOST_TEST(out.response.status == 503);
    BOOST_TEST(out.response.body == R"({"error":"database unavailable"})");
}

// ---------------------------------------------------------------- declaration checks

BOOST_AUTO_TEST_CASE(check_finds_missing_callbacks) {
    Config config = test_config();
    Logger log(LogLevel::off);
    auto ok = [](Context&) { return json("ok"); };
    {
        App a(config, log);
        a.routes().get("/g", group("ADMIN"), ok);
        a.password_lookup([](Context&, std::string_view) { return std::optional<std::string>{}; });
        BOOST_CHECK_THROW(a.check(), std::runtime_error);  // no group check
    }
    {
        App a(config, log);
        a.routes().get(
            "/o/<oid:int>", permission("owned", "oid"), [](Context&, int64_t) { return json(1); },
            param<int64_t>("oid"));
        a.password_lookup([](Context&, std::string_view) { return std::optional<std::string>{}; });
        BOOST_CHECK_THROW(a.check(), std::runtime_error);  // no object check "owned"
        a.object_check("owned", [](Context&, std::string_view, int64_t, Mode) {
            return std::optional<bool>{true};
        });
        BOOST_CHECK_NO_THROW(a.check());
    }
    {
        App a(config, log);
        a.routes().get("/o", permission("owned", "oid"),
                       ok);  // oid is not a parameter of the route
        a.password_lookup([](Context&, std::string_view) { return std::optional<std::string>{}; });
        a.object_check("owned", [](Context&, std::string_view, int64_t, Mode) {
            return std::optional<bool>{true};
        });
        BOOST_CHECK_THROW(a.check(), std::runtime_error);
    }
    {
        App a(config, log);
        a.routes().get("/a", AUTH, ok);  // basic is a default scheme: passwords needed
        BOOST_CHECK_THROW(a.check(), std::runtime_error);
    }
    {
        App a(config, log);
        a.routes().get("/t", AUTH.via({AuthScheme::token}), ok);
        a.routes().get("/c", ok);  // closed: no password lookup needed
        BOOST_CHECK_NO_THROW(a.check());
    }
}

BOOST_AUTO_TEST_CASE(duplicate_route_is_refused) {
    Config config = test_config();
    Logger log(LogLevel::off);
    App a(config, log);
    auto ok = [](Context&) { return json("ok"); };
    a.routes().get("/x", OPEN, ok);
    BOOST_CHECK_THROW(a.routes().get("/x", OPEN, ok), std::invalid_argument);
    BOOST_CHECK_THROW(a.routes().get("/<a>/<a>", OPEN, ok), std::invalid_argument);
}

// ---------------------------------------------------------------- hooks

BOOST_AUTO_TEST_CASE(hooks_run_in_the_documented_order) {
    TestApp t;
    std::vector<std::string> trace;
    t.app.before_request([&](Context& c) -> std::optional<Response> {
        trace.push_back("before1 " + std::string(c.request.path()) + (c.user ? " user" : ""));
        return std::nullopt;
    });
    t.app.before_request([&](Context&) -> std::optional<Response> {
        trace.push_back("before2");
        return std::nullopt;
    });
    t.app.after_request([&](Context&, Response& r) { trace.push_back("after1 " + std::to_string(r.status)); });
    t.app.after_request([&](Context&, Response& r) {
        trace.push_back("after2 " + std::to_string(r.status));
        r.header("X-Hooked", "yes");
    });
    auto out = t.get("/add", "a=1&b=2");
    BOOST_TEST(out.response.body == "3");
    BOOST_TEST(header(out.response, "X-Hooked") == "yes");
    // before: registration order, before authentication; after: reverse order
    std::vector<std::string> expected{"before1 /add", "before2", "after2 200", "after1 200"};
    BOOST_TEST(trace == expected, boost::test_tools::per_element());
    trace.clear();
    out = t.get("/me");  // before hooks run before authentication, after hooks see the 401
    BOOST_TEST(out.response.status == 401);
    expected = {"before1 /me", "before2", "after2 401", "after1 401"};
    BOOST_TEST(trace == expected, boost::test_tools::per_element());
    trace.clear();
    out = t.get("/nothing");  // 404 and 405 too
    BOOST_TEST(out.response.status == 404);
    BOOST_TEST(header(out.response, "X-Hooked") == "yes");
    BOOST_TEST(trace.size() == 4u);
}

BOOST_AUTO_TEST_CASE(a_before_hook_can_answer_or_refuse) {
    TestApp t;
    bool maintenance = true;
    int after_calls = 0;
    t.app.before_request([&](Context& c) -> std::optional<Response> {
        if (maintenance && c.request.path() == "/boom") return json("maintenance", 503);
        if (c.request.path() == "/hello" && c.request.method() == "POST")
            throw HttpError(503, "read-only for now");
        return std::nullopt;
    });
    t.app.before_request([&](Context&) -> std::optional<Response> {
        BOOST_TEST(!maintenance);  // never reached while the first hook answers /boom
        return std::nullopt;
    });
    t.app.after_request([&](Context&, Response&) { ++after_calls; });
    auto out = t.get("/boom");
    BOOST_TEST(out.response.status == 503);
    BOOST_TEST(out.response.body == "\"maintenance\"");
    BOOST_TEST(t.boom_calls == 0);  // the handler did not run
    BOOST_TEST(after_calls == 1);
    out = t.call(RequestSpec("POST", "/hello"));
    BOOST_TEST(out.response.status == 503);
    BOOST_TEST(out.response.body == R"({"error":"read-only for now"})");
    BOOST_TEST(after_calls == 2);
    maintenance = false;
    BOOST_TEST(t.get("/boom").response.status == 500);
    BOOST_TEST(t.boom_calls == 1);
}

BOOST_AUTO_TEST_CASE(an_after_hook_that_fails_is_an_error_response) {
    TestApp t;
    std::vector<int> seen;
    t.app.after_request([&](Context&, Response& r) { seen.push_back(r.status); });
    t.app.after_request([&](Context&, Response&) { throw HttpError(418, "teapot"); });
    auto out = t.get("/hello");
    BOOST_TEST(out.response.status == 418);
    BOOST_TEST(seen == std::vector<int>{418});  // registered first: runs last, on the error
}

BOOST_AUTO_TEST_SUITE_END()
