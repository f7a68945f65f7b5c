#pragma once
/// @file
/// The test fixture: one Environment per test module (made on first use, undone at exit),
/// one Client per test case (in process: on its own copy of the schema).
///
///     struct Items {  // the application under test
///         static kiva::testing::Setup setup() { return {.declare = items::declare, ...}; }
///     };
///     BOOST_FIXTURE_TEST_SUITE(items_api, kiva::testing::Fixture<Items>)
///     BOOST_AUTO_TEST_CASE(lists) {
///         auto r = client.get("/items").as("calvin");
///         BOOST_TEST(r.status == 200);
///     }

#include "kiva/testing/environment.hpp"

namespace kiva::testing {

/// The framework's SQL directory this header was installed with (the build's, in tree).
inline std::string installed_framework_sql() {
#ifdef KIVA_TESTING_SQL_DIR
    return KIVA_TESTING_SQL_DIR;
#else
    return {};
#endif
}

template <typename Application>
struct Fixture {
    /// The module's environment: Application::setup() is called once.
    static Environment& environment() {
        static Environment shared([] {
            Setup setup = Application::setup();
            if (setup.framework_sql.empty()) setup.framework_sql = installed_framework_sql();
            return setup;
        }());
        return shared;
    }

    bool in_process() const { return environment().in_process(); }

    Client client = environment().client();
};

}  // namespace kiva::testing
