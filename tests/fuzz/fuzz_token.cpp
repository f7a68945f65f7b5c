// libFuzzer target: both token codecs' verify on arbitrary bytes must return a non-empty
// login or throw AuthError, nothing else. The bytes are also used as JSON to sign (so that
// the claims checks behind the signature are reached) and as a login to round-trip.

#include "kiva/security/auth/auth_error.hpp"
#include "kiva/security/auth/base64.hpp"
#include "kiva/security/auth/crypto.hpp"
#include "kiva/security/auth/jwt_json.hpp"
#include "kiva/security/auth/token.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>

namespace {

using namespace std::chrono_literals;
using namespace kiva::auth;

const std::string secret = "fuzzing-secret-0123456789";
const std::chrono::system_clock::time_point now = std::chrono::sys_days{2024y / 1 / 2} + 3h;

/// verify must give a non-empty login or throw AuthError.
void check_verify(const TokenCodec& codec, std::string_view token) {
    try {
        if (codec.verify(token, now).empty()) std::abort();
    } catch (const AuthError&) {
    }
}

/// A token made by hand from two JSON texts, signed with the fuzzing secret.
std::string signed_jwt(std::string_view header, std::string_view payload) {
    const std::string input = base64url_encode(header) + '.' + base64url_encode(payload);
    return input + '.' + base64url_encode(hmac_sha256(secret, input));
}

/// create then verify must give the login back, unless create refuses it.
void check_roundtrip(const TokenCodec& codec, std::string_view login) {
    std::string token;
    try {
        token = codec.create(login, now);
    } catch (const std::invalid_argument&) {
        return;  // empty, too long, or not UTF-8 for JWT
    }
    if (codec.verify(token, now) != login) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const auto native = make_native_tokens(secret, "kiva", 3600s);
    static const auto jwt = make_jwt_tokens(secret, "kiva", 3600s);
    const std::string_view input(reinterpret_cast<const char*>(data), size);

    check_verify(*native, input);
    check_verify(*jwt, input);

    (void)parse_json_object(std::string(input));
    const auto newline = input.find('\n');
    if (newline != std::string_view::npos)
        check_verify(*jwt, signed_jwt(input.substr(0, newline), input.substr(newline + 1)));
    else
        check_verify(*jwt, signed_jwt(R"({"alg":"HS256"})", input));

    check_roundtrip(*native, input);
    check_roundtrip(*jwt, input);
    return 0;
}
