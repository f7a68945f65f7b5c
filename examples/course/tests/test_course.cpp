// The course demo's contract through kiva's test client, in process (App::handle on a real
// PostgreSQL, a fresh copy of the schema per test case); the same source at a deployed
// instance with KIVA_TEST_URL=https://host/api (KIVA_TEST_CA for its certificate). The
// integration tests (tests/integration) check every route through nginx; these are the
// course's walkthrough, as a developer writes tests for their own routes.
#define BOOST_TEST_MODULE course
#include <boost/test/unit_test.hpp>

#include <random>
#include <string>

#include "api/api.hpp"
#include "kiva/testing/boost.hpp"
#include "kiva/testing/fixture.hpp"

using kiva::testing::Auth;
using kiva::testing::in_process_only;
namespace utf = boost::unit_test;

namespace {

struct Course {
    static kiva::testing::Setup setup() {
        kiva::testing::Setup s;
        s.declare = api::register_api;
        s.queries = api::Queries::compiled();
        s.first_query = api::Queries::first;
        s.queries_file = COURSE_DIR "/sql/queries.sql";
        s.schema = {COURSE_DIR "/sql/create.sql", COURSE_DIR "/sql/data.sql",
                    COURSE_DIR "/tests/accounts.sql"};
        s.client.passwords = {{"calvin", "hobbes"}, {"hobbes", "susie"}, {"susie", "derkins"}};
        return s;
    }
};

std::string fresh(const std::string& prefix) {
    return prefix + " " + std::to_string(std::random_device()());
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(course, kiva::testing::Fixture<Course>)

BOOST_AUTO_TEST_CASE(stuff_cruds) {
    const std::string name = fresh("Clock");
    auto added = client.post("/stuff").form({{"stuff", name}}).expect(201).send();
    const std::string path = "/stuff/" + std::to_string(added.json()["sid"].integer());
    BOOST_TEST(client.get(path).send().json()["stuff"] == name);
    BOOST_TEST(client.post("/stuff").form({{"stuff", name}}).send().status == 409);
    BOOST_TEST(client.put(path).form({{"stuff", name + "!"}}).send().status == 204);
    BOOST_TEST(client.get(path).send().json()["stuff"] == name + "!");
    BOOST_TEST(client.del(path).send().status == 204);
    BOOST_TEST(client.get(path).send().status == 404);
}

BOOST_AUTO_TEST_CASE(the_demo_rows, *utf::precondition(in_process_only)) {
    auto r = client.get("/stuff").send();
    BOOST_TEST(r.status == 200);
    BOOST_TEST(r.json().size() == 2u);
    BOOST_TEST(r.json()[0]["stuff"] == "Chair");
}

BOOST_AUTO_TEST_CASE(authentication_and_groups) {
    BOOST_TEST(client.get("/hello").send().status == 401);
    BOOST_TEST(client.get("/hello").as("hobbes").json() == "hello hobbes!");
    BOOST_TEST(client.get("/whoami").via(Auth::bearer).as("susie").json() == "susie");
    BOOST_TEST(client.get("/admin").as("hobbes").status == 403);
    BOOST_TEST(client.get("/admin").as("calvin").json() == "hello admin calvin!");
}

BOOST_AUTO_TEST_CASE(owners_see_their_objects) {
    BOOST_TEST(client.get("/object/4").as("calvin").json()["object"] == "Tiger");
    BOOST_TEST(client.get("/object/4").as("hobbes").status == 403);
    BOOST_TEST(client.get("/object/999").as("hobbes").status == 404);
}

BOOST_AUTO_TEST_SUITE_END()
