#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "kiva/http/http_error.hpp"
#include "kiva/security/argon2id.hpp"
#include "kiva/security/auth/password.hpp"
#include "kiva/security/security.hpp"

using kiva::Config;
using kiva::HttpError;
using kiva::Logger;
using kiva::LogLevel;
using kiva::Security;
namespace sec = kiva::security;

namespace {

Config config(std::string scheme, int cost = 4) {
    Config c;
    c.test_mode = true;
    c.password_scheme = std::move(scheme);
    c.password_cost = cost;
    c.argon2_memory_kib = 64;  // fast for tests; the defaults are OWASP's
    c.argon2_passes = 1;
    return c;
}

const Logger quiet{LogLevel::off};

/// The message of the HttpError that f throws, or "" when it throws none.
template <typename F>
std::string refusal(F&& f) {
    try {
        f();
    } catch (const HttpError& e) {
        BOOST_TEST(e.status() == 400);
        return e.what();
    }
    return "";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(password_schemes)

BOOST_AUTO_TEST_CASE(argon2id_reference_vector) {
    // libargon2's own test vector (test.c): "password", salt "somesalt", m=64 MiB, t=2, p=1.
    const std::string hash =
        "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc";
    BOOST_TEST(sec::argon2id_verify("password", hash));
    BOOST_TEST(!sec::argon2id_verify("Password", hash));
    auto p = sec::argon2id_params(hash);
    BOOST_TEST((p && p->memory_kib == 65536u && p->passes == 2u && p->lanes == 1u));
}

BOOST_AUTO_TEST_CASE(argon2id_round_trip_and_malformed_hashes) {
    const sec::Argon2Params params{64, 1, 1};
    const std::string hash = sec::argon2id_hash("hobbes", params);
    BOOST_TEST(hash.rfind("$argon2id$v=19$m=64,t=1,p=1$", 0) == 0u);
    BOOST_TEST(sec::argon2id_verify("hobbes", hash));
    BOOST_TEST(!sec::argon2id_verify("hobbe", hash));
    BOOST_TEST(sec::argon2id_hash("hobbes", params) != hash);  // a new salt each time
    for (const std::string& bad : std::vector<std::string>{"", "$argon2id$", "$argon2i$v=19$m=64,t=1,p=1$c29tZXNhbHQ$AAAA",
                            "$argon2id$v=19$t=1,m=64,p=1$c29tZXNhbHQ$AAAA", hash.substr(0, 40),
                            hash + "$", std::string(300, 'a')})
        BOOST_TEST(!sec::argon2id_verify("hobbes", bad), bad);
    BOOST_TEST(!sec::argon2id_verify(std::string("hob\0bes", 7), hash));
    BOOST_CHECK_THROW(sec::argon2id_hash(std::string(1025, 'x'), params), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(both_schemes_verify_whichever_is_configured) {
    Security bcrypt(config("bcrypt"), quiet), argon(config("argon2id"), quiet);
    const std::string b = bcrypt.hash_password("hobbes"), a = argon.hash_password("hobbes");
    BOOST_TEST(b.rfind("$2b$04$", 0) == 0u);
    BOOST_TEST(a.rfind("$argon2id$", 0) == 0u);
    for (const Security* s : {&bcrypt, &argon}) {
        BOOST_TEST(s->verify_password("hobbes", a));
        BOOST_TEST(s->verify_password("hobbes", b));
        BOOST_TEST(!s->verify_password("tigre", a));
        BOOST_TEST(!s->verify_password("tigre", b));
    }
}

BOOST_AUTO_TEST_CASE(a_hash_of_another_scheme_or_a_lower_cost_needs_a_rehash) {
    Security bcrypt5(config("bcrypt", 5), quiet), argon(config("argon2id"), quiet);
    const std::string cost4 = kiva::auth::hash_password("hobbes", 4);
    const std::string cost5 = bcrypt5.hash_password("hobbes");
    const std::string cost6 = kiva::auth::hash_password("hobbes", 6);
    BOOST_TEST(bcrypt5.needs_rehash(cost4));
    BOOST_TEST(!bcrypt5.needs_rehash(cost5));
    BOOST_TEST(!bcrypt5.needs_rehash(cost6));
    BOOST_TEST(bcrypt5.needs_rehash("$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"));
    const std::string a = argon.hash_password("hobbes");
    BOOST_TEST(bcrypt5.needs_rehash(a));
    BOOST_TEST(argon.needs_rehash(cost6));
    BOOST_TEST(!argon.needs_rehash(a));
    BOOST_TEST(argon.needs_rehash(sec::argon2id_hash("hobbes", {32, 1, 1})));
    BOOST_TEST(!argon.needs_rehash(sec::argon2id_hash("hobbes", {128, 2, 1})));
}

BOOST_AUTO_TEST_CASE(rules_for_new_passwords) {
    Config c = config("bcrypt");
    c.password_regex = "[0-9]";
    Security s(c, quiet);
    BOOST_TEST(refusal([&] { s.check_new_password("abc1"); }) ==
               "password must have at least 8 characters");
    BOOST_TEST(refusal([&] { s.check_new_password("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9" "1234"); }) ==
               "");  // eight characters, twelve bytes
    BOOST_TEST(refusal([&] { s.check_new_password("abcdefgh"); }) == "password must match [0-9]");
    BOOST_TEST(refusal([&] { s.check_new_password(std::string(73, '1')); }) ==
               "password must have at most 72 bytes (bcrypt)");
    BOOST_TEST(refusal([&] { s.check_new_password(std::string("1234\0" "5678", 9)); }) ==
               "password must not contain NUL");
    BOOST_TEST(refusal([&] { s.check_new_password("correct horse 1"); }) == "");
    Security argon(config("argon2id"), quiet);
    BOOST_TEST(refusal([&] { argon.check_new_password(std::string(500, 'x')); }) == "");
    c.password_regex = "([";
    BOOST_CHECK_THROW(Security(c, quiet), std::runtime_error);
}

BOOST_AUTO_TEST_CASE(configuration_keys) {
    auto c = kiva::parse_config(
        "password_scheme = argon2id\nargon2_memory = 64M\nargon2_passes = 3\nargon2_lanes = 2\n"
        "password_min_length = 12\npassword_regex = \"[A-Z]\"\n",
        "t.conf");
    BOOST_TEST(c.password_scheme == "argon2id");
    BOOST_TEST(c.argon2_memory_kib == 65536u);
    BOOST_TEST(c.argon2_passes == 3u);
    BOOST_TEST(c.argon2_lanes == 2u);
    BOOST_TEST(c.password_min_length == 12u);
    BOOST_TEST(c.password_regex == "[A-Z]");
    Config d;
    BOOST_TEST((d.password_scheme == "bcrypt" && d.argon2_memory_kib == 19456u &&
                d.argon2_passes == 2u && d.argon2_lanes == 1u && d.password_min_length == 8u));
    BOOST_CHECK_THROW(kiva::parse_config("password_scheme = md5\n", "t.conf"), std::runtime_error);
}

BOOST_AUTO_TEST_SUITE_END()
