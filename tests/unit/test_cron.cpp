// Cron schedules of periodic jobs (kiva/jobs/cron.hpp): the parser, its messages, and the next
// instant after t (month ends, February 29th, day-of-month OR day-of-week as in cron). The
// scheduler that enqueues each instant once across hosts is tested in
// tests/integration/test_jobs.py.

#include "kiva/jobs/cron.hpp"

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <stdexcept>
#include <string>

#include "kiva/jobs/jobs.hpp"
#include "kiva/jobs/worker.hpp"

using namespace kiva;
using namespace std::chrono;

namespace {

sys_seconds at(int y, unsigned mo, unsigned d, int h = 0, int mi = 0, int s = 0) {
    return sys_days{year{y} / month{mo} / day{d}} + hours(h) + minutes(mi) + seconds(s);
}

sys_seconds next(std::string_view expression, sys_seconds t) {
    return jobs::Cron::parse(expression).next_after(t);
}

/// What parse() refuses with ("" when it accepts).
std::string refused(std::string_view expression) {
    try {
        jobs::Cron::parse(expression);
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
    return "";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cron_schedules)

BOOST_AUTO_TEST_CASE(the_next_minute_hour_and_steps) {
    BOOST_TEST((next("* * * * *", at(2026, 12, 6, 8, 30, 15)) == at(2026, 12, 6, 8, 31)));
    BOOST_TEST((next("0 * * * *", at(2026, 12, 6, 8, 30)) == at(2026, 12, 6, 9, 0)));
    // Strictly after: at 9:00 sharp, the next is 10:00.
    BOOST_TEST((next("0 * * * *", at(2026, 12, 6, 9, 0)) == at(2026, 12, 6, 10, 0)));
    BOOST_TEST((next("0 * * * *", at(2026, 12, 31, 23, 0)) == at(2027, 1, 1, 0, 0)));
    BOOST_TEST((next("*/15 * * * *", at(2026, 12, 6, 8, 31)) == at(2026, 12, 6, 8, 45)));
    BOOST_TEST((next("*/15 * * * *", at(2026, 12, 6, 8, 45)) == at(2026, 12, 6, 9, 0)));
    BOOST_TEST((next("5-20/5 * * * *", at(2026, 12, 6, 8, 20)) == at(2026, 12, 6, 9, 5)));
    BOOST_TEST((next("0,30 9,17 * * *", at(2026, 12, 6, 9, 0)) == at(2026, 12, 6, 9, 30)));
    BOOST_TEST((next("0,30 9,17 * * *", at(2026, 12, 6, 9, 30)) == at(2026, 12, 6, 17, 0)));
    BOOST_TEST((next("0,30 9,17 * * *", at(2026, 12, 6, 17, 30)) == at(2026, 12, 7, 9, 0)));
    BOOST_TEST((next("0 22-23,1 * * *", at(2026, 12, 6, 23, 0)) == at(2026, 12, 7, 1, 0)));
    BOOST_TEST(jobs::Cron::parse("0 * * * *").matches(at(2026, 12, 6, 9, 0, 30)));
    BOOST_TEST(!jobs::Cron::parse("0 * * * *").matches(at(2026, 12, 6, 9, 1)));
}

BOOST_AUTO_TEST_CASE(month_ends_and_february_29th) {
    // The 31st: no February, no April.
    BOOST_TEST((next("0 0 31 * *", at(2026, 1, 31)) == at(2026, 3, 31)));
    BOOST_TEST((next("0 0 31 * *", at(2026, 3, 31)) == at(2026, 5, 31)));
    BOOST_TEST((next("0 0 1 * *", at(2026, 12, 31, 12)) == at(2027, 1, 1)));
    BOOST_TEST((next("@monthly", at(2026, 2, 28, 23, 59)) == at(2026, 3, 1)));
    BOOST_TEST((next("0 12 29 2 *", at(2025, 1, 1)) == at(2028, 2, 29, 12)));
    BOOST_TEST((next("0 12 29 2 *", at(2028, 2, 29, 12)) == at(2032, 2, 29, 12)));
    BOOST_TEST((next("0 12 29 2 *", at(2096, 3, 1)) == at(2104, 2, 29, 12)));  // 2100 is not leap
    // February 29th that is a Sunday ('*/7' starts with '*': both must match).
    BOOST_TEST((next("0 0 29 2 */7", at(2005, 1, 1)) == at(2032, 2, 29)));
    BOOST_TEST((refused("0 0 30 2 *") == "day-of-month: no date ever matches (30 in month 2)"));
    BOOST_TEST((refused("0 0 31 4,6,9,11 *") != ""));
}

BOOST_AUTO_TEST_CASE(day_of_month_or_day_of_week_as_cron) {
    // Both restricted: either matches (2026-02-01 is a Sunday, the 6th, 13th, 20th Fridays).
    BOOST_TEST((next("0 0 13 * fri", at(2026, 2, 1)) == at(2026, 2, 6)));
    BOOST_TEST((next("0 0 13 * fri", at(2026, 2, 6)) == at(2026, 2, 13)));
    BOOST_TEST((next("0 0 12 * fri", at(2026, 2, 6)) == at(2026, 2, 12)));
    BOOST_TEST((next("0 0 13 * *", at(2026, 2, 1)) == at(2026, 2, 13)));
    BOOST_TEST((next("0 0 * * 5", at(2026, 2, 1)) == at(2026, 2, 6)));
    // One starting with '*' counts as unrestricted: both must match (odd days that are Mondays).
    BOOST_TEST((next("0 0 */2 * mon", at(2026, 12, 1)) == at(2026, 12, 7)));
    BOOST_TEST((next("0 0 */2 * mon", at(2026, 12, 7)) == at(2026, 12, 21)));
}

BOOST_AUTO_TEST_CASE(names_sunday_as_7_and_shortcuts) {
    BOOST_TEST((next("0 0 * * 7", at(2026, 12, 1)) == at(2026, 12, 6)));  // a Sunday
    BOOST_TEST((next("0 0 * * SUN", at(2026, 12, 1)) == at(2026, 12, 6)));
    BOOST_TEST((next("0 0 * * Mon-Fri", at(2026, 12, 5)) == at(2026, 12, 7)));
    BOOST_TEST((next("0 0 * * 5-7", at(2026, 12, 6, 1)) == at(2026, 12, 11)));  // Fri, Sat, Sun
    BOOST_TEST((next("0 0 1 jan,JUL *", at(2026, 2, 1)) == at(2026, 7, 1)));
    BOOST_TEST((next("0 0 1 mar-may/2 *", at(2026, 3, 1)) == at(2026, 5, 1)));
    BOOST_TEST((next("@hourly", at(2026, 12, 6, 8, 30)) == at(2026, 12, 6, 9)));
    BOOST_TEST((next("@daily", at(2026, 12, 6, 8, 30)) == at(2026, 12, 7)));
    BOOST_TEST((next("@weekly", at(2026, 12, 1)) == at(2026, 12, 6)));
    BOOST_TEST((next("@yearly", at(2026, 12, 1)) == at(2027, 1, 1)));
    BOOST_TEST((next("  0   *  * * *  ", at(2026, 12, 6, 8, 30)) == at(2026, 12, 6, 9)));
}

BOOST_AUTO_TEST_CASE(a_bad_expression_names_its_field) {
    BOOST_TEST(refused("0 * * *") ==
               "4 fields, expected 5: minute hour day-of-month month day-of-week");
    BOOST_TEST(refused("") == "0 fields, expected 5: minute hour day-of-month month day-of-week");
    BOOST_TEST(refused("60 * * * *") == "minute: 60 is out of 0-59");
    BOOST_TEST(refused("0 24 * * *") == "hour: 24 is out of 0-23");
    BOOST_TEST(refused("0 0 0 * *") == "day-of-month: 0 is out of 1-31");
    BOOST_TEST(refused("0 0 * 13 *") == "month: 13 is out of 1-12");
    BOOST_TEST(refused("0 0 * * 8") == "day-of-week: 8 is out of 0-7");
    BOOST_TEST(refused("0 0 * foo *") ==
               "month: \"foo\" is not a number or a month name (jan-dec)");
    BOOST_TEST(refused("0 0 * * monday") ==
               "day-of-week: \"monday\" is not a number or a day name (sun-sat)");
    BOOST_TEST(refused("x * * * *") == "minute: \"x\" is not a number");
    BOOST_TEST(refused("1x * * * *") == "minute: \"1x\" is not a number");
    BOOST_TEST(refused("*/0 * * * *") == "minute: the step in \"*/0\" must be positive");
    BOOST_TEST(refused("*/x * * * *") == "minute: the step in \"*/x\" is not a number");
    BOOST_TEST(refused("5/10 * * * *") == "minute: a step follows * or a range a-b (\"5/10\")");
    BOOST_TEST(refused("0 0 * * 5-1") == "day-of-week: the range \"5-1\" goes downward");
    BOOST_TEST(refused("0,,5 * * * *") == "minute: an empty item in \"0,,5\"");
    BOOST_TEST(refused("0- * * * *") == "minute: a value is missing");
    BOOST_TEST(refused("@often").starts_with("unknown shortcut \"@often\""));
    BOOST_TEST(refused("99999999999 * * * *") == "minute: \"99999999999\" is not a number");
}

BOOST_AUTO_TEST_CASE(a_declaration_is_refused_naming_the_job_and_the_field) {
    jobs::Registry r;
    r.cron("census", "0 * * * *", [](jobs::JobContext&) { return 1; });
    BOOST_TEST(r.find("census")->cron->text() == "0 * * * *");
    BOOST_TEST(r.find("census")->scheduled());
    BOOST_TEST(r.find("census")->every.count() == 0);
    try {
        r.cron("report", "0 25 * * *", [](jobs::JobContext&) {});
        BOOST_FAIL("accepted");
    } catch (const std::logic_error& e) {
        BOOST_TEST(std::string(e.what()) ==
                   "job \"report\": cron \"0 25 * * *\": hour: 25 is out of 0-23");
    }
    BOOST_TEST(!r.find("report"));
}

BOOST_AUTO_TEST_CASE(the_period_each_scheduler_records) {
    jobs::Registry r;
    r.periodic("hourly", hours(1), [](jobs::JobContext&) {});
    r.cron("census", "0 * * * *", [](jobs::JobContext&) {});
    int64_t now = at(2026, 12, 6, 8, 30).time_since_epoch().count();
    // A fixed period: its number since the epoch; a cron job: its next instant (epoch seconds).
    BOOST_TEST(jobs::Workers::period_of(*r.find("hourly"), now) == now / 3600);
    BOOST_TEST(jobs::Workers::period_of(*r.find("census"), now) ==
               at(2026, 12, 6, 9).time_since_epoch().count());
    BOOST_TEST(jobs::Workers::period_of(*r.find("census"), now + 1799) ==
               at(2026, 12, 6, 9).time_since_epoch().count());
    BOOST_TEST(jobs::Workers::period_of(*r.find("census"), now + 1800) ==
               at(2026, 12, 6, 10).time_since_epoch().count());
}

BOOST_AUTO_TEST_SUITE_END()
