// RepeatLimit (server/repeat_limit): one line per window, and the next says how many it held.

#include "kiva/core/repeat_limit.hpp"

#include <boost/test/unit_test.hpp>

#include <atomic>
#include <optional>
#include <thread>
#include <vector>

using kiva::RepeatLimit;
using namespace std::chrono_literals;

BOOST_AUTO_TEST_CASE(one_line_per_window_then_the_count_held) {
    RepeatLimit limit(200ms);
    BOOST_TEST(limit.admit().value_or(99) == 0u);
    for (int i = 0; i < 5; ++i) BOOST_TEST(!limit.admit().has_value());
    std::this_thread::sleep_for(250ms);
    BOOST_TEST(limit.admit().value_or(99) == 5u);
    BOOST_TEST(!limit.admit().has_value());
}

BOOST_AUTO_TEST_CASE(threads_share_one_limit) {
    RepeatLimit limit(10s);
    std::vector<std::thread> threads;
    std::atomic<int> admitted{0};
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&] {
            for (int i = 0; i < 1000; ++i)
                if (limit.admit()) ++admitted;
        });
    for (auto& t : threads) t.join();
    BOOST_TEST(admitted.load() == 1);
}
