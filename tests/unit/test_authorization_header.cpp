#include "kiva/security/auth/auth_error.hpp"
#include "kiva/security/auth/authorization_header.hpp"
#include "kiva/security/auth/base64.hpp"

#include <boost/test/unit_test.hpp>

#include <string>

using namespace std::string_literals;
using kiva::auth::AuthError;
using kiva::auth::base64_encode;
using kiva::auth::Credentials;
using kiva::auth::parse_authorization;
using kiva::auth::Scheme;

namespace {

std::string basic(std::string_view login_password) {
    return "Basic " + base64_encode(login_password);
}

/// True when parsing header throws AuthError with exactly this message.
bool rejects(const std::string& header, const std::string& message) {
    try {
        parse_authorization(header);
    } catch (const AuthError& e) {
        return e.what() == message;
    }
    return false;
}

const std::string invalid_basic = "invalid basic authorization header";
const std::string invalid_bearer = "invalid bearer token";
const std::string unexpected_scheme = "unexpected authorization scheme";

}  // namespace

BOOST_AUTO_TEST_SUITE(authorization_header)

BOOST_AUTO_TEST_CASE(basic_credentials) {
    const Credentials c = parse_authorization("Basic Y2FsdmluOmhvYmJlcw==");
    BOOST_TEST((c.scheme == Scheme::basic));
    BOOST_TEST(c.login == "calvin");
    BOOST_TEST(c.password == "hobbes");
    BOOST_TEST(c.token.empty());
}

BOOST_AUTO_TEST_CASE(basic_without_padding) {
    BOOST_TEST(parse_authorization("Basic Y2FsdmluOmhvYmJlcw").password == "hobbes");
}

BOOST_AUTO_TEST_CASE(scheme_is_case_insensitive) {
    for (const char* scheme : {"basic", "BASIC", "bAsIc"})
        BOOST_TEST(parse_authorization(std::string(scheme) + " Y2FsdmluOmhvYmJlcw==").login ==
                   "calvin");
    for (const char* scheme : {"bearer", "BEARER", "Bearer"})
        BOOST_TEST(parse_authorization(std::string(scheme) + " abc").token == "abc");
}

BOOST_AUTO_TEST_CASE(whitespace_around_and_between) {
    BOOST_TEST(parse_authorization("  Basic    Y2FsdmluOmhvYmJlcw==  ").login == "calvin");
    BOOST_TEST(parse_authorization("\tBearer \t abc\t").token == "abc");
}

BOOST_AUTO_TEST_CASE(password_with_colons) {
    const Credentials c = parse_authorization(basic("calvin:ho:bb:es:"));
    BOOST_TEST(c.login == "calvin");
    BOOST_TEST(c.password == "ho:bb:es:");
}

BOOST_AUTO_TEST_CASE(utf8_login_and_password) {
    const Credentials c = parse_authorization(basic("jos\xc3\xa9:\xe2\x82\xac\xf0\x9f\x94\x91"));
    BOOST_TEST(c.login == "jos\xc3\xa9");
    BOOST_TEST(c.password == "\xe2\x82\xac\xf0\x9f\x94\x91");
}

BOOST_AUTO_TEST_CASE(bad_base64) {
    BOOST_TEST(rejects("Basic not*base64", invalid_basic));
    BOOST_TEST(rejects("Basic Y2Fsdmlu OmhvYmJlcw==", invalid_basic));
    BOOST_TEST(rejects("Basic Y2FsdmluOmhvYmJlcw=", invalid_basic));
}

BOOST_AUTO_TEST_CASE(missing_value) {
    BOOST_TEST(rejects("Basic", invalid_basic));
    BOOST_TEST(rejects("Basic   ", invalid_basic));
    BOOST_TEST(rejects("Bearer", invalid_bearer));
    BOOST_TEST(rejects("Bearer  ", invalid_bearer));
}

BOOST_AUTO_TEST_CASE(missing_colon) {
    BOOST_TEST(rejects(basic("calvinhobbes"), invalid_basic));
}

