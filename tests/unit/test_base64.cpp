#include "kiva/security/auth/base64.hpp"

#include <boost/test/unit_test.hpp>

#include <string>
#include <utility>

using namespace std::string_literals;
using kiva::auth::base64_decode;
using kiva::auth::base64_encode;
using kiva::auth::base64url_decode;
using kiva::auth::base64url_encode;

BOOST_AUTO_TEST_SUITE(base64)

// RFC 4648 §10.
const std::pair<std::string, std::string> rfc_vectors[] = {
    {"", ""},
    {"f", "Zg=="},
    {"fo", "Zm8="},
    {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="},
    {"fooba", "Zm9vYmE="},
    {"foobar", "Zm9vYmFy"},
};

BOOST_AUTO_TEST_CASE(rfc4648_vectors) {
    for (const auto& [plain, encoded] : rfc_vectors) {
        BOOST_TEST(base64_encode(plain) == encoded);
        BOOST_TEST(base64_decode(encoded).value_or("<none>") == plain);
    }
}

BOOST_AUTO_TEST_CASE(decodes_without_padding) {
    BOOST_TEST(base64_decode("Zg").value_or("<none>") == "f");
    BOOST_TEST(base64_decode("Zm8").value_or("<none>") == "fo");
    BOOST_TEST(base64_decode("Zm9vYmE").value_or("<none>") == "fooba");
}

BOOST_AUTO_TEST_CASE(rejects_bad_padding) {
    for (const char* text :
         {"Zg=", "Zm8==", "Zg===", "=", "==", "====", "Zg==Zg==", "Z=g=", "Zm9v=", "Zm9vYmE=="})
        BOOST_TEST(!base64_decode(text).has_value(), text);
}

BOOST_AUTO_TEST_CASE(rejects_foreign_characters_and_whitespace) {
    for (const char* text :
         {"Zm9v YmFy", "Zm9v\n", " Zm9v", "Zm9v\t", "Zm9v!", "Zm9-", "Zm9_", "Zm\x80v"})
        BOOST_TEST(!base64_decode(text).has_value(), text);
    BOOST_TEST(!base64_decode("Zm9v\0Zm9v"s).has_value());
}

BOOST_AUTO_TEST_CASE(rejects_impossible_length) {
    BOOST_TEST(!base64_decode("Z").has_value());
    BOOST_TEST(!base64_decode("Zm9vY").has_value());
    BOOST_TEST(!base64url_decode("Zm9vY").has_value());
}

BOOST_AUTO_TEST_CASE(url_alphabet) {
    const std::string bytes = "\xfb\xff\xbf"s;
    BOOST_TEST(base64_encode(bytes) == "+/+/");
    BOOST_TEST(base64url_encode(bytes) == "-_-_");
    BOOST_TEST(base64url_decode("-_-_").value_or("<none>") == bytes);
    BOOST_TEST(!base64url_decode("+/+/").has_value());
    BOOST_TEST(!base64_decode("-_-_").has_value());
}

BOOST_AUTO_TEST_CASE(url_has_no_padding) {
    BOOST_TEST(base64url_encode("f") == "Zg");
    BOOST_TEST(base64url_encode("fo") == "Zm8");
    BOOST_TEST(base64url_decode("Zg").value_or("<none>") == "f");
    BOOST_TEST(!base64url_decode("Zg==").has_value());
    BOOST_TEST(!base64url_decode("Zm8=").has_value());
}

BOOST_AUTO_TEST_CASE(binary_roundtrip) {
    std::string bytes;
    for (int i = 0; i < 256; ++i) bytes += static_cast<char>(i);
    for (std::size_t length = 0; length <= bytes.size(); length += 37) {
        const std::string chunk = bytes.substr(bytes.size() - length);
        BOOST_TEST(base64_decode(base64_encode(chunk)).value_or("<none>") == chunk);
        BOOST_TEST(base64url_decode(base64url_encode(chunk)).value_or("<none>") == chunk);
    }
    for (std::size_t length = 0; length < 8; ++length) {
        const std::string chunk = bytes.substr(250, length);
        BOOST_TEST(base64_decode(base64_encode(chunk)).value_or("<none>") == chunk);
        BOOST_TEST(base64url_decode(base64url_encode(chunk)).value_or("<none>") == chunk);
    }
}

BOOST_AUTO_TEST_SUITE_END()
