#include <boost/test/unit_test.hpp>

#include <chrono>
#include <memory>
#include <string>

#include "kiva/security/auth/auth_error.hpp"
#include "kiva/security/auth/base64.hpp"
#include "kiva/security/auth/token.hpp"
#include "kiva/security/security.hpp"

using namespace std::chrono_literals;
using kiva::auth::AuthError;
using kiva::auth::KeySet;
using kiva::auth::TokenCodec;
using std::chrono::system_clock;

namespace {

const system_clock::time_point now = std::chrono::sys_days{std::chrono::year{2024} / 1 / 2} + 3h;
const KeySet old_only = {{"", "legacy-secret-0123456789"}};
const KeySet both = {{"", "legacy-secret-0123456789"}, {"k2", "second-secret-0123456789"}};
const KeySet new_only = {{"k2", "second-secret-0123456789"}};

std::string failure(const TokenCodec& codec, const std::string& token) {
    try {
        codec.verify(token, now);
    } catch (const AuthError& e) {
        return e.what();
    }
    return "";
}

using Factory = std::unique_ptr<TokenCodec> (*)(KeySet, std::string, std::chrono::seconds);

/// Add a key, deploy (old tokens still verify, new ones carry the new id), remove the old key.
void rotation(Factory make) {
    auto before = make(old_only, "kiva", 3600s), during = make(both, "kiva", 3600s),
         after = make(new_only, "kiva", 3600s);
    const std::string old_token = before->create("calvin", now);
    const std::string new_token = during->create("calvin", now);
    BOOST_TEST(old_token != new_token);
    BOOST_TEST(failure(*during, old_token) == "");
    BOOST_TEST(failure(*during, new_token) == "");
    BOOST_TEST(failure(*after, new_token) == "");
    BOOST_TEST(failure(*after, old_token) == "invalid token");  // its key was removed
    BOOST_TEST(failure(*before, new_token) == "invalid token");  // an unknown key id
}

}  // namespace

BOOST_AUTO_TEST_SUITE(key_rotation)

BOOST_AUTO_TEST_CASE(native_tokens_keep_the_course_format_with_a_key_set) {
    rotation(kiva::auth::make_native_tokens);
    auto during = kiva::auth::make_native_tokens(both, "kiva", 3600s);
    const std::string token = during->create("calvin", now);
    // realm:login:YYYYMMDDHHMMSS:<64 hex digits>, whichever key signed.
    const std::string signature = token.substr(token.rfind(':') + 1);
    BOOST_TEST(token.substr(0, token.rfind(':')) == "kiva:calvin:20240102040000");
    BOOST_TEST(signature.size() == 64u);
    BOOST_TEST(signature.find_first_not_of("0123456789abcdef") == std::string::npos);
    // Signed by the newest key: the legacy key alone refuses it.
    BOOST_TEST(failure(*kiva::auth::make_native_tokens(old_only, "kiva", 3600s), token) ==
               "invalid token");
    // Tokens issued before 0.3.0 named their key ("k2.<hex>"): accepted until they expire,
    // with that key only.
    const std::string legacy = token.substr(0, token.rfind(':') + 1) + "k2." + signature;
    BOOST_TEST(failure(*during, legacy) == "");
    BOOST_TEST(failure(*kiva::auth::make_native_tokens(new_only, "kiva", 3600s), legacy) == "");
    BOOST_TEST(failure(*during, legacy.substr(0, legacy.rfind(':') + 1) + "k3." + signature) ==
               "invalid token");  // an unknown id
    BOOST_TEST(failure(*during, legacy.substr(0, legacy.rfind(':') + 1) + "." + signature) ==
               "invalid token");  // an empty id
    // The id chooses the key, it is no signature of its own: the legacy key's signature
    // under the id k2 fails.
    const std::string old_token = kiva::auth::make_native_tokens(old_only, "kiva", 3600s)
                                      ->create("calvin", now);
    BOOST_TEST(failure(*during, old_token) == "");
    BOOST_TEST(failure(*during, old_token.substr(0, old_token.rfind(':') + 1) + "k2." +
                                    old_token.substr(old_token.rfind(':') + 1)) ==
               "invalid token");
}

BOOST_AUTO_TEST_CASE(jwt_tokens_name_the_key_in_kid) {
    rotation(kiva::auth::make_jwt_tokens);
    const std::string token = kiva::auth::make_jwt_tokens(both, "kiva", 3600s)->create("calvin", now);
    auto header = kiva::auth::base64url_decode(token.substr(0, token.find('.')));
    BOOST_TEST((header && *header == R"({"alg":"HS256","typ":"JWT","kid":"k2"})"));
}

BOOST_AUTO_TEST_CASE(the_key_file) {
    auto keys = kiva::parse_token_keys(
        "# oldest first\nlegacy-secret-0123456789\n\nk2 second-secret-0123456789\r\n"
        "  k-3_x   third-secret-0123456789  \n");
    BOOST_TEST(keys.size() == 3u);
    BOOST_TEST((keys[0].id.empty() && keys[0].secret == "legacy-secret-0123456789"));
    BOOST_TEST((keys[1].id == "k2" && keys[1].secret == "second-secret-0123456789"));
    BOOST_TEST((keys[2].id == "k-3_x" && keys[2].secret == "third-secret-0123456789"));
    BOOST_TEST(kiva::parse_token_keys("").empty());
    for (const char* bad : {"short\n", "k1 short\n", "a-secret-0123456789\nb-secret-0123456789\n",
                            "k1 a-secret-0123456789\nk1 b-secret-0123456789\n",
                            "k.1 a-secret-0123456789\n", "k1 a-secret-0123456789 extra\n"})
        BOOST_CHECK_THROW(kiva::parse_token_keys(bad), std::runtime_error);
}

BOOST_AUTO_TEST_SUITE_END()
