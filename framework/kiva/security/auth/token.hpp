#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

/// Bearer tokens: issued after a password check, then presented instead of the password.
namespace kiva::auth {

/// A signing key: its id travels in the tokens it signs (empty: a key without id, whose
/// tokens carry none, as before keys had ids).
struct SigningKey {
    std::string id;
    std::string secret;
};
/// Oldest first: the last key signs, every key verifies the tokens carrying its id.
using KeySet = std::vector<SigningKey>;

/// What an authentic, unexpired token says.
struct VerifiedToken {
    std::string login;
    std::chrono::sys_seconds expiry;
};

/// Issues and checks signed, expiring tokens. Implementations are immutable after
/// construction, so one instance may be shared by all threads.
class TokenCodec {
  public:
    virtual ~TokenCodec() = default;

    /// A token for login valid until now + delay (truncated to the second).
    /// Throws std::invalid_argument for an empty login, one the format cannot carry (not
    /// UTF-8 for JWT) or one making the token longer than verify accepts (4096 bytes).
    virtual std::string create(std::string_view login,
                               std::chrono::system_clock::time_point now) const = 0;

    /// The login the token was issued to; throws AuthError("invalid token") or
    /// AuthError("expired token"). A token must be both authentic and well-formed before
    /// its expiry is even looked at.
    std::string verify(std::string_view token, std::chrono::system_clock::time_point now) const {
        return check(token, now).login;
    }
    /// The same, with the expiry (revocation needs it).
    virtual VerifiedToken check(std::string_view token,
                                std::chrono::system_clock::time_point now) const = 0;
};

/// FlaskSimpleAuth's format, "realm:login:YYYYMMDDHHMMSS:signature": the UTC expiry, then
/// the lowercase hex HMAC-SHA256 under secret of everything before the last colon.
/// A login may contain ':'. The token is valid while now <= expiry (inclusive).
/// Throws std::invalid_argument for an empty secret, an empty realm or one containing ':',
/// or a non-positive delay.
std::unique_ptr<TokenCodec> make_native_tokens(std::string secret, std::string realm,
                                               std::chrono::seconds delay);
/// The same with several keys: the last one signs, in the same format (no key id in the
/// token); verify tries each key, newest first. "realm:login:stamp:id.signature", issued by
/// kiva before 0.3.0 with a key id, still verifies with the key of that id.
std::unique_ptr<TokenCodec> make_native_tokens(KeySet keys, std::string realm,
                                               std::chrono::seconds delay);

/// JSON Web Tokens (RFC 7519) signed with HS256 only; the payload carries "sub" (login),
/// "iss" (realm), "iat" and "exp". On verify, any "alg" but HS256 is rejected, "sub" and an
/// integer "exp" are required, "iss" and "nbf" are checked when present, and the token is
/// valid while now < exp (RFC 7519 §4.1.4: expired "on or after").
/// Throws std::invalid_argument for an empty secret or realm or a non-positive delay.
std::unique_ptr<TokenCodec> make_jwt_tokens(std::string secret, std::string realm,
                                            std::chrono::seconds delay);
/// The same with several keys: a key with an id is named by the header's "kid".
std::unique_ptr<TokenCodec> make_jwt_tokens(KeySet keys, std::string realm,
                                            std::chrono::seconds delay);

}  // namespace kiva::auth
