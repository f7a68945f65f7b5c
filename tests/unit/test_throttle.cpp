#include "kiva/security/throttle.hpp"

#include <boost/test/unit_test.hpp>

#include "kiva/core/config.hpp"

using namespace std::chrono_literals;
using kiva::client_address;
using kiva::lockout_delay;

BOOST_AUTO_TEST_SUITE(throttle)

BOOST_AUTO_TEST_CASE(no_lockout_below_the_threshold) {
    BOOST_TEST(lockout_delay(0, 5, 30s, 900s).count() == 0);
    BOOST_TEST(lockout_delay(4, 5, 30s, 900s).count() == 0);
}

BOOST_AUTO_TEST_CASE(the_lockout_doubles_with_each_further_failure_up_to_the_cap) {
    BOOST_TEST(lockout_delay(5, 5, 30s, 900s).count() == 30);
    BOOST_TEST(lockout_delay(6, 5, 30s, 900s).count() == 60);
    BOOST_TEST(lockout_delay(7, 5, 30s, 900s).count() == 120);
    BOOST_TEST(lockout_delay(9, 5, 30s, 900s).count() == 480);
    BOOST_TEST(lockout_delay(10, 5, 30s, 900s).count() == 900);
    BOOST_TEST(lockout_delay(1000000, 5, 30s, 900s).count() == 900);  // no overflow
    BOOST_TEST(lockout_delay(1, 1, 30s, 10s).count() == 10);
}

BOOST_AUTO_TEST_CASE(remote_addr_unless_it_is_a_trusted_proxy) {
    BOOST_TEST(client_address("192.0.2.1", "198.51.100.7", {}) == "192.0.2.1");
    BOOST_TEST(client_address("192.0.2.1", "198.51.100.7", {"10.0.0.1"}) == "192.0.2.1");
    BOOST_TEST(client_address("10.0.0.1", "198.51.100.7", {"10.0.0.1"}) == "198.51.100.7");
    BOOST_TEST(client_address("10.0.0.1", "", {"10.0.0.1"}) == "10.0.0.1");
}

BOOST_AUTO_TEST_CASE(the_rightmost_untrusted_forwarded_entry) {
    const std::vector<std::string> proxies = {"10.0.0.1", "10.0.0.2"};
    // What the client wrote itself (left) is not believed; our proxies' entries are skipped.
    BOOST_TEST(client_address("10.0.0.1", "1.2.3.4, 198.51.100.7, 10.0.0.2", proxies) ==
               "198.51.100.7");
    BOOST_TEST(client_address("10.0.0.1", " 198.51.100.7 ,", proxies) == "198.51.100.7");
    BOOST_TEST(client_address("10.0.0.1", "10.0.0.2", proxies) == "10.0.0.1");
}

BOOST_AUTO_TEST_CASE(configuration_keys) {
    auto c = kiva::parse_config(
        "auth_max_failures = 3\nauth_max_address_failures = 40\nauth_lockout_delay = 10s\n"
        "auth_lockout_max = 5m\ntrusted_proxies = 10.0.0.1, 10.0.0.2\nauth_state = off\n",
        "t.conf");
    BOOST_TEST(c.auth_max_failures == 3);
    BOOST_TEST(c.auth_max_address_failures == 40);
    BOOST_TEST(c.auth_lockout_delay.count() == 10);
    BOOST_TEST(c.auth_lockout_max.count() == 300);
    BOOST_TEST(c.trusted_proxies.size() == 2u);
    BOOST_TEST(!c.auth_state);
    BOOST_TEST(kiva::Config{}.auth_state);
    BOOST_CHECK_THROW(kiva::parse_config("auth_max_failures = 0\n", "t.conf"), std::runtime_error);
    BOOST_CHECK_THROW(kiva::parse_config("auth_lockout_delay = 0\n", "t.conf"), std::runtime_error);
}

BOOST_AUTO_TEST_SUITE_END()
