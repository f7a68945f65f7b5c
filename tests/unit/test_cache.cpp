#include "kiva/security/cache_keys.hpp"
#include "kiva/cache/redis.hpp"
#include "kiva/core/redis_url.hpp"
#include "kiva/core/config.hpp"

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <stdexcept>
#include <string>
#include <string_view>

using namespace std::chrono_literals;
using kiva::cache::parse_redis_url;

namespace {

void check_bad(std::string_view url, std::string_view part) {
    try {
        parse_redis_url(url);
        BOOST_ERROR("no error for " << url);
    } catch (const std::invalid_argument& e) {
        BOOST_TEST(std::string(e.what()).find(part) != std::string::npos, e.what());
    }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cache)

BOOST_AUTO_TEST_CASE(redis_urls) {
    auto a = parse_redis_url("redis://10.0.0.5:6380/2");
    BOOST_TEST(a.host == "10.0.0.5");
    BOOST_TEST(a.port == 6380);
    BOOST_TEST(a.db == 2);
    BOOST_TEST(a.text() == "10.0.0.5:6380/2");
    auto b = parse_redis_url("redis://cache.internal");
    BOOST_TEST(b.host == "cache.internal");
    BOOST_TEST(b.port == 6379);
    BOOST_TEST(b.db == 0);
    auto c = parse_redis_url("redis://[::1]:7000/");
    BOOST_TEST(c.host == "::1");
    BOOST_TEST(c.port == 7000);
    BOOST_TEST(c.text() == "[::1]:7000/0");
    auto d = parse_redis_url("unix:/run/redis/redis.sock?db=3");
    BOOST_TEST(d.socket == "/run/redis/redis.sock");
    BOOST_TEST(d.db == 3);
    BOOST_TEST(parse_redis_url("unix:/tmp/r.sock").db == 0);
}

BOOST_AUTO_TEST_CASE(bad_redis_urls) {
    check_bad("http://host:6379/0", "redis://host:port/db");
    check_bad("redis://:secret@host:6379/0", "cache_password_file");
    check_bad("redis://user:secret@host/0", "cache_password_file");
    check_bad("redis://host:0/0", "port");
    check_bad("redis://host:65536/0", "port");
    check_bad("redis://host:63x9/0", "port");
    check_bad("redis://host:/0", "port");
    check_bad("redis://host:6379/-1", "database");
    check_bad("redis://host:6379/0/extra", "database");
    check_bad("redis:///0", "no host");
    check_bad("redis://[::1/0", "unclosed");
    check_bad("unix:relative.sock", "absolute");
    check_bad("unix:/tmp/r.sock?database=1", "?db=N");
}

BOOST_AUTO_TEST_CASE(options_and_their_errors) {
    kiva::Config c = kiva::parse_config(
        "cache = redis://127.0.0.1:6379/1\ncache_password_file = redis.pw\ncache_timeout = 20ms\n",
        "/etc/kiva/kiva.conf");
    BOOST_TEST(c.cache == "redis://127.0.0.1:6379/1");
    BOOST_TEST(c.cache_password_file == "redis.pw");
    BOOST_TEST(c.cache_timeout.count() == 20);
    BOOST_TEST(kiva::Config{}.cache.empty());  // the default: no cache, as before
    BOOST_TEST(kiva::Config{}.cache_timeout.count() == 50);
    for (auto [text, part] : {std::pair{"cache = redis://h:99999/0\n", "kiva.conf:1: cache: the port"},
                              std::pair{"cache = memcached://h\n", "redis://host:port/db"},
                              std::pair{"cache_timeout = 0\n", "cache_timeout must be from 1ms"},
                              std::pair{"cache_timeout = 10s\n", "cache_timeout must be from 1ms"}}) {
        try {
            kiva::parse_config(text, "/etc/kiva/kiva.conf");
            BOOST_ERROR("no error for " << text);
        } catch (const std::runtime_error& e) {
            BOOST_TEST(std::string(e.what()).find(part) != std::string::npos, e.what());
        }
    }
    c.database = "dbname=kiva";
    c.auth_state = false;
    BOOST_CHECK_THROW(kiva::validate(c), std::runtime_error);
}

BOOST_AUTO_TEST_CASE(keys_are_namespaced_by_realm_and_kind) {
    kiva::cache::Keys keys("shop");
    BOOST_TEST(keys.token("ab12") == "kiva:shop:tok:ab12");
    BOOST_TEST(keys.credentials("calvin") == "kiva:shop:cred:calvin");
    BOOST_TEST(keys.password("ffee") == "kiva:shop:pw:ffee");
    BOOST_TEST(keys.failures("login", "a:b") == "kiva:shop:fail:login:a:b");
    BOOST_TEST(keys.lock("address", "10.0.0.1") == "kiva:shop:lock:address:10.0.0.1");
    // A login cannot name another kind's key, nor another realm's.
    BOOST_TEST(keys.credentials("x") != kiva::cache::Keys("shop:cred").token("x"));
}

BOOST_AUTO_TEST_CASE(an_unreachable_redis_is_skipped_for_a_second_after_a_failure) {
    // Port 1 on loopback: refused at once. The second read is not even tried.
    kiva::cache::Redis redis(parse_redis_url("redis://127.0.0.1:1/0"), "", 50ms);
    std::vector<kiva::cache::Outcome> seen;
    redis.observe([&](std::string_view op, kiva::cache::Outcome o, std::string_view why) {
        BOOST_TEST(op == "token");
        if (o == kiva::cache::Outcome::error)
            BOOST_TEST(std::string(why).find("cannot connect") != std::string::npos, why);
        seen.push_back(o);
    });
    BOOST_TEST(!redis.run("token", {{"PING"}}));
    BOOST_TEST(!redis.run("token", {{"PING"}}));
    BOOST_TEST(!redis.run("token", {{"PING"}}, true));  // a write tries anyway
    BOOST_TEST(seen.size() == 3u);
    BOOST_TEST((seen[0] == kiva::cache::Outcome::error));
    BOOST_TEST((seen[1] == kiva::cache::Outcome::skipped));
    BOOST_TEST((seen[2] == kiva::cache::Outcome::error));
}

BOOST_AUTO_TEST_SUITE_END()
