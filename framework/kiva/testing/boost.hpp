#pragma once
/// @file
/// Boost.Test helpers: a test that only makes sense in process (it looks into the database,
/// or relies on a fresh one) is skipped at a URL:
///
///     BOOST_AUTO_TEST_CASE(starts_empty,
///     *boost::unit_test::precondition(kiva::testing::in_process_only))

#include <cstdlib>

#include <boost/test/unit_test.hpp>

namespace kiva::testing {

inline boost::test_tools::assertion_result in_process_only(boost::unit_test::test_unit_id) {
    const char* url = std::getenv("KIVA_TEST_URL");
    if (url && *url) {
        boost::test_tools::assertion_result skip(false);
        skip.message() << "in process only (KIVA_TEST_URL is set)";
        return skip;
    }
    return true;
}

}  // namespace kiva::testing
