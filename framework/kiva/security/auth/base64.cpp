#include "kiva/security/auth/base64.hpp"

#include <array>
#include <cstdint>

namespace kiva::auth {
namespace {

// A small table-driven codec rather than EVP_EncodeBlock/EVP_DecodeBlock: OpenSSL's decoder
// skips whitespace and always wants padding, and it has no URL-safe alphabet.
constexpr std::string_view standard_alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr std::string_view url_alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Maps a character to its 6-bit value, or -1 when it is not in the alphabet.
using DecodeTable = std::array<std::int8_t, 256>;

constexpr DecodeTable make_decode_table(std::string_view alphabet) {
    DecodeTable table{};
    table.fill(-1);
    for (std::size_t i = 0; i < alphabet.size(); ++i)
        table[static_cast<unsigned char>(alphabet[i])] = static_cast<std::int8_t>(i);
    return table;
}

constexpr DecodeTable standard_table = make_decode_table(standard_alphabet);
constexpr DecodeTable url_table = make_decode_table(url_alphabet);

std::uint32_t byte_at(std::string_view bytes, std::size_t i) {
    return static_cast<unsigned char>(bytes[i]);
}

std::string encode(std::string_view bytes, std::string_view alphabet, bool pad) {
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    std::size_t i = 0;
    for (; i + 3 <= bytes.size(); i += 3) {
        const std::uint32_t n =
            byte_at(bytes, i) << 16 | byte_at(bytes, i + 1) << 8 | byte_at(bytes, i + 2);
        out += alphabet[n >> 18 & 63];
        out += alphabet[n >> 12 & 63];
        out += alphabet[n >> 6 & 63];
        out += alphabet[n & 63];
    }
    const std::size_t rest = bytes.size() - i;
    if (rest == 0) return out;
    std::uint32_t n = byte_at(bytes, i) << 16;
    if (rest == 2) n |= byte_at(bytes, i + 1) << 8;
    out += alphabet[n >> 18 & 63];
    out += alphabet[n >> 12 & 63];
    if (rest == 2) out += alphabet[n >> 6 & 63];
    if (pad) out.append(3 - rest, '=');
    return out;
}

std::optional<std::string> decode_unpadded(std::string_view text, const DecodeTable& table) {
    // One leftover character carries only 6 bits: not even one byte.
    if (text.size() % 4 == 1) return std::nullopt;
    std::string out;
    out.reserve(text.size() / 4 * 3 + 2);
    std::uint32_t bits = 0;
    int bit_count = 0;
    for (const char c : text) {
        const int value = table[static_cast<unsigned char>(c)];
        if (value < 0) return std::nullopt;
        bits = (bits << 6 | static_cast<std::uint32_t>(value)) & 0xFFFFFF;
        bit_count += 6;
        if (bit_count >= 8) {
            bit_count -= 8;
            out += static_cast<char>(bits >> bit_count & 0xFF);
        }
    }
    return out;
}

}  // namespace

std::string base64_encode(std::string_view bytes) {
    return encode(bytes, standard_alphabet, true);
}

std::optional<std::string> base64_decode(std::string_view text) {
    std::size_t pad = 0;
    while (pad < 2 && pad < text.size() && text[text.size() - 1 - pad] == '=') ++pad;
    // Padding is all or nothing; a third '=' or one inside the text fails as a foreign character.
    if (pad > 0 && text.size() % 4 != 0) return std::nullopt;
    text.remove_suffix(pad);
    return decode_unpadded(text, standard_table);
}

std::string base64url_encode(std::string_view bytes) {
    return encode(bytes, url_alphabet, false);
}

std::optional<std::string> base64url_decode(std::string_view text) {
    return decode_unpadded(text, url_table);
}

}  // namespace kiva::auth
