// libFuzzer target: the decoders of client bytes (percent_decode, is_valid_utf8,
// parse_urlencoded) on arbitrary input. Invariants: a decoded text is never longer than its
// input, percent-encoding then decoding gives the bytes back, is_valid_utf8 agrees with a
// reference validator written from the Unicode table of well-formed sequences, and the pairs
// of a form never hold more bytes than the form.

#include "kiva/core/decode.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

void check(bool ok) {
    if (!ok) std::abort();
}

/// Unicode 15, table 3-7: the well-formed UTF-8 byte sequences, checked byte by byte.
bool reference_utf8(std::string_view text) {
    const auto* s = reinterpret_cast<const unsigned char*>(text.data());
    std::size_t n = text.size(), i = 0;
    auto in = [&](std::size_t k, unsigned lo, unsigned hi) {
        return i + k < n && s[i + k] >= lo && s[i + k] <= hi;
    };
    while (i < n) {
        unsigned c = s[i];
        if (c <= 0x7F) {
            i += 1;
        } else if (c >= 0xC2 && c <= 0xDF) {
            if (!in(1, 0x80, 0xBF)) return false;
            i += 2;
        } else if (c == 0xE0) {
            if (!in(1, 0xA0, 0xBF) || !in(2, 0x80, 0xBF)) return false;
            i += 3;
        } else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) {
            if (!in(1, 0x80, 0xBF) || !in(2, 0x80, 0xBF)) return false;
            i += 3;
        } else if (c == 0xED) {
            if (!in(1, 0x80, 0x9F) || !in(2, 0x80, 0xBF)) return false;
            i += 3;
        } else if (c == 0xF0) {
            if (!in(1, 0x90, 0xBF) || !in(2, 0x80, 0xBF) || !in(3, 0x80, 0xBF)) return false;
            i += 4;
        } else if (c >= 0xF1 && c <= 0xF3) {
            if (!in(1, 0x80, 0xBF) || !in(2, 0x80, 0xBF) || !in(3, 0x80, 0xBF)) return false;
            i += 4;
        } else if (c == 0xF4) {
            if (!in(1, 0x80, 0x8F) || !in(2, 0x80, 0xBF) || !in(3, 0x80, 0xBF)) return false;
            i += 4;
        } else {
            return false;
        }
    }
    return true;
}

std::string percent_encode_all(std::string_view bytes) {
    static const char hex[] = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : bytes) {
        out.push_back('%');
        out.push_back(hex[c >> 4]);
        out.push_back(hex[c & 15]);
    }
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);

    for (bool plus : {true, false}) {
        const std::string decoded = kiva::percent_decode(input, plus);
        check(decoded.size() <= input.size());
        if (input.find('%') == std::string_view::npos &&
            (!plus || input.find('+') == std::string_view::npos))
            check(decoded == input);
        check(kiva::percent_decode(percent_encode_all(decoded), plus) == decoded);
    }

    check(kiva::is_valid_utf8(input) == reference_utf8(input));

    std::size_t pairs = 0, bytes = 0;
    const bool literal = input.find_first_of("%+") == std::string_view::npos;
    kiva::parse_urlencoded(input, [&](std::string name, std::string value) {
        ++pairs;
        bytes += name.size() + value.size();
        // Pieces are never empty, and decoding never empties a text: "=" is the only way.
        if (name.empty() && value.empty()) check(input.find('=') != std::string_view::npos);
        if (literal) {
            // Nothing to decode: both are pieces of the input, the name without '&' or '='.
            check(name.find_first_of("&=") == std::string::npos &&
                  value.find('&') == std::string::npos);
            check(input.find(name) != std::string_view::npos &&
                  input.find(value) != std::string_view::npos);
        }
    });
    check(bytes <= input.size());
    std::size_t ampersands = 0;
    for (char c : input) ampersands += c == '&';
    check(pairs <= ampersands + 1);
    return 0;
}
