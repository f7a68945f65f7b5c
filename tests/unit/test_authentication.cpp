// Authentication on its own, without App or routes: the schemes a route accepts, the 401s and
// their challenge, the password callbacks (a rehash through password_update). No database:
// auth_state is off, so throttling and revocation stay in the process.

#include "kiva/app/authentication.hpp"

#include <boost/test/unit_test.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kiva/http/http_error.hpp"
#include "request_fixture.hpp"

using namespace kiva;
using kiva::test::FakeRequest;
using kiva::test::RequestSpec;

namespace {

Config test_config(int cost) {
    Config c;
    c.auth_state = false;  // no database here
    c.test_mode = true;    // a random token secret
    c.password_cost = cost;
    return c;
}

struct Fixture {
    Config config = test_config(5);
    Logger log{LogLevel::off};
    Security security{config, log};
    Authentication authentication{security};
    db::QueryFile queries;
    db::Database db{queries, "host=/nonexistent/kiva-unit-test dbname=none connect_timeout=1",
                    "kiva-test", log};
    std::string app_name = "kiva";
    /// calvin's hash, made at cost 4: older than the configured 5, so it is rehashed.
    Config old_config = test_config(4);
    std::string calvin_hash = Security(old_config, log).hash_password("hobbes");
    std::vector<std::string> updated;  ///< logins whose hash password_update stored

    Fixture() {
        authentication.password_lookup(
            [this](Context&, std::string_view login) -> std::optional<std::string> {
                if (login == "calvin") return calvin_hash;
                return std::nullopt;
            });
        authentication.password_update(
            [this](Context&, std::string_view login, const std::string& hash) {
                updated.emplace_back(login);
                calvin_hash = hash;
            });
    }

    /// authenticate() on request, for a route accepting schemes.
    std::optional<std::string> run(RequestSpec spec, const std::vector<AuthScheme>& schemes,
                                   bool required = true) {
        FakeRequest request(std::move(spec));
        Params params(request, {});
        Context c{request, params, db, security, app_name, std::nullopt};
        return authentication.authenticate(c, schemes, required);
    }

    /// The HttpError authenticate() throws (status 0 when it throws none).
    HttpError refusal(RequestSpec spec, const std::vector<AuthScheme>& schemes) {
        try {
            run(std::move(spec), schemes);
        } catch (const HttpError& e) {
            return e;
        }
        return HttpError(0, "none");
    }
};

std::string header(const HttpError& e, std::string_view name) {
    for (const auto& [n, v] : e.headers())
        if (n == name) return v;
    return "<none>";
}

const std::vector<AuthScheme> basic_and_token{AuthScheme::basic, AuthScheme::token};

}  // namespace

BOOST_AUTO_TEST_SUITE(authentication)

BOOST_AUTO_TEST_CASE(no_credentials) {
    Fixture f;
    BOOST_TEST(!f.run(RequestSpec(), basic_and_token, false).has_value());
    HttpError e = f.refusal(RequestSpec(), basic_and_token);
    BOOST_TEST(e.status() == 401);
    BOOST_TEST(std::string(e.what()) == "missing authorization header");
    BOOST_TEST(header(e, "WWW-Authenticate") == R"(Basic realm="kiva", Bearer realm="kiva")");
    e = f.refusal(RequestSpec(), {AuthScheme::token});
    BOOST_TEST(std::string(e.what()) == "missing token");
    BOOST_TEST(header(e, "WWW-Authenticate") == R"(Bearer realm="kiva")");
}

BOOST_AUTO_TEST_CASE(basic_checks_the_password_and_rehashes_an_old_hash) {
    Fixture f;
    std::string old_hash = f.calvin_hash;
    auto login = f.run(RequestSpec().authorization("Basic Y2FsdmluOmhvYmJlcw=="),  // calvin:hobbes
                       basic_and_token);
    BOOST_TEST(login.value_or("<none>") == "calvin");
    BOOST_TEST(f.updated == std::vector<std::string>{"calvin"});
    BOOST_TEST(f.calvin_hash != old_hash);
    BOOST_TEST(!f.security.needs_rehash(f.calvin_hash));

    HttpError e = f.refusal(RequestSpec().authorization("Basic Y2FsdmluOnRpZ3Jl"),  // calvin:tigre
                            basic_and_token);
    BOOST_TEST(e.status() == 401);
    BOOST_TEST(std::string(e.what()) == "invalid password for calvin");
    e = f.refusal(RequestSpec().authorization("Basic bW9lOnB3"), basic_and_token);  // moe:pw
    BOOST_TEST(std::string(e.what()) == "no such user: moe");
    // Basic on a route that takes tokens only.
    e = f.refusal(RequestSpec().authorization("Basic Y2FsdmluOmhvYmJlcw=="), {AuthScheme::token});
    BOOST_TEST(std::string(e.what()) == "missing token");
}

BOOST_AUTO_TEST_CASE(token) {
    Fixture f;
    std::string token = f.security.create_token("moe");
    BOOST_TEST(f.run(RequestSpec().authorization("Bearer " + token), basic_and_token)
                   .value_or("<none>") == "moe");
    HttpError e = f.refusal(RequestSpec().authorization("Bearer " + token + "x"), basic_and_token);
    BOOST_TEST(e.status() == 401);
    e = f.refusal(RequestSpec().authorization("Bearer " + token), {AuthScheme::basic});
    BOOST_TEST(std::string(e.what()) == "unexpected authorization scheme");
}

BOOST_AUTO_TEST_CASE(parameters_and_front_end) {
    Fixture f;
    BOOST_TEST(f.run(RequestSpec().query("USER=calvin&PASS=hobbes"), {AuthScheme::param})
                   .value_or("<none>") == "calvin");
    HttpError e = f.refusal(RequestSpec().query("USER=calvin"), {AuthScheme::param});
    BOOST_TEST(std::string(e.what()) == "missing PASS parameter");
    // REMOTE_USER is believed only on a route that accepts the front end's authentication.
    BOOST_TEST(f.run(RequestSpec().var("REMOTE_USER", "hobbes"), {AuthScheme::httpd})
                   .value_or("<none>") == "hobbes");
    BOOST_TEST(f.refusal(RequestSpec().var("REMOTE_USER", "hobbes"), basic_and_token).status() ==
               401);
}

BOOST_AUTO_TEST_CASE(helpers) {
    BOOST_TEST(accepts(basic_and_token, AuthScheme::token));
    BOOST_TEST(!accepts(basic_and_token, AuthScheme::param));
    BOOST_TEST(shown("calvin") == "calvin");
    std::string long_login(99, 'a');
    long_login += "\xc3\xa9";  // é across the 100-byte cut: cut before it, whole
    BOOST_TEST(shown(long_login) == std::string(99, 'a') + "...");
}

BOOST_AUTO_TEST_SUITE_END()
