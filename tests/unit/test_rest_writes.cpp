// The parsers of idempotent POSTs and rate limits: N/T (core/rate_spec), the RateLimit
// fields (security/rate_limit), Idempotency-Key and the request fingerprint (app/idempotency),
// and the host's shared counters.

#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <rapidjson/document.h>

#include <memory>
#include <vector>

#include "kiva/app/app.hpp"
#include "kiva/app/idempotency.hpp"
#include "kiva/core/rate_spec.hpp"
#include "kiva/security/rate_limit.hpp"
#include "request_fixture.hpp"

using kiva::RateSpec;

BOOST_AUTO_TEST_CASE(rate_spec_reads_n_per_duration) {
    BOOST_TEST((kiva::parse_rate_spec("100/1s") == RateSpec{100, 1}));
    BOOST_TEST((kiva::parse_rate_spec(" 20/1m ") == RateSpec{20, 60}));
    BOOST_TEST((kiva::parse_rate_spec("1000/1h") == RateSpec{1000, 3600}));
    BOOST_TEST((kiva::parse_rate_spec("5/s") == RateSpec{5, 1}));
    BOOST_TEST((kiva::parse_rate_spec("5/10") == RateSpec{5, 10}));
    BOOST_TEST((kiva::parse_rate_spec("1/1d") == RateSpec{1, 86400}));
    BOOST_TEST(!kiva::parse_rate_spec("").has_value());
    BOOST_TEST(!kiva::parse_rate_spec("off").has_value());
    BOOST_TEST(kiva::format_rate_spec(RateSpec{20, 60}) == "20/1m");
    BOOST_TEST(kiva::format_rate_spec(std::nullopt) == "off");
}

