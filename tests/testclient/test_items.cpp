// The test client on the Item application (items.cpp): the same test cases run in process
// (App::handle, a copy of the schema per test case) and, with KIVA_TEST_URL, over HTTP
// against the application's worker behind nginx (run.sh).
#define BOOST_TEST_MODULE testclient
#include <boost/test/unit_test.hpp>

#include <random>
#include <string>

#include "generated/queries.hpp"
#include "items.hpp"
#include "kiva/testing/boost.hpp"
#include "kiva/testing/fixture.hpp"

using kiva::object;
using kiva::testing::Auth;
using kiva::testing::in_process_only;
namespace utf = boost::unit_test;

namespace {

/// The application under test, as its worker's main gives it, plus its schema and test users.
struct Items {
    static kiva::testing::Setup setup() {
        kiva::testing::Setup s;
        s.declare = items::declare;
        s.queries = items::Queries::compiled();
        s.first_query = items::Queries::first;
        s.queries_file = TESTCLIENT_DIR "/queries.sql";
        s.schema = {TESTCLIENT_DIR "/schema.sql", TESTCLIENT_DIR "/data.sql"};
        s.configure = [](kiva::Config& c) { c.token_carrier = {"bearer", "cookie"}; };
        s.client.passwords = {{"calvin", "hobbes"}, {"hobbes", "susie"}};
        return s;
    }
};

/// A name no other run used (at a URL the database is shared and Item.name is unique).
std::string fresh(const std::string& prefix) {
    std::random_device random;
    return prefix + "-" + std::to_string(random());
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(items_api, kiva::testing::Fixture<Items>)

BOOST_AUTO_TEST_CASE(an_open_route_answers_from_the_database) {
    auto r = client.get("/items").send();
    BOOST_TEST(r.status == 200);
    BOOST_TEST(r.header("Content-Type") == "application/json");
    BOOST_TEST(r.json()[0]["name"] == "tiger");
    BOOST_TEST(r.json()[0]["owner"] == "calvin");
}

BOOST_AUTO_TEST_CASE(without_credentials_a_closed_route_says_401) {
    auto r = client.get("/items/1").send();
    BOOST_TEST(r.status == 401);
    BOOST_TEST(!r.header("WWW-Authenticate").empty());
    BOOST_TEST(r.json()["error"].is_string());
}

BOOST_AUTO_TEST_CASE(basic_authentication) {
    auto r = client.get("/whoami").as("calvin");  // Basic: the default scheme
    BOOST_TEST(r.status == 200);
    BOOST_TEST(r.json() == "calvin");
    auto wrong = client.get("/whoami").header("Authorization", "Basic Y2FsdmluOnN1c2ll").send();
    BOOST_TEST(wrong.status == 401);  // calvin:susie
}

BOOST_AUTO_TEST_CASE(bearer_authentication) {
    auto r = client.get("/whoami").via(Auth::bearer).as("hobbes");
    BOOST_TEST(r.status == 200);
    BOOST_TEST(r.json() == "hobbes");
    BOOST_TEST(client.token("hobbes").size() > 20);
    auto forged = client.get("/whoami").header("Authorization", "Bearer not-a-token").send();
    BOOST_TEST(forged.status == 401);
}

BOOST_AUTO_TEST_CASE(cookie_authentication) {
    auto r = client.get("/items/1").via(Auth::cookie).as("calvin");
    BOOST_TEST(r.status == 200);
    BOOST_TEST(r.json()["name"] == "tiger");
    // An unsafe method with a token cookie: the client adds the CSRF header.
    auto posted =
        client.post("/items").form({{"name", fresh("cookie")}}).via(Auth::cookie).as("hobbes");
    BOOST_TEST(posted.status == 201);
}

BOOST_AUTO_TEST_CASE(groups_are_checked) {
    BOOST_TEST(client.get("/admin").as("hobbes").status == 403);
    BOOST_TEST(client.get("/admin").expect(200).as("calvin").json() == "calvin");
}

BOOST_AUTO_TEST_CASE(an_expected_status_is_checked) {
    BOOST_TEST(client.get("/whoami").expect(200).as("hobbes").status == 200);
    try {
        client.get("/admin").expect(200).as("hobbes");
        BOOST_ERROR("no UnexpectedStatus");
    } catch (const kiva::testing::UnexpectedStatus& e) {
        BOOST_TEST(std::string(e.what()).starts_with("GET /admin as hobbes: 403, not 200: {"));
    }
}

BOOST_AUTO_TEST_CASE(a_created_item_is_found_at_its_location) {
    std::string name = fresh("pen");
    auto created =
        client.post("/items").json(object{{"name", name}}).via(Auth::bearer).as("hobbes");
    BOOST_TEST_REQUIRE(created.status == 201);
    BOOST_TEST(created.json()["iid"].is_number());
    std::string location(created.header("Location"));
    BOOST_TEST(location == "/items/" + std::to_string(created.json()["iid"].integer()));
    auto r = client.get(location).as("calvin");
    BOOST_TEST(r.status == 200);
    BOOST_TEST(r.json()["name"] == name);
    BOOST_TEST(r.json()["owner"] == "hobbes");
}

BOOST_AUTO_TEST_CASE(errors_are_answered) {
    BOOST_TEST(client.get("/items/999999999").as("calvin").status == 404);
    BOOST_TEST(client.get("/items/abc").as("calvin").status == 404);  // not an int: no route
    BOOST_TEST(client.get("/nowhere").send().status == 404);
    auto r = client.del("/items").as("calvin");
    BOOST_TEST(r.status == 405);
    BOOST_TEST(r.header("Allow").find("GET") != std::string_view::npos);
    BOOST_TEST(client.post("/items").as("calvin").status == 400);  // no name
}

// Isolation: each test case has its own copy of the schema, so what one writes the next
// never sees (in process only: at a URL the database is the service's).
BOOST_AUTO_TEST_CASE(one_case_writes, *utf::precondition(in_process_only)) {
    BOOST_TEST(client.post("/items").form({{"name", "pencil"}}).as("calvin").status == 201);
    BOOST_TEST(client.get("/items").send().json().size() == 2u);
}

BOOST_AUTO_TEST_CASE(the_next_case_does_not_see_it, *utf::precondition(in_process_only)) {
    auto r = client.get("/items").send();
    BOOST_TEST(r.json().size() == 1u);
    BOOST_TEST(r.json()[0]["name"] == "tiger");
    BOOST_TEST(client.post("/items").form({{"name", "pencil"}}).as("calvin").status == 201);
}

BOOST_AUTO_TEST_SUITE_END()
