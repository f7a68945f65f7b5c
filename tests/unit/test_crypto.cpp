#include "kiva/security/auth/crypto.hpp"

#include <boost/test/unit_test.hpp>

#include <string>

using namespace std::string_literals;
using namespace kiva::auth;

BOOST_AUTO_TEST_SUITE(crypto)

// Expected values checked with `openssl dgst -sha256 [-hmac KEY]`.
BOOST_AUTO_TEST_CASE(hmac_sha256_rfc4231_case_2) {
    BOOST_TEST(to_hex(hmac_sha256("Jefe", "what do ya want for nothing?")) ==
               "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

BOOST_AUTO_TEST_CASE(hmac_sha256_empty_key_and_data) {
    BOOST_TEST(to_hex(hmac_sha256("", "")) ==
               "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

BOOST_AUTO_TEST_CASE(sha256_vectors) {
    BOOST_TEST(to_hex(sha256("abc")) ==
               "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    BOOST_TEST(to_hex(sha256("")) ==
               "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

BOOST_AUTO_TEST_CASE(hex_is_lowercase) {
    BOOST_TEST(to_hex("\x00\x0f\xab\xff"s) == "000fabff");
    BOOST_TEST(to_hex("") == "");
}

BOOST_AUTO_TEST_CASE(constant_time_equality) {
    BOOST_TEST(constant_time_equal("", ""));
    BOOST_TEST(constant_time_equal("abc", "abc"));
    BOOST_TEST(!constant_time_equal("abc", "abd"));
    BOOST_TEST(!constant_time_equal("abc", "abcd"));
    BOOST_TEST(!constant_time_equal("", "a"));
    BOOST_TEST(!constant_time_equal("a\0b"s, "a\0c"s));
}

BOOST_AUTO_TEST_CASE(random_bytes_sizes_and_variety) {
    BOOST_TEST(random_bytes(0).empty());
    const std::string a = random_bytes(32), b = random_bytes(32);
    BOOST_TEST(a.size() == 32u);
    BOOST_TEST(a != b);
}

BOOST_AUTO_TEST_SUITE_END()
