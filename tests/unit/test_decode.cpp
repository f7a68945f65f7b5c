#include "kiva/core/decode.hpp"

#include <boost/test/unit_test.hpp>

#include <string>
#include <utility>
#include <vector>

using namespace std::string_literals;
using kiva::is_valid_utf8;
using kiva::percent_decode;

namespace {

using Pairs = std::vector<std::pair<std::string, std::string>>;

Pairs pairs_of(std::string_view text) {
    Pairs out;
    kiva::parse_urlencoded(text, [&](std::string name, std::string value) {
        out.emplace_back(std::move(name), std::move(value));
    });
    return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(decode)

// ---------------------------------------------------------------- percent_decode

BOOST_AUTO_TEST_CASE(percent_decode_escapes) {
    BOOST_TEST(percent_decode("") == "");
    BOOST_TEST(percent_decode("plain") == "plain");
    BOOST_TEST(percent_decode("%41") == "A");
    BOOST_TEST(percent_decode("a%41b") == "aAb");
    BOOST_TEST(percent_decode("%4a%4A") == "JJ");  // both cases of hex digits
    BOOST_TEST(percent_decode("%E2%82%AC") == "\xe2\x82\xac");
    BOOST_TEST(percent_decode("%00") == "\0"s);
    BOOST_TEST(percent_decode("%2F%2f") == "//");
    BOOST_TEST(percent_decode("%252F") == "%2F");  // decoded once only
}

BOOST_AUTO_TEST_CASE(percent_decode_is_lenient) {
    BOOST_TEST(percent_decode("C%") == "C%");  // the README's filter=C%
    BOOST_TEST(percent_decode("%") == "%");
    BOOST_TEST(percent_decode("%zz") == "%zz");
    BOOST_TEST(percent_decode("%4") == "%4");
    BOOST_TEST(percent_decode("%4g") == "%4g");
    BOOST_TEST(percent_decode("%g4") == "%g4");
    BOOST_TEST(percent_decode("%%41") == "%A");
    BOOST_TEST(percent_decode("%41%") == "A%");
    BOOST_TEST(percent_decode("100%") == "100%");
}

BOOST_AUTO_TEST_CASE(plus_is_space_only_when_asked) {
    BOOST_TEST(percent_decode("a+b") == "a b");
    BOOST_TEST(percent_decode("a+b", true) == "a b");
    BOOST_TEST(percent_decode("a+b", false) == "a+b");
    BOOST_TEST(percent_decode("%2B") == "+");
    BOOST_TEST(percent_decode("%2b", false) == "+");
    BOOST_TEST(percent_decode("%20+%2B") == "  +");
}

// ---------------------------------------------------------------- is_valid_utf8

BOOST_AUTO_TEST_CASE(utf8_accepts_well_formed) {
    BOOST_TEST(is_valid_utf8(""));
    BOOST_TEST(is_valid_utf8("hello, world"));
    BOOST_TEST(is_valid_utf8("\0"s));                      // NUL is ASCII
    BOOST_TEST(is_valid_utf8("\x7f"));                     // DEL
    BOOST_TEST(is_valid_utf8("\xc2\x80"));                 // U+0080, smallest 2-byte
    BOOST_TEST(is_valid_utf8("caf\xc3\xa9"));              // é
    BOOST_TEST(is_valid_utf8("\xdf\xbf"));                 // U+07FF
    BOOST_TEST(is_valid_utf8("\xe0\xa0\x80"));             // U+0800, smallest 3-byte
    BOOST_TEST(is_valid_utf8("\xe2\x82\xac"));             // €
    BOOST_TEST(is_valid_utf8("\xed\x9f\xbf"));             // U+D7FF, just below the surrogates
    BOOST_TEST(is_valid_utf8("\xee\x80\x80"));             // U+E000, just above
    BOOST_TEST(is_valid_utf8("\xef\xbf\xbf"));             // U+FFFF
    BOOST_TEST(is_valid_utf8("\xf0\x90\x80\x80"));         // U+10000, smallest 4-byte
    BOOST_TEST(is_valid_utf8("\xf0\x9f\x98\x80"));         // 😀
    BOOST_TEST(is_valid_utf8("\xf4\x8f\xbf\xbf"));         // U+10FFFF, the last code point
    BOOST_TEST(is_valid_utf8("a\xc3\xa9z\xe2\x82\xac!"));  // mixed
}

BOOST_AUTO_TEST_CASE(utf8_rejects_overlongs) {
    BOOST_TEST(!is_valid_utf8("\xc0\x80"));  // NUL in 2 bytes
    BOOST_TEST(!is_valid_utf8("\xc0\xaf"));  // '/' in 2 bytes
    BOOST_TEST(!is_valid_utf8("\xc1\xbf"));
    BOOST_TEST(!is_valid_utf8("\xe0\x80\x80"));      // NUL in 3 bytes
    BOOST_TEST(!is_valid_utf8("\xe0\x9f\xbf"));      // U+07FF in 3 bytes
    BOOST_TEST(!is_valid_utf8("\xf0\x80\x80\x80"));  // NUL in 4 bytes
    BOOST_TEST(!is_valid_utf8("\xf0\x8f\xbf\xbf"));  // U+FFFF in 4 bytes
}

BOOST_AUTO_TEST_CASE(utf8_rejects_surrogates_and_beyond_unicode) {
    BOOST_TEST(!is_valid_utf8("\xed\xa0\x80"));              // U+D800
    BOOST_TEST(!is_valid_utf8("\xed\xbf\xbf"));              // U+DFFF
    BOOST_TEST(!is_valid_utf8("\xed\xa0\xbd\xed\xb8\x80"));  // a CESU-8 surrogate pair
    BOOST_TEST(!is_valid_utf8("\xf4\x90\x80\x80"));          // U+110000
    BOOST_TEST(!is_valid_utf8("\xf5\x80\x80\x80"));
    BOOST_TEST(!is_valid_utf8("\xf7\xbf\xbf\xbf"));
    BOOST_TEST(!is_valid_utf8("\xf8\x88\x80\x80\x80"));  // 5-byte form
    BOOST_TEST(!is_valid_utf8("\xfe"));
    BOOST_TEST(!is_valid_utf8("\xff"));
}

BOOST_AUTO_TEST_CASE(utf8_rejects_truncated_and_stray_bytes) {
    BOOST_TEST(!is_valid_utf8("\xc3"));  // truncated 2-byte
    BOOST_TEST(!is_valid_utf8("caf\xc3"));
    BOOST_TEST(!is_valid_utf8("\xe2\x82"));       // truncated 3-byte
    BOOST_TEST(!is_valid_utf8("\xf0\x9f\x98"));   // truncated 4-byte
    BOOST_TEST(!is_valid_utf8("\xf0\x9f\x98x"));  // truncated, then ASCII
    BOOST_TEST(!is_valid_utf8("\x80"));           // lone continuation
    BOOST_TEST(!is_valid_utf8("\xbf"));
    BOOST_TEST(!is_valid_utf8("a\x80z"));
    BOOST_TEST(!is_valid_utf8("\xc3\xa9\xa9"));  // one continuation too many
    BOOST_TEST(!is_valid_utf8("\xc3\x41"));      // lead byte, then ASCII
    BOOST_TEST(!is_valid_utf8("\xe2\x28\xa1"));
    BOOST_TEST(!is_valid_utf8("\xe2\x82\xc3\xa9"));  // lead byte inside a sequence
}

// ---------------------------------------------------------------- parse_urlencoded

BOOST_AUTO_TEST_CASE(urlencoded_pairs) {
    BOOST_TEST(pairs_of("").empty());
    BOOST_TEST((pairs_of("a=1&b=2") == Pairs{{"a", "1"}, {"b", "2"}}));
    BOOST_TEST((pairs_of("a=1&a=2") == Pairs{{"a", "1"}, {"a", "2"}}));  // order and repeats kept
}

BOOST_AUTO_TEST_CASE(urlencoded_empty_pieces_are_skipped) {
    BOOST_TEST(pairs_of("&").empty());
    BOOST_TEST(pairs_of("&&&").empty());
    BOOST_TEST((pairs_of("a=1&&b=2&") == Pairs{{"a", "1"}, {"b", "2"}}));
    BOOST_TEST((pairs_of("&a=1") == Pairs{{"a", "1"}}));
}

BOOST_AUTO_TEST_CASE(urlencoded_without_equal_sign) {
    BOOST_TEST((pairs_of("flag") == Pairs{{"flag", ""}}));
    BOOST_TEST((pairs_of("a&b=2") == Pairs{{"a", ""}, {"b", "2"}}));
    BOOST_TEST((pairs_of("a=") == Pairs{{"a", ""}}));
    BOOST_TEST((pairs_of("=v") == Pairs{{"", "v"}}));  // an empty name is still reported
}

BOOST_AUTO_TEST_CASE(urlencoded_equal_sign_in_value) {
    BOOST_TEST((pairs_of("a=b=c") == Pairs{{"a", "b=c"}}));
    BOOST_TEST((pairs_of("expr=1%3D1") == Pairs{{"expr", "1=1"}}));
}

BOOST_AUTO_TEST_CASE(urlencoded_names_and_values_are_decoded) {
    BOOST_TEST((pairs_of("na%20me=v%41l+ue") == Pairs{{"na me", "vAl ue"}}));
    BOOST_TEST((pairs_of("a%3Db=c") == Pairs{{"a=b", "c"}}));  // encoded '=' in a name
    BOOST_TEST((pairs_of("a%26b=1") == Pairs{{"a&b", "1"}}));  // encoded '&'
    BOOST_TEST((pairs_of("first+name=Jean+Pierre") == Pairs{{"first name", "Jean Pierre"}}));
    BOOST_TEST((pairs_of("q=%2B1") == Pairs{{"q", "+1"}}));
    BOOST_TEST((pairs_of("filter=C%") == Pairs{{"filter", "C%"}}));
    BOOST_TEST((pairs_of("u=%FF") == Pairs{{"u", "\xff"}}));  // bytes, not checked here
}

BOOST_AUTO_TEST_SUITE_END()
