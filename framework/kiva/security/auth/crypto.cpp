#include "kiva/security/auth/crypto.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <climits>
#include <stdexcept>

namespace kiva::auth {
namespace {

constexpr std::size_t sha256_size = 32;

// OpenSSL may treat a null pointer as "no key / no data" even with a zero length, and an
// empty string_view may well have a null data(): always hand it a real address.
const unsigned char* bytes_of(std::string_view s) {
    static constexpr unsigned char empty = 0;
    return s.empty() ? &empty : reinterpret_cast<const unsigned char*>(s.data());
}

unsigned char* bytes_of(std::string& s) {
    return reinterpret_cast<unsigned char*>(s.data());
}

}  // namespace

std::string hmac_sha256(std::string_view key, std::string_view data) {
    if (key.size() > INT_MAX) throw std::length_error("HMAC key too long");
    std::string mac(sha256_size, '\0');
    unsigned int length = 0;
    // The one-shot HMAC() owns and frees its context: there is nothing for us to leak.
    if (HMAC(EVP_sha256(), bytes_of(key), static_cast<int>(key.size()), bytes_of(data), data.size(),
             bytes_of(mac), &length) == nullptr ||
        length != sha256_size)
        throw std::runtime_error("HMAC-SHA256 failed");
    return mac;
}

std::string sha256(std::string_view data) {
    std::string digest(sha256_size, '\0');
    unsigned int length = 0;
    if (EVP_Digest(bytes_of(data), data.size(), bytes_of(digest), &length, EVP_sha256(), nullptr) !=
            1 ||
        length != sha256_size)
        throw std::runtime_error("SHA-256 failed");
    return digest;
}

std::string to_hex(std::string_view bytes) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string hex;
    hex.reserve(bytes.size() * 2);
    for (const char c : bytes) {
        const auto byte = static_cast<unsigned char>(c);
        hex += digits[byte >> 4];
        hex += digits[byte & 0x0F];
    }
    return hex;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    return CRYPTO_memcmp(bytes_of(a), bytes_of(b), a.size()) == 0;
}

std::string random_bytes(std::size_t n) {
    if (n > INT_MAX) throw std::length_error("too many random bytes requested");
    std::string bytes(n, '\0');
    if (n > 0 && RAND_bytes(bytes_of(bytes), static_cast<int>(n)) != 1)
        throw std::runtime_error("the random generator failed");
    return bytes;
}

}  // namespace kiva::auth
