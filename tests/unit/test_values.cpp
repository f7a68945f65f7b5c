#include "kiva/core/values.hpp"

#include <boost/test/unit_test.hpp>

using kiva::Date;
using kiva::DateTime;
using kiva::Uuid;

BOOST_AUTO_TEST_SUITE(values)

BOOST_AUTO_TEST_CASE(dates_are_real_days) {
    BOOST_TEST(Date::parse("2024-02-29").has_value());
    BOOST_TEST(Date::parse("2000-02-29").has_value());
    BOOST_TEST(!Date::parse("1900-02-29").has_value());
    BOOST_TEST(!Date::parse("2023-04-31").has_value());
    BOOST_TEST(!Date::parse("2023-00-10").has_value());
    BOOST_TEST(!Date::parse("0000-01-01").has_value());
    for (const char* bad : {"", "2023-1-01", "2023-01-01 ", "2023/01/01", "20230101", "2023-01-0x"})
        BOOST_TEST(!Date::parse(bad).has_value(), bad);
}

BOOST_AUTO_TEST_CASE(datetimes_are_iso_8601) {
    for (const char* good : {"2024-01-01T00:00", "2024-01-01 23:59:59", "2024-01-01T10:00:00Z",
                             "2024-01-01T10:00:00.123456+02:00", "2024-01-01t10:00-05:30"})
        BOOST_TEST(DateTime::parse(good).has_value(), good);
    for (const char* bad : {"2024-01-01", "2024-01-01T24:00", "2024-01-01T10:60",
                            "2024-01-01T10:00:61", "2024-01-01T10:00:00.1234567",
                            "2024-01-01T10:00:00.", "2024-01-01T10:00+2", "2024-01-01T10:00:00Zx"})
        BOOST_TEST(!DateTime::parse(bad).has_value(), bad);
    BOOST_TEST(DateTime::parse("2024-01-01 10:00")->text() == "2024-01-01T10:00");
}

BOOST_AUTO_TEST_CASE(uuids_are_kept_in_lower_case) {
    BOOST_TEST(Uuid::parse("00000000-0000-0000-0000-000000000000").has_value());
    BOOST_TEST(Uuid::parse("ABCDEF01-2345-6789-abcd-ef0123456789")->text() ==
               "abcdef01-2345-6789-abcd-ef0123456789");
    for (const char* bad : {"", "abcdef01234567890abcdef0123456789", "abcdef01-2345-6789-abcd-ef012345678g",
                            "abcdef01-2345-6789-abcd-ef01234567890", "{abcdef01-2345-6789-abcd-ef0123456789}"})
        BOOST_TEST(!Uuid::parse(bad).has_value(), bad);
}

BOOST_AUTO_TEST_SUITE_END()