BOOST_AUTO_TEST_CASE(rate_spec_refuses_what_is_not_n_per_duration) {
    for (const char* bad : {"100", "/1s", "100/", "0/1s", "-1/1s", "1000001/1s", "10/0s", "10/2d",
                            "10/1x", "ten/1s", "10/1s/2", "1e3/1s", "10 /  s s", "99999999999/1s"})
        BOOST_CHECK_THROW(kiva::parse_rate_spec(bad), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(ratelimit_fields_follow_the_draft) {
    BOOST_TEST(kiva::rate_limit_policy_field("default", RateSpec{100, 60}) ==
               "\"default\";q=100;w=60");
    BOOST_TEST(kiva::rate_limit_field("default", 0, 7) == "\"default\";r=0;t=7");
}

BOOST_AUTO_TEST_CASE(idempotency_keys_are_visible_ascii_up_to_255) {
    BOOST_TEST(kiva::parse_idempotency_key("abc-123").value_or("") == "abc-123");
    BOOST_TEST(kiva::parse_idempotency_key("\"8e03978e-40d5\"").value_or("") == "8e03978e-40d5");
    BOOST_TEST(kiva::parse_idempotency_key(std::string(255, 'k')).has_value());
    BOOST_TEST(!kiva::parse_idempotency_key(std::string(256, 'k')).has_value());
    for (const char* bad : {"", "\"\"", "a b", "a\"b", "a\\b", "caf\xc3\xa9", "tab\there", "\x7f"})
        BOOST_TEST(!kiva::parse_idempotency_key(bad).has_value(), bad);
}

BOOST_AUTO_TEST_CASE(fingerprints_tell_requests_apart) {
    auto fp = kiva::request_fingerprint("POST", "/stuff", "", "stuff=a");
    BOOST_TEST(fp.size() == 64u);
    BOOST_TEST(fp == kiva::request_fingerprint("POST", "/stuff", "", "stuff=a"));
    BOOST_TEST(fp != kiva::request_fingerprint("POST", "/stuff", "", "stuff=b"));
    BOOST_TEST(fp != kiva::request_fingerprint("POST", "/stuf", "", "fstuff=a"));
    BOOST_TEST(fp != kiva::request_fingerprint("POST", "/stuff", "stuff=a", ""));
    BOOST_TEST(fp != kiva::request_fingerprint("PUT", "/stuff", "", "stuff=a"));
}

BOOST_AUTO_TEST_CASE(host_counters_count_per_key_across_processes) {
    kiva::HostRateCounters counters("", 64);
    BOOST_TEST(counters.hit(1) == 1u);
    BOOST_TEST(counters.hit(1) == 2u);
    BOOST_TEST(counters.hit(2) == 1u);
    pid_t child = fork();
    if (child == 0) _exit(counters.hit(1) == 3u ? 0 : 1);  // a forked worker shares the table
    int status = 0;
    BOOST_REQUIRE(waitpid(child, &status, 0) == child);
    BOOST_TEST((WIFEXITED(status) && WEXITSTATUS(status) == 0));
    BOOST_TEST(counters.hit(1) == 4u);
}

// ---------------------------------------------------------------- in the pipeline (no database)

namespace {

struct LimitedApp {
    kiva::Config config;
    kiva::Logger log{kiva::LogLevel::off};
    std::unique_ptr<kiva::App> app;
    kiva::db::QueryFile queries;
    kiva::db::Database db{queries, "host=/nonexistent/kiva-unit-test dbname=none connect_timeout=1",
                          "kiva-test", log};

    explicit LimitedApp(std::string rate_limit) {
        config.auth_state = false;
        config.test_mode = true;
        config.rate_limit = std::move(rate_limit);
        app = std::make_unique<kiva::App>(config, log);
        kiva::Routes r = app->routes();
        r.get("/free", kiva::OPEN, [](kiva::Context&) { return kiva::json("ok"); });
        r.get("/two", kiva::OPEN, [](kiva::Context&) { return kiva::json("ok"); }).rate_limit("2/1d");
        r.get("/off", kiva::OPEN, [](kiva::Context&) { return kiva::json("ok"); }).rate_limit("off");
        r.post("/post", kiva::OPEN, [](kiva::Context&) { return kiva::json("posted", 201); });
        app->password_lookup([](kiva::Context&, std::string_view) -> std::optional<std::string> {
            return std::nullopt;
        });
        app->check();
    }
    kiva::Response call(kiva::test::RequestSpec spec) {
        kiva::test::FakeRequest request(std::move(spec.var("REMOTE_ADDR", "192.0.2.7")));
        return app->handle(request, db).response;
    }
};

std::string header(const kiva::Response& r, std::string_view name) {
    for (const auto& [n, v] : r.headers)
        if (n == name) return v;
    return "<none>";
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_route_declares_its_own_limit) {
    LimitedApp t("off");
    for (int attempt = 0; attempt < 2; ++attempt) {  // twice if a day's window ended meanwhile
        std::vector<kiva::Response> answers;
        for (int i = 0; i < 3; ++i) answers.push_back(t.call(kiva::test::RequestSpec("GET", "/two")));
        if (answers[0].status == 200 && answers[1].status == 200 && answers[2].status == 429) {
            BOOST_TEST(header(answers[0], "RateLimit-Policy") == "\"default\";q=2;w=86400");
            BOOST_TEST(header(answers[1], "RateLimit").starts_with("\"default\";r=0;t="));
            BOOST_TEST(header(answers[2], "Retry-After") != "<none>");
            BOOST_TEST(answers[2].body.find("too many requests") != std::string::npos);
            break;
        }
        BOOST_TEST(attempt == 0);
    }
    auto free = t.call(kiva::test::RequestSpec("GET", "/free"));  // the configured limit: off
    BOOST_TEST(free.status == 200);
    BOOST_TEST(header(free, "RateLimit") == "<none>");
}

BOOST_AUTO_TEST_CASE(the_configured_limit_applies_unless_a_route_says_off) {
    LimitedApp t("1/1d");
    auto first = t.call(kiva::test::RequestSpec("GET", "/free"));
    BOOST_TEST(header(first, "RateLimit-Policy") == "\"default\";q=1;w=86400");
    for (int i = 0; i < 3; ++i) {
        auto off = t.call(kiva::test::RequestSpec("GET", "/off"));
        BOOST_TEST(off.status == 200);
        BOOST_TEST(header(off, "RateLimit") == "<none>");
    }
}

BOOST_AUTO_TEST_CASE(a_malformed_idempotency_key_is_400_before_any_query) {
    LimitedApp t("off");
    auto r = t.call(kiva::test::RequestSpec("POST", "/post").var("HTTP_IDEMPOTENCY_KEY", "a b"));
    BOOST_TEST(r.status == 400);
    BOOST_TEST(r.body.find("Idempotency-Key") != std::string::npos);
    // Without the header a POST runs as before; a GET ignores it.
    BOOST_TEST(t.call(kiva::test::RequestSpec("POST", "/post")).status == 201);
    BOOST_TEST(t.call(kiva::test::RequestSpec("GET", "/free").var("HTTP_IDEMPOTENCY_KEY", "a b")).status == 200);
}

BOOST_AUTO_TEST_CASE(a_malformed_route_limit_stops_the_declaration) {
    kiva::Config config;
    config.test_mode = true;
    kiva::Logger log{kiva::LogLevel::off};
    kiva::App app(config, log);
    BOOST_CHECK_THROW(app.routes().get("/x", kiva::OPEN, [](kiva::Context&) { return kiva::json(1); })
                          .rate_limit("lots"),
                      std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(the_openapi_document_describes_the_headers) {
    LimitedApp t("off");
    const std::string doc = t.app->openapi();
    rapidjson::Document d;
    d.Parse(doc.c_str());
    BOOST_REQUIRE(!d.HasParseError());
    auto has_key = [](const rapidjson::Value& operation) {
        for (const auto& p : operation["parameters"].GetArray())
            if (std::string_view(p["name"].GetString()) == "Idempotency-Key") return true;
        return false;
    };
    const auto& post = d["paths"]["/post"]["post"];
    BOOST_TEST(has_key(post));
    BOOST_TEST(post["responses"].HasMember("422"));
    BOOST_TEST(!has_key(d["paths"]["/free"]["get"]));
    const auto& too_many = d["components"]["responses"]["E429"]["headers"];
    for (const char* name : {"Retry-After", "RateLimit", "RateLimit-Policy"})
        BOOST_TEST(too_many.HasMember(name), name);
}
