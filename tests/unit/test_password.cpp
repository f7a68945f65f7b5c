#include "kiva/security/auth/password.hpp"

#include <boost/test/unit_test.hpp>

#include <stdexcept>
#include <string>
#include <utility>

using namespace std::string_literals;
using kiva::auth::hash_password;
using kiva::auth::verify_password;

namespace {

// Openwall crypt_blowfish's test vectors (also in libxcrypt and passlib), each checked
// against Apache's independent implementation with `htpasswd -vb`.
const std::pair<std::string, std::string> vectors[] = {
    {"U*U", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"},
    {"U*U*", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.VGOzA784oUp/Z0DY336zx7pLYAy0lwK"},
    {"U*U*U", "$2a$05$XXXXXXXXXXXXXXXXXXXXXOAcXxm9kjPGEMsLznoKqmqw7tc8WCx4a"},
    {"\xff\xff\xa3", "$2y$05$/OK.fbVrR/bpIqNJ5ianF.CE5elHaaO4EbggVDjb8P19RukzXSM3e"},
    {"\xff\xff\xa3", "$2b$05$/OK.fbVrR/bpIqNJ5ianF.CE5elHaaO4EbggVDjb8P19RukzXSM3e"},
    {"\xff\xff\xa3", "$2a$05$/OK.fbVrR/bpIqNJ5ianF.nqd1wy.pTMdcvrRWxyiGL2eMz.2a85."},
    {"\xa3", "$2y$05$/OK.fbVrR/bpIqNJ5ianF.Sa7shbm4.OzKpvFnX1pQLmQW96oUlCq"},
    {"", "$2y$05$CCCCCCCCCCCCCCCCCCCCC.7uG0VCzI2bS7j6ymqJi9CdcdxiRTWNy"},
};

const std::string long_password =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    "chars after 72 are ignored";
const std::string long_hash = "$2a$05$abcdefghijklmnopqrstuu5s2v8.iXieOjg/.AySBTTZIIVFJeBui";

const std::string u_star_u = "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW";

}  // namespace

BOOST_AUTO_TEST_SUITE(password)

BOOST_AUTO_TEST_CASE(known_vectors) {
    for (const auto& [password, hash] : vectors) BOOST_TEST(verify_password(password, hash), hash);
}

BOOST_AUTO_TEST_CASE(only_72_bytes_count) {
    BOOST_TEST(verify_password(long_password, long_hash));
    BOOST_TEST(verify_password(long_password.substr(0, 72), long_hash));
    BOOST_TEST(verify_password(long_password.substr(0, 72) + "anything else", long_hash));
    BOOST_TEST(!verify_password(long_password.substr(0, 71), long_hash));
}

BOOST_AUTO_TEST_CASE(wrong_password) {
    BOOST_TEST(!verify_password("U*U*", u_star_u));
    BOOST_TEST(!verify_password("U*", u_star_u));
    BOOST_TEST(!verify_password("u*u", u_star_u));
    BOOST_TEST(!verify_password("", u_star_u));
    BOOST_TEST(
        !verify_password("\xa3", "$2y$05$/OK.fbVrR/bpIqNJ5ianF.CE5elHaaO4EbggVDjb8P19RukzXSM3e"));
}

BOOST_AUTO_TEST_CASE(password_with_nul_is_refused) {
    BOOST_TEST(!verify_password("U*U\0"s, u_star_u));
    BOOST_TEST(!verify_password("U*U\0tail"s, u_star_u));
}

BOOST_AUTO_TEST_CASE(other_hash_formats_are_refused) {
    for (const char* hash : {
             // libxcrypt would check these, we do not want them:
             "$2x$05$/OK.fbVrR/bpIqNJ5ianF.CE5elHaaO4EbggVDjb8P19RukzXSM3e",  // buggy 8-bit bcrypt
             "$6$saltsalt$XzcuFFghZpEUI/5jCffOVgq42BLTesMchCElh/pGufkVOoyYRgIgD/"
             "kTcg2bBbkNgZBqMCzGU9CriAQ5BHlz5.",
             "$1$saltsalt$DMcfEerf6WUXecN/QpHay1",
             "ab3qG30xxLxE6",  // DES
             // plain text, empty, or broken bcrypt:
             "hobbes", "", "*0", "$2b$", "$2b$04$",
             "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOe",    // one short
             "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeWW",  // one long
             "$2a$03$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",   // cost 3
             "$2a$32$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",   // cost 32
             "$2a$5$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeWx",   // one-digit cost
             "$2a$05$CCCCCCCCCCCCCCCCCCCCC!E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",   // bad character
             "$2c$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",   // no such variant
         })
        BOOST_TEST(!verify_password("hobbes", hash), hash);
    BOOST_TEST(!verify_password("hobbes",
                                "$6$saltsalt$XzcuFFghZpEUI/5jCffOVgq42BLTesMchCElh/pGufkVOoyYRgIgD/"
                                "kTcg2bBbkNgZBqMCzGU9CriAQ5BHlz5."));
    BOOST_TEST(
        !verify_password("U*U", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW\0"s));
}

BOOST_AUTO_TEST_CASE(hash_then_verify) {
    const std::string hash = hash_password("hobbes", 4);
    BOOST_TEST(hash.substr(0, 7) == "$2b$04$");
    BOOST_TEST(hash.size() == 60u);
    BOOST_TEST(verify_password("hobbes", hash));
    BOOST_TEST(!verify_password("Hobbes", hash));
    BOOST_TEST(hash_password("hobbes", 5).substr(0, 7) == "$2b$05$");
}

BOOST_AUTO_TEST_CASE(salts_differ) {
    const std::string a = hash_password("hobbes", 4), b = hash_password("hobbes", 4);
    BOOST_TEST(a != b);
    BOOST_TEST(a.substr(7, 22) != b.substr(7, 22));
    BOOST_TEST(verify_password("hobbes", a));
    BOOST_TEST(verify_password("hobbes", b));
}

BOOST_AUTO_TEST_CASE(unusual_passwords) {
    for (const std::string& password :
         {""s, "jos\xc3\xa9"s, "\xff\xff\xa3"s, std::string(511, 'x'), "with space:and colon"s})
        BOOST_TEST(verify_password(password, hash_password(password, 4)), password.size());
}

BOOST_AUTO_TEST_CASE(bad_hash_arguments) {
    BOOST_CHECK_THROW(hash_password("hobbes", 3), std::invalid_argument);
    BOOST_CHECK_THROW(hash_password("hobbes", 32), std::invalid_argument);
    BOOST_CHECK_THROW(hash_password("hobbes", -1), std::invalid_argument);
    BOOST_CHECK_THROW(hash_password("hob\0bes"s, 4), std::invalid_argument);
    BOOST_CHECK_THROW(hash_password(std::string(512, 'x'), 4), std::invalid_argument);
    BOOST_TEST(!verify_password(std::string(512, 'x'), hash_password(std::string(511, 'x'), 4)));
}

BOOST_AUTO_TEST_SUITE_END()
