// The metric registry and its exposition (observe/metrics, observe/exposition).

#include "kiva/observe/metrics.hpp"

#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "kiva/observe/exposition.hpp"

using namespace std::chrono_literals;
using kiva::observe::Metrics;

namespace {

const std::vector<kiva::observe::RouteLabel> routes = {
    {"GET", "/stuff/<sid:int>"}, {"PUT", "/stuff/<sid:int>"}, {"GET", "/health"}};
const std::vector<std::string> queries = {"get_stuff_sid", "now"};

/// The sample line starting with `series ` in an exposition, or "".
std::string sample(const std::string& text, const std::string& series) {
    std::size_t at = text.rfind("\n" + series + " ");
    if (at == std::string::npos) return "";
    at += series.size() + 2;
    return text.substr(at, text.find('\n', at) - at);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(metrics)

BOOST_AUTO_TEST_CASE(requests_by_declared_pattern_method_and_status) {
    Metrics m("", routes, queries);
    m.start_process();
    m.request(0, "GET", 200, 2ms);
    m.request(0, "GET", 200, 3ms);
    m.request(1, "PUT", 404, 1ms);
    m.request(-1, "GET", 404, 1ms);  // no route: one label for every unknown path
    m.request(2, "BREW", 418, 1ms);  // unknown method and status: bounded labels
    std::string text = m.exposition("r1");
    BOOST_TEST(
        sample(text,
               R"(kiva_http_requests_total{route="/stuff/<sid:int>",method="GET",status="200"})") ==
        "2");
    BOOST_TEST(
        sample(text,
               R"(kiva_http_requests_total{route="/stuff/<sid:int>",method="PUT",status="404"})") ==
        "1");
    BOOST_TEST(
        sample(text, R"(kiva_http_requests_total{route="unmatched",method="GET",status="404"})") ==
        "1");
    BOOST_TEST(
        sample(text, R"(kiva_http_requests_total{route="/health",method="other",status="4xx"})") ==
        "1");
    BOOST_TEST(text.find("BREW") == std::string::npos);
    BOOST_TEST(sample(text, R"(kiva_build_info{release="r1"})") == "1");
    m.stop_process();
}

BOOST_AUTO_TEST_CASE(histogram_buckets_are_cumulative_with_sum_and_count) {
    Metrics m("", routes, queries);
    m.start_process();
    m.query("get_stuff_sid", 300us);  // <= 0.0005
    m.query("get_stuff_sid", 1ms);    // le is inclusive: <= 0.001
    m.query("get_stuff_sid", 20s);    // above every bucket: +Inf only
    m.query("not_a_query", 1ms);      // ignored
    std::string text = m.exposition("r");
    auto bucket = [&](const std::string& le) {
        return sample(text, R"(kiva_db_query_duration_seconds_bucket{query="get_stuff_sid",le=")" +
                                le + "\"}");
    };
    BOOST_TEST(bucket("0.0005") == "1");
    BOOST_TEST(bucket("0.001") == "2");
    BOOST_TEST(bucket("10") == "2");
    BOOST_TEST(bucket("+Inf") == "3");
    BOOST_TEST(sample(text, R"(kiva_db_query_duration_seconds_count{query="get_stuff_sid"})") ==
               "3");
    BOOST_TEST(sample(text, R"(kiva_db_query_duration_seconds_sum{query="get_stuff_sid"})") ==
               "20.0013");
    // A query never run has no series (no empty histogram).
    BOOST_TEST(text.find(R"(query="now")") == std::string::npos);
    BOOST_TEST(text.find("not_a_query") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(job_runs_by_name_and_outcome_in_a_jobs_worker) {
    Metrics m("", routes, queries, 64, {"import_stuff", "census"});
    m.start_process(true);  // a `kiva --jobs` process: not an HTTP worker process
    using O = Metrics::JobOutcome;
    m.job_run("import_stuff", O::done, 20ms);
    m.job_run("import_stuff", O::done, 2s);
    m.job_run("import_stuff", O::retried, 40s);
    m.job_run("import_stuff", O::failed, 2h);  // above every bucket: +Inf only
    m.job_run("undeclared", O::done, 1ms);     // ignored: bounded labels
    m.job_busy(1);
    m.job_busy(1);
    m.job_busy(-1);
    std::string text = m.exposition("r");
    auto runs = [&](const std::string& name, const std::string& outcome) {
        return sample(text, R"(kiva_jobs_runs_total{name=")" + name + R"(",outcome=")" + outcome +
                                R"("})");
    };
    BOOST_TEST(runs("import_stuff", "done") == "2");
    BOOST_TEST(runs("import_stuff", "retried") == "1");
    BOOST_TEST(runs("import_stuff", "failed") == "1");
    BOOST_TEST(runs("import_stuff", "lost") == "");  // none: no series
    BOOST_TEST(text.find("undeclared") == std::string::npos);
    auto bucket = [&](const std::string& le) {
        return sample(text,
                      R"(kiva_jobs_run_duration_seconds_bucket{name="import_stuff",le=")" + le + "\"}");
    };
    BOOST_TEST(bucket("0.025") == "1");
    BOOST_TEST(bucket("2.5") == "2");
    BOOST_TEST(bucket("60") == "3");
    BOOST_TEST(bucket("3600") == "3");
    BOOST_TEST(bucket("+Inf") == "4");
    BOOST_TEST(text.find(R"(name="census")") == std::string::npos);  // never run
    BOOST_TEST(sample(text, "kiva_jobs_workers_busy") == "1");
    BOOST_TEST(sample(text, "kiva_jobs_purged_total") == "0");
    BOOST_TEST(sample(text, "kiva_jobs_worker_processes") == "1");
    BOOST_TEST(sample(text, "kiva_worker_processes") == "0");
    m.stop_process();
    // Without declared jobs, no jobs families at all.
    BOOST_TEST(Metrics("", routes, queries).exposition("r").find("kiva_jobs_") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(every_family_has_help_and_type) {
    Metrics m("", routes, queries);
    m.start_process();
    m.db_error("23505");
    m.db_error("08006");
    m.db_error("ZZ999");
    m.db_reconnect();
    m.db_reconnect();
    m.db_switch();
    m.auth_failure("basic", kiva::observe::auth_failure_reason("invalid password for calvin"));
    m.auth_failure("token", kiva::observe::auth_failure_reason("expired token"));
    m.password_cache(true);
    m.password_cache(false);
    m.password_cache(false);
    m.busy(1);
    std::string text = m.exposition("r");
    for (std::string family :
         {"kiva_http_requests_total counter", "kiva_http_request_duration_seconds histogram",
          "kiva_db_query_duration_seconds histogram", "kiva_db_errors_total counter",
          "kiva_db_reconnects_total counter", "kiva_db_server_switches_total counter",
          "kiva_auth_failures_total counter",
          "kiva_password_cache_total counter", "kiva_threads_busy gauge",
          "kiva_process_start_time_seconds gauge", "kiva_build_info gauge"}) {
        BOOST_TEST(text.find("# TYPE " + family + "\n") != std::string::npos, family);
        BOOST_TEST(text.find("# HELP " + family.substr(0, family.find(' ')) + " ") !=
                   std::string::npos);
    }
    BOOST_TEST(sample(text, R"(kiva_db_errors_total{sqlstate_class="23"})") == "1");
    BOOST_TEST(sample(text, R"(kiva_db_errors_total{sqlstate_class="08"})") == "1");
    BOOST_TEST(sample(text, R"(kiva_db_errors_total{sqlstate_class="other"})") == "1");
    BOOST_TEST(sample(text, "kiva_db_reconnects_total") == "2");
    BOOST_TEST(sample(text, "kiva_db_server_switches_total") == "1");
    BOOST_TEST(
        sample(text, R"(kiva_auth_failures_total{scheme="basic",reason="wrong_password"})") == "1");
    BOOST_TEST(sample(text, R"(kiva_auth_failures_total{scheme="token",reason="expired_token"})") ==
               "1");
    BOOST_TEST(sample(text, R"(kiva_password_cache_total{result="hit"})") == "1");
    BOOST_TEST(sample(text, R"(kiva_password_cache_total{result="miss"})") == "2");
    BOOST_TEST(sample(text, "kiva_threads_busy") == "1");
    BOOST_TEST(sample(text, "kiva_worker_processes") == "1");
    long started = std::stol(sample(text, "kiva_process_start_time_seconds"));
    BOOST_TEST(std::labs(started - static_cast<long>(std::time(nullptr))) < 5);
    BOOST_TEST(text.back() == '\n');
}

BOOST_AUTO_TEST_CASE(auth_failure_reasons_are_a_fixed_set) {
    using kiva::observe::auth_failure_reason;
    BOOST_TEST(auth_failure_reason("no such user: x") == "unknown_user");
    BOOST_TEST(auth_failure_reason("missing authorization header") == "missing_credentials");
    BOOST_TEST(auth_failure_reason("missing PASS parameter") == "missing_credentials");
    BOOST_TEST(auth_failure_reason("invalid token") == "invalid_token");
    BOOST_TEST(auth_failure_reason("unexpected authorization scheme") == "wrong_scheme");
    BOOST_TEST(auth_failure_reason("whatever a client sent") == "malformed");
}

BOOST_AUTO_TEST_CASE(label_values_and_numbers_are_escaped_and_formatted) {
    using kiva::observe::escape_label_value;
    using kiva::observe::format_value;
    BOOST_TEST(escape_label_value(R"(a"b\c)"
                                  "\n") == R"(a\"b\\c\n)");
    BOOST_TEST(format_value(3) == "3");
    BOOST_TEST(format_value(0.0005) == "0.0005");
    BOOST_TEST(format_value(1e300 * 1e300) == "+Inf");
    kiva::observe::Exposition e;
    e.family("x_total", "counter", "Things.");
    e.sample({{"k", "v\""}}, 2);
    e.sample({}, 1);
    BOOST_TEST(
        e.take() ==
        "# HELP x_total Things.\n# TYPE x_total counter\nx_total{k=\"v\\\"\"} 2\nx_total 1\n");
}

BOOST_AUTO_TEST_SUITE_END()