BOOST_AUTO_TEST_CASE(empty_login_or_password) {
    BOOST_TEST(rejects(basic(":hobbes"), invalid_basic));
    BOOST_TEST(rejects(basic("calvin:"), invalid_basic));
    BOOST_TEST(rejects(basic(":"), invalid_basic));
}

BOOST_AUTO_TEST_CASE(control_characters) {
    BOOST_TEST(rejects(basic("cal\0vin:hobbes"s), invalid_basic));
    BOOST_TEST(rejects(basic("calvin:hob\0bes"s), invalid_basic));
    BOOST_TEST(rejects(basic("cal\nvin:hobbes"), invalid_basic));
    BOOST_TEST(rejects(basic("calvin:hobbes\r"), invalid_basic));
    BOOST_TEST(rejects(basic("calvin:hob\x1f"
                             "bes"),
                       invalid_basic));
    BOOST_TEST(rejects(basic("calvin:hob\x7f"
                             "bes"),
                       invalid_basic));
    BOOST_TEST(parse_authorization(basic("calvin:hob bes")).password == "hob bes");
}

BOOST_AUTO_TEST_CASE(invalid_utf8) {
    BOOST_TEST(rejects(basic("calvin:\xff"), invalid_basic));              // not UTF-8 at all
    BOOST_TEST(rejects(basic("calvin:\xc3"), invalid_basic));              // truncated
    BOOST_TEST(rejects(basic("calvin:\xc0\xaf"), invalid_basic));          // overlong '/'
    BOOST_TEST(rejects(basic("calvin:\xed\xa0\x80"), invalid_basic));      // surrogate
    BOOST_TEST(rejects(basic("calvin:\xf4\x90\x80\x80"), invalid_basic));  // above U+10FFFF
    BOOST_TEST(rejects(basic("\xe9t\xe9:hobbes"), invalid_basic));         // Latin-1 login
}

BOOST_AUTO_TEST_CASE(unknown_scheme) {
    BOOST_TEST(rejects("Digest username=\"calvin\"", unexpected_scheme));
    BOOST_TEST(rejects("BasicY2FsdmluOmhvYmJlcw==", unexpected_scheme));
    BOOST_TEST(rejects("Y2FsdmluOmhvYmJlcw==", unexpected_scheme));
    BOOST_TEST(rejects("", unexpected_scheme));
    BOOST_TEST(rejects("   ", unexpected_scheme));
}

BOOST_AUTO_TEST_CASE(bearer_token) {
    const Credentials c = parse_authorization("Bearer kiva:calvin:20240102040405:0123abcd");
    BOOST_TEST((c.scheme == Scheme::bearer));
    BOOST_TEST(c.token == "kiva:calvin:20240102040405:0123abcd");
    BOOST_TEST(c.login.empty());
    BOOST_TEST(c.password.empty());
    BOOST_TEST(parse_authorization("Bearer a.b-c_d~e+f/g=").token == "a.b-c_d~e+f/g=");
}

BOOST_AUTO_TEST_CASE(bearer_token_with_spaces_or_non_printable) {
    BOOST_TEST(rejects("Bearer abc def", invalid_bearer));
    BOOST_TEST(rejects("Bearer abc\tdef", invalid_bearer));
    BOOST_TEST(rejects("Bearer abc\x01", invalid_bearer));
    BOOST_TEST(rejects("Bearer abc\x7f", invalid_bearer));
    BOOST_TEST(rejects("Bearer jos\xc3\xa9", invalid_bearer));
    BOOST_TEST(rejects("Bearer abc\0"s, invalid_bearer));
}

BOOST_AUTO_TEST_CASE(messages_never_echo_credentials) {
    try {
        parse_authorization(basic("calvin:sec\x01ret"));
        BOOST_FAIL("accepted a control character");
    } catch (const AuthError& e) {
        BOOST_TEST(std::string(e.what()).find("sec") == std::string::npos);
        BOOST_TEST(std::string(e.what()).find("calvin") == std::string::npos);
    }
}

BOOST_AUTO_TEST_SUITE_END()
