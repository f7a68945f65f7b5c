// @NAME@'s routes through kiva's test client: in process (App::handle on a real PostgreSQL,
// a fresh copy of the schema for each test case) when make test builds it, and the same
// cases over HTTP through nginx with KIVA_TEST_URL (tests/run.sh runs both).
#define BOOST_TEST_MODULE @NAME@
#include <boost/test/unit_test.hpp>

#include <random>
#include <string>

#include "api.hpp"
#include "kiva/testing/boost.hpp"
#include "kiva/testing/fixture.hpp"

using kiva::testing::Auth;

namespace {

/// The application under test, as its main gives it, with its schema, demo rows and accounts.
struct Api {
    static kiva::testing::Setup setup() {
        kiva::testing::Setup s;
        s.declare = @NAME@::declare;
        s.queries = @NAME@::Queries::compiled();
        s.first_query = @NAME@::Queries::first;
        s.queries_file = PROJECT_DIR "/sql/queries.sql";
        s.schema = {PROJECT_DIR "/sql/create.sql", PROJECT_DIR "/sql/data.sql",
                    PROJECT_DIR "/tests/accounts.sql"};
        s.client.passwords = {{"admin", "admin-password"}, {"alice", "alice-password"}};
        return s;
    }
};

/// A name no other run used (at a URL the database is shared and Item.name is unique).
std::string fresh(const std::string& prefix) {
    return prefix + "-" + std::to_string(std::random_device()());
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(items, kiva::testing::Fixture<Api>)

BOOST_AUTO_TEST_CASE(anyone_lists_and_reads_items) {
    auto r = client.get("/items").send();
    BOOST_TEST(r.status == 200);
    BOOST_TEST(r.json()[0]["name"] == "first item");
    BOOST_TEST(client.get("/items/1").send().json()["name"] == "first item");
    BOOST_TEST(client.get("/items/999999").send().status == 404);
}

BOOST_AUTO_TEST_CASE(adding_needs_credentials_and_a_new_name) {
    const std::string name = fresh("pen");
    BOOST_TEST(client.post("/items").form({{"name", name}}).send().status == 401);
    auto added = client.post("/items").form({{"name", name}}).as("alice");
    BOOST_TEST(added.status == 201);
    const auto iid = added.json()["iid"].integer();
    BOOST_TEST(client.get("/items/" + std::to_string(iid)).send().json()["name"] == name);
    BOOST_TEST(client.post("/items").form({{"name", name}}).via(Auth::bearer).as("alice").status == 409);
}

BOOST_AUTO_TEST_CASE(only_admin_deletes) {
    auto added = client.post("/items").form({{"name", fresh("ink")}}).as("alice");
    const std::string path = "/items/" + std::to_string(added.json()["iid"].integer());
    BOOST_TEST(client.del(path).as("alice").status == 403);
    BOOST_TEST(client.del(path).as("admin").status == 204);
    BOOST_TEST(client.del(path).as("admin").status == 404);
}

BOOST_AUTO_TEST_SUITE_END()
