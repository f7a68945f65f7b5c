#include "kiva/security/argon2id.hpp"

#include <argon2.h>
#include <openssl/crypto.h>

#include <charconv>
#include <stdexcept>
#include <vector>

#include "kiva/security/auth/crypto.hpp"

namespace kiva::security {

namespace {

constexpr std::size_t salt_bytes = 16, digest_bytes = 32, max_password = 1024, max_hash = 256;
constexpr std::string_view prefix = "$argon2id$v=19$";

bool acceptable(std::string_view password) {
    return password.size() <= max_password && password.find('\0') == std::string_view::npos;
}

/// "m=19456,t=2,p=1" -> the three numbers, in that order only.
std::optional<Argon2Params> parse_params(std::string_view text) {
    Argon2Params p;
    unsigned* fields[] = {&p.memory_kib, &p.passes, &p.lanes};
    const char names[] = {'m', 't', 'p'};
    for (int i = 0; i < 3; ++i) {
        if (text.size() < 2 || text[0] != names[i] || text[1] != '=') return std::nullopt;
        text.remove_prefix(2);
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *fields[i]);
        if (ec != std::errc{} || end == text.data()) return std::nullopt;
        text.remove_prefix(static_cast<std::size_t>(end - text.data()));
        if (i < 2) {
            if (text.empty() || text[0] != ',') return std::nullopt;
            text.remove_prefix(1);
        }
    }
    if (!text.empty()) return std::nullopt;
    return p;
}

}  // namespace

std::string argon2id_hash(std::string_view password, const Argon2Params& params) {
    if (!acceptable(password))
        throw std::invalid_argument("password longer than 1024 bytes or containing NUL");
    const std::string salt = auth::random_bytes(salt_bytes);
    const std::size_t size = argon2_encodedlen(params.passes, params.memory_kib, params.lanes,
                                               salt_bytes, digest_bytes, Argon2_id);
    std::vector<char> encoded(size);
    int rc = argon2id_hash_encoded(params.passes, params.memory_kib, params.lanes,
                                   password.data(), password.size(), salt.data(), salt.size(),
                                   digest_bytes, encoded.data(), encoded.size());
    if (rc != ARGON2_OK)
        throw std::runtime_error(std::string("argon2id hashing failed: ") + argon2_error_message(rc));
    return std::string(encoded.data());
}

bool argon2id_verify(std::string_view password, std::string_view hash) {
    if (!acceptable(password) || hash.size() > max_hash || !argon2id_params(hash)) return false;
    const std::string encoded(hash);  // NUL-terminated for libargon2
    // argon2id_verify recomputes and compares in constant time.
    return ::argon2id_verify(encoded.c_str(), password.data(), password.size()) == ARGON2_OK;
}

std::optional<Argon2Params> argon2id_params(std::string_view hash) {
    if (hash.substr(0, prefix.size()) != prefix) return std::nullopt;
    hash.remove_prefix(prefix.size());
    const auto dollar = hash.find('$');
    if (dollar == std::string_view::npos) return std::nullopt;
    return parse_params(hash.substr(0, dollar));
}

}  // namespace kiva::security
