// Jobs without a database: declarations, payload checks at enqueue (refused before any
// statement: the Database here is never connected), failure classes and the retry backoff.
// The queue itself (claims, leases, exactly once) is tested against PostgreSQL in
// tests/integration/test_jobs.py.

#include "kiva/jobs/jobs.hpp"

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

#include "kiva/db/errors.hpp"
#include "kiva/http/http_error.hpp"
#include "kiva/jobs/worker.hpp"

using namespace kiva;
using namespace std::chrono_literals;

namespace {

int64_t count_names(jobs::JobContext&, std::vector<std::string> names) {
    return static_cast<int64_t>(names.size());
}

struct Queue {
    Logger log{LogLevel::off};
    db::QueryFile queries;
    db::Database db{queries, "host=/nonexistent/kiva-unit-test dbname=none connect_timeout=1",
                    "test", log};
    jobs::Registry registry;
    Queue() { registry.job<std::vector<std::string>>("import_stuff", count_names); }

    /// The status and message of what enqueue throws.
    std::pair<int, std::string> refused(std::string_view name, std::string_view payload) {
        try {
            registry.enqueue(db, name, payload, {}, std::nullopt, "");
        } catch (const HttpError& e) {
            return {e.status(), e.what()};
        }
        return {0, "accepted"};
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(jobs_declarations)

BOOST_AUTO_TEST_CASE(declared_once_with_a_plain_name) {
    jobs::Registry r;
    r.job<int64_t>("send_mail", [](jobs::JobContext&, int64_t) {});
    r.periodic("purge.tokens", 10min, [](jobs::JobContext&) { return 1; });
    BOOST_TEST((r.names() == std::vector<std::string>{"send_mail", "purge.tokens"}));
    BOOST_TEST(r.find("purge.tokens")->every.count() == 600);
    BOOST_TEST(r.find("send_mail")->every.count() == 0);
    BOOST_TEST(r.find("send_mail")->viewers == "ADMIN");
    BOOST_TEST(!r.find("nothing"));
    BOOST_CHECK_THROW(r.job<int64_t>("send_mail", [](jobs::JobContext&, int64_t) {}), std::logic_error);
    BOOST_CHECK_THROW(r.job<int64_t>("Send Mail", [](jobs::JobContext&, int64_t) {}), std::logic_error);
    BOOST_CHECK_THROW(r.job<int64_t>("", [](jobs::JobContext&, int64_t) {}), std::logic_error);
    BOOST_CHECK_THROW(r.periodic("never", 0s, [](jobs::JobContext&) {}), std::logic_error);
    BOOST_CHECK_THROW(r.job<int64_t>("no_attempts", [](jobs::JobContext&, int64_t) {}, {}, 0),
                      std::logic_error);
}

BOOST_AUTO_TEST_CASE(a_handler_result_is_json) {
    jobs::Registry r;
    r.job<std::vector<std::string>>("count", count_names);
    r.job<std::string>("nothing", [](jobs::JobContext&, std::string) {});
    Logger log{LogLevel::off};
    db::QueryFile queries;
    db::Database db{queries, "host=/nonexistent/kiva-unit-test dbname=none", "test", log};
    jobs::JobContext c{db, log, 1, "count", 1, 5, std::nullopt, ""};
    rapidjson::Document list;
    list.Parse(R"(["a", "b"])");
    BOOST_TEST(r.find("count")->run(c, list) == "2");
    rapidjson::Document text;
    text.Parse(R"("x")");
    BOOST_TEST(r.find("nothing")->run(c, text) == "null");
}

BOOST_FIXTURE_TEST_CASE(enqueue_checks_the_name_and_payload_first, Queue) {
    BOOST_TEST((refused("no_such_job", "[]") == std::pair<int, std::string>{400, "unknown job \"no_such_job\""}));
    BOOST_TEST((refused("import_stuff", "[1]") ==
                std::pair<int, std::string>{400, "job \"import_stuff\": parameter \"payload\" must be a string"}));
    BOOST_TEST((refused("import_stuff", R"({"a": 1})") ==
                std::pair<int, std::string>{400, "job \"import_stuff\": parameter \"payload\" must be a list"}));
    BOOST_TEST((refused("import_stuff", "[") == std::pair<int, std::string>{400, "job payload is not valid JSON"}));
    BOOST_TEST(!db.in_transaction());  // nothing was sent
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(jobs_retries)

BOOST_AUTO_TEST_CASE(client_errors_are_final_the_rest_retried) {
    auto of = [](auto e) { return jobs::failure_of(std::make_exception_ptr(e)); };
    BOOST_TEST(of(HttpError(409, "taken")).final);
    BOOST_TEST(of(HttpError(409, "taken")).message == "409: taken");
    BOOST_TEST(!of(HttpError(503, "later")).final);
    BOOST_TEST(of(db::DbError("23505", "duplicate key", "conflict: Key (stuff)=(a) already exists.")).final);
    BOOST_TEST(of(db::DbError("23505", "duplicate key", "conflict: x")).message == "409: conflict: x");
    BOOST_TEST(!of(db::DbUnavailable("connection lost")).final);
    BOOST_TEST(!of(std::runtime_error("boom")).final);
    BOOST_TEST(of(std::runtime_error("boom")).message == "internal error: boom");
    BOOST_TEST(of(jobs::JobError("no such mailbox", true)).final);
    BOOST_TEST(!of(jobs::JobError("smtp timeout")).final);
}

BOOST_AUTO_TEST_CASE(backoff_doubles_with_jitter_up_to_an_hour) {
    using ms = std::chrono::milliseconds;
    BOOST_TEST(jobs::backoff(1000ms, 1, 0.0) == ms(500));
    BOOST_TEST(jobs::backoff(1000ms, 1, 1.0) == ms(1000));
    BOOST_TEST(jobs::backoff(1000ms, 2, 1.0) == ms(2000));
    BOOST_TEST(jobs::backoff(1000ms, 5, 1.0) == ms(16000));
    BOOST_TEST(jobs::backoff(1000ms, 5, 0.5) == ms(12000));
    BOOST_TEST(jobs::backoff(1000ms, 40, 1.0) == ms(3600 * 1000));
    BOOST_TEST(jobs::backoff(1000ms, 40, 0.0) == ms(1800 * 1000));
}

BOOST_AUTO_TEST_SUITE_END()
