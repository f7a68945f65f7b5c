#include "kiva/http/cursor.hpp"

#include <openssl/sha.h>

namespace kiva::cursor {

namespace {

constexpr char hex[] = "0123456789abcdef";

std::string check_of(std::string_view body) {
    std::string text = "kiva-cursor:";
    text.append(body);
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
    std::string out;
    for (int i = 0; i < 8; ++i) {
        out.push_back(hex[digest[i] >> 4]);
        out.push_back(hex[digest[i] & 0xf]);
    }
    return out;
}

int digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

}  // namespace

std::string seal(int64_t key) {
    auto u = static_cast<uint64_t>(key);
    std::string body = "c1";
    for (int shift = 60; shift >= 0; shift -= 4) body.push_back(hex[(u >> shift) & 0xf]);
    body.append(check_of(body));
    return body;
}

std::optional<int64_t> open(std::string_view cursor) {
    if (cursor.size() != 34 || cursor.substr(0, 2) != "c1") return std::nullopt;
    uint64_t u = 0;
    for (char c : cursor.substr(2, 16)) {
        int d = digit(c);
        if (d < 0) return std::nullopt;
        u = (u << 4) | static_cast<uint64_t>(d);
    }
    if (check_of(cursor.substr(0, 18)) != cursor.substr(18)) return std::nullopt;
    return static_cast<int64_t>(u);
}

}  // namespace kiva::cursor
