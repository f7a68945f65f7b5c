#include "kiva/security/auth/password.hpp"

#include "kiva/security/auth/crypto.hpp"

#include <crypt.h>
#include <openssl/crypto.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <stdexcept>

namespace kiva::auth {
namespace {

constexpr std::size_t bcrypt_salt_bytes = 16;
constexpr std::size_t bcrypt_hash_size = 60;  // "$2b$" "NN$" 22 salt + 31 digest characters

/// crypt_data is 32 KiB, too big for a thread's stack: one on the heap per call, zeroed as
/// libxcrypt asks, and wiped on release because its input field holds the password.
struct CryptDataDeleter {
    void operator()(crypt_data* data) const noexcept {
        OPENSSL_cleanse(data, sizeof *data);
        delete data;
    }
};
using CryptData = std::unique_ptr<crypt_data, CryptDataDeleter>;

CryptData make_crypt_data() {
    return CryptData(new crypt_data{});
}

/// Copies s as a C string into a fixed buffer; false when it does not fit or holds a NUL
/// (which would silently cut the password short).
template <std::size_t N>
bool copy_c_string(std::string_view s, char (&buffer)[N]) {
    if (s.size() >= N || s.find('\0') != std::string_view::npos) return false;
    std::memcpy(buffer, s.data(), s.size());
    buffer[s.size()] = '\0';
    return true;
}

/// Shape of "$2a$NN$" + 53 characters of bcrypt's base64, NN within 04..31.
bool is_bcrypt_hash(std::string_view hash) {
    if (hash.size() != bcrypt_hash_size) return false;
    const auto prefix = hash.substr(0, 4);
    if (prefix != "$2a$" && prefix != "$2b$" && prefix != "$2y$") return false;
    const auto digit = [](char c) { return c >= '0' && c <= '9'; };
    if (!digit(hash[4]) || !digit(hash[5]) || hash[6] != '$') return false;
    const int cost = (hash[4] - '0') * 10 + (hash[5] - '0');
    if (cost < 4 || cost > 31) return false;
    return std::all_of(hash.begin() + 7, hash.end(), [](char c) {
        return c == '.' || c == '/' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
               (c >= '0' && c <= '9');
    });
}

/// crypt_rn over the input and setting already stored in data; nullptr on failure.
const char* run_crypt(crypt_data& data) {
    const char* result = crypt_rn(data.input, data.setting, &data, sizeof data);
    // crypt_rn reports failure with nullptr, but crypt_r's "*0"/"*1" tokens cost nothing to
    // rule out as well.
    return result == nullptr || result[0] == '*' ? nullptr : result;
}

}  // namespace

std::string hash_password(std::string_view password, int cost) {
    if (cost < 4 || cost > 31) throw std::invalid_argument("bcrypt cost must be within 4..31");
    const CryptData data = make_crypt_data();
    if (!copy_c_string(password, data->input))
        throw std::invalid_argument("password longer than 511 bytes or containing NUL");
    // The salt comes from RAND_bytes rather than libxcrypt's own OS source (rbytes == NULL),
    // so that every secret here has one origin and a failing generator throws.
    const std::string salt = random_bytes(bcrypt_salt_bytes);
    if (crypt_gensalt_rn("$2b$", static_cast<unsigned long>(cost), salt.data(),
                         static_cast<int>(salt.size()), data->setting,
                         sizeof data->setting) == nullptr)
        throw std::runtime_error("crypt_gensalt_rn failed");
    const char* hash = run_crypt(*data);
    if (hash == nullptr) throw std::runtime_error("bcrypt hashing failed");
    return hash;
}

bool verify_password(std::string_view password, std::string_view hash) {
    // Checking the shape ourselves keeps out whatever else libxcrypt would accept
    // ($2x$, DES, SHA-crypt, ...).
    if (!is_bcrypt_hash(hash)) return false;
    const CryptData data = make_crypt_data();
    if (!copy_c_string(password, data->input) || !copy_c_string(hash, data->setting)) return false;
    const char* computed = run_crypt(*data);
    return computed != nullptr && constant_time_equal(computed, hash);
}

}  // namespace kiva::auth
