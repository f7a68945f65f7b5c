#include "kiva/security/auth/password_cache.hpp"

#include <boost/test/unit_test.hpp>

#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using kiva::auth::PasswordCache;
using std::chrono::steady_clock;

namespace {
const steady_clock::time_point t0 = steady_clock::time_point{} + 1000h;
}

BOOST_AUTO_TEST_SUITE(password_cache)

BOOST_AUTO_TEST_CASE(hit_after_remember) {
    PasswordCache cache(60s);
    cache.remember("calvin", "hobbes", t0);
    BOOST_TEST(cache.known_good("calvin", "hobbes", t0));
    BOOST_TEST(cache.known_good("calvin", "hobbes", t0 + 59s));
    BOOST_TEST(cache.size() == 1u);
}

BOOST_AUTO_TEST_CASE(miss_for_another_password_or_login) {
    PasswordCache cache(60s);
    cache.remember("calvin", "hobbes", t0);
    BOOST_TEST(!cache.known_good("calvin", "Hobbes", t0));
    BOOST_TEST(!cache.known_good("calvin", "hobbes ", t0));
    BOOST_TEST(!cache.known_good("calvin", "", t0));
    BOOST_TEST(!cache.known_good("susie", "hobbes", t0));
    BOOST_TEST(!cache.known_good("calvi", "nhobbes", t0));
}

BOOST_AUTO_TEST_CASE(never_remembered) {
    PasswordCache cache(60s);
    BOOST_TEST(!cache.known_good("calvin", "hobbes", t0));
    BOOST_TEST(cache.size() == 0u);
}

BOOST_AUTO_TEST_CASE(expiry) {
    PasswordCache cache(60s);
    cache.remember("calvin", "hobbes", t0);
    BOOST_TEST(cache.known_good("calvin", "hobbes", t0 + 60s - 1ns));
    BOOST_TEST(!cache.known_good("calvin", "hobbes", t0 + 60s));
    BOOST_TEST(!cache.known_good("calvin", "hobbes", t0 + 1h));
    // Remembering again extends it.
    cache.remember("calvin", "hobbes", t0 + 50s);
    BOOST_TEST(cache.known_good("calvin", "hobbes", t0 + 100s));
    BOOST_TEST(cache.size() == 1u);
}

BOOST_AUTO_TEST_CASE(ttl_zero_disables) {
    PasswordCache cache(0s);
    cache.remember("calvin", "hobbes", t0);
    BOOST_TEST(!cache.known_good("calvin", "hobbes", t0));
    BOOST_TEST(cache.size() == 0u);
}

BOOST_AUTO_TEST_CASE(forget_a_login) {
    PasswordCache cache(60s);
    cache.remember("calvin", "hobbes", t0);
    cache.remember("calvin", "old password", t0);
    cache.remember("calvin2", "hobbes", t0);
    cache.remember("susie", "derkins", t0);
    cache.forget("calvin");
    BOOST_TEST(!cache.known_good("calvin", "hobbes", t0));
    BOOST_TEST(!cache.known_good("calvin", "old password", t0));
    BOOST_TEST(cache.known_good("calvin2", "hobbes", t0));
    BOOST_TEST(cache.known_good("susie", "derkins", t0));
    BOOST_TEST(cache.size() == 2u);
    cache.forget("cal");  // a prefix is another login
    BOOST_TEST(cache.size() == 2u);
}

BOOST_AUTO_TEST_CASE(size_is_bounded) {
    PasswordCache cache(60s, 3);
    for (int i = 0; i < 10; ++i)
        cache.remember("user" + std::to_string(i), "pw", t0 + std::chrono::seconds(i));
    BOOST_TEST(cache.size() == 3u);
    // The ones expiring soonest went first.
    BOOST_TEST(!cache.known_good("user6", "pw", t0 + 10s));
    for (int i = 7; i < 10; ++i)
        BOOST_TEST(cache.known_good("user" + std::to_string(i), "pw", t0 + 10s));
}

BOOST_AUTO_TEST_CASE(expired_entries_go_first) {
    PasswordCache cache(60s, 3);
    cache.remember("old", "pw", t0);
    cache.remember("a", "pw", t0 + 30s);
    cache.remember("b", "pw", t0 + 31s);
    cache.remember("c", "pw", t0 + 61s);  // full, and "old" has expired: it makes room
    BOOST_TEST(cache.size() == 3u);
    BOOST_TEST(cache.known_good("a", "pw", t0 + 61s));
    BOOST_TEST(cache.known_good("b", "pw", t0 + 61s));
    BOOST_TEST(cache.known_good("c", "pw", t0 + 61s));
}

// A smoke test for the locking (most useful under a sanitizer): the entries themselves
// race with forget() and eviction, so only the bound is checked.
BOOST_AUTO_TEST_CASE(concurrent_use) {
    PasswordCache cache(60s, 100);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&cache, t] {
            for (int i = 0; i < 500; ++i) {
                const std::string login = "user" + std::to_string((t * 500 + i) % 150);
                cache.remember(login, "pw", t0);
                (void)cache.known_good(login, "pw", t0);
                if (i % 50 == 0) cache.forget(login);
            }
        });
    for (auto& thread : threads) thread.join();
    BOOST_TEST(cache.size() <= 100u);
}

BOOST_AUTO_TEST_CASE(an_entry_of_another_credentials_generation_is_stale) {
    // Another process changed the password: the database's generation moved on.
    PasswordCache cache(60s);
    cache.remember("calvin", "hobbes", t0, 1700000000000000);
    BOOST_TEST(cache.known_good("calvin", "hobbes", t0, 1700000000000000));
    BOOST_TEST(!cache.known_good("calvin", "hobbes", t0, 1700000000123456));
    BOOST_TEST(!cache.known_good("calvin", "hobbes", t0));
    cache.remember("calvin", "hobbes", t0, 1700000000123456);
    BOOST_TEST(cache.known_good("calvin", "hobbes", t0, 1700000000123456));
    BOOST_TEST(cache.size() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
