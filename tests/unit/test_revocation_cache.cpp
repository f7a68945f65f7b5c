#include <boost/test/unit_test.hpp>

#include <chrono>
#include <thread>

#include "kiva/security/revocation_cache.hpp"

using namespace std::chrono_literals;
using kiva::RevocationCache;

BOOST_AUTO_TEST_SUITE(revocation_cache)

BOOST_AUTO_TEST_CASE(answers_only_while_the_channel_is_up) {
    RevocationCache cache(60s, 10s);
    auto ticket = cache.ticket();
    cache.remember(ticket, "d1", "calvin", {false, 0});
    BOOST_TEST(!cache.find("d1", "calvin"));  // down: nothing kept
    cache.up();
    ticket = cache.ticket();
    cache.remember(ticket, "d1", "calvin", {false, 42});
    auto v = cache.find("d1", "calvin");
    BOOST_TEST((v && !v->revoked && v->generation == 42));
    BOOST_TEST(!cache.find("d2", "calvin"));  // another token
    BOOST_TEST(!cache.find("d1", "hobbes"));  // another login
    cache.down();
    BOOST_TEST(!cache.find("d1", "calvin"));
    cache.up();  // back: what was missed meanwhile is unknown, so nothing is kept
    BOOST_TEST(!cache.find("d1", "calvin"));
    BOOST_TEST(cache.hits() == 1u);
}

BOOST_AUTO_TEST_CASE(notifications_forget_what_they_name) {
    RevocationCache cache(60s, 10s);
    cache.up();
    auto fill = [&] {
        auto t = cache.ticket();
        cache.remember(t, "d1", "calvin", {false, 0});
        cache.remember(t, "d2", "hobbes", {false, 0});
    };
    fill();
    cache.message("t:d1");
    BOOST_TEST(!cache.find("d1", "calvin"));
    BOOST_TEST(cache.find("d2", "hobbes").has_value());
    fill();
    cache.message("c:hobbes");
    BOOST_TEST(cache.find("d1", "calvin").has_value());
    BOOST_TEST(!cache.find("d2", "hobbes"));
    fill();
    cache.message("*");
    BOOST_TEST(!cache.find("d1", "calvin"));
    BOOST_TEST(!cache.find("d2", "hobbes"));
}

BOOST_AUTO_TEST_CASE(a_verdict_read_while_a_notification_arrived_is_not_kept) {
    RevocationCache cache(60s, 10s);
    cache.up();
    const auto ticket = cache.ticket();  // then the read, during which:
    cache.message("t:d1");
    cache.remember(ticket, "d1", "calvin", {false, 0});  // read before the commit: stale
    BOOST_TEST(!cache.find("d1", "calvin"));
}

BOOST_AUTO_TEST_CASE(a_silent_channel_and_old_verdicts_are_not_trusted) {
    RevocationCache silent(60s, 250ms);
    silent.up();
    silent.remember(silent.ticket(), "d1", "calvin", {true, 0});
    BOOST_TEST(silent.find("d1", "calvin").has_value());
    std::this_thread::sleep_for(600ms);  // nothing heard for more than 2 x 250 ms
    BOOST_TEST(!silent.find("d1", "calvin"));
    silent.heard();
    BOOST_TEST(silent.find("d1", "calvin").has_value());

    RevocationCache aging(1s, 10s);
    aging.up();
    aging.remember(aging.ticket(), "d1", "calvin", {false, 0});
    BOOST_TEST(aging.find("d1", "calvin").has_value());
    std::this_thread::sleep_for(1100ms);
    BOOST_TEST(!aging.find("d1", "calvin"));
}

BOOST_AUTO_TEST_CASE(a_writer_awaits_its_own_notification_at_most_the_limit) {
    RevocationCache cache(60s, 10s);
    cache.up();
    auto e = cache.expect("t:d1");
    std::thread listener([&] { cache.message("t:d1"); });
    cache.await(e);
    listener.join();
    BOOST_TEST(e->arrived);
    auto never = cache.expect("t:d2");
    const auto start = std::chrono::steady_clock::now();
    cache.await(never);  // not delivered: returns after the limit
    BOOST_TEST(!never->arrived);
    BOOST_TEST((std::chrono::steady_clock::now() - start >= RevocationCache::await_limit));
}

BOOST_AUTO_TEST_SUITE_END()
