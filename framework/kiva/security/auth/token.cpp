#include "kiva/security/auth/token.hpp"

#include "kiva/security/auth/auth_error.hpp"
#include "kiva/security/auth/base64.hpp"
#include "kiva/security/auth/crypto.hpp"
#include "kiva/security/auth/jwt_json.hpp"

#include <algorithm>
#include <optional>
#include <stdexcept>

namespace kiva::auth {
namespace {

using std::chrono::system_clock;
using sys_seconds = std::chrono::sys_seconds;

constexpr const char* invalid_token = "invalid token";
constexpr const char* expired_token = "expired token";

// Far longer than any token we issue, short enough that a hostile one costs little to reject.
constexpr std::size_t max_token_size = 4096;

void check_settings(std::string_view secret, std::string_view realm, std::chrono::seconds delay) {
    if (secret.empty()) throw std::invalid_argument("token secret must not be empty");
    if (realm.empty()) throw std::invalid_argument("token realm must not be empty");
    if (delay <= std::chrono::seconds::zero())
        throw std::invalid_argument("token delay must be positive");
}

void check_login(std::string_view login) {
    if (login.empty()) throw std::invalid_argument("token login must not be empty");
    if (login.size() > max_token_size) throw std::invalid_argument("token login too long");
}

void check_keys(const KeySet& keys, std::string_view realm, std::chrono::seconds delay) {
    if (keys.empty()) throw std::invalid_argument("token secret must not be empty");
    for (const auto& k : keys) check_settings(k.secret, realm, delay);
}

/// The key of that id, or nullptr.
const SigningKey* key_of(const KeySet& keys, std::string_view id) {
    for (const auto& k : keys)
        if (k.id == id) return &k;
    return nullptr;
}

/// Never issue a token that verify would refuse for its size.
std::string checked_size(std::string token) {
    if (token.size() > max_token_size) throw std::invalid_argument("token login too long");
    return token;
}

// ---- native (FlaskSimpleAuth) tokens ------------------------------------------------------

void append_digits(std::string& out, unsigned value, int width) {
    std::string digits(static_cast<std::size_t>(width), '0');
    for (int i = width - 1; i >= 0; --i, value /= 10)
        digits[i] = static_cast<char>('0' + value % 10);
    out += digits;
}

/// YYYYMMDDHHMMSS in UTC.
std::string format_timestamp(sys_seconds t) {
    const auto day = std::chrono::floor<std::chrono::days>(t);
    const std::chrono::year_month_day date{day};
    const std::chrono::hh_mm_ss time{t - day};
    const int year = static_cast<int>(date.year());
    if (year < 0 || year > 9999) throw std::out_of_range("token expiry out of range");
    std::string out;
    append_digits(out, static_cast<unsigned>(year), 4);
    append_digits(out, static_cast<unsigned>(date.month()), 2);
    append_digits(out, static_cast<unsigned>(date.day()), 2);
    append_digits(out, static_cast<unsigned>(time.hours().count()), 2);
    append_digits(out, static_cast<unsigned>(time.minutes().count()), 2);
    append_digits(out, static_cast<unsigned>(time.seconds().count()), 2);
    return out;
}

/// The time of a YYYYMMDDHHMMSS stamp, or nullopt unless it is 14 digits of a real UTC date
/// and time (no month 13, no February 30, no leap second).
std::optional<sys_seconds> parse_timestamp(std::string_view stamp) {
    if (stamp.size() != 14 ||
        !std::all_of(stamp.begin(), stamp.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return std::nullopt;
    const auto number = [stamp](std::size_t position, std::size_t width) {
        unsigned value = 0;
        for (std::size_t i = position; i < position + width; ++i)
            value = value * 10 + static_cast<unsigned>(stamp[i] - '0');
        return value;
    };
    const std::chrono::year_month_day date{std::chrono::year{static_cast<int>(number(0, 4))},
                                           std::chrono::month{number(4, 2)},
                                           std::chrono::day{number(6, 2)}};
    const unsigned hh = number(8, 2), mm = number(10, 2), ss = number(12, 2);
    if (!date.ok() || hh > 23 || mm > 59 || ss > 59) return std::nullopt;
    return std::chrono::sys_days{date} + std::chrono::hours{hh} + std::chrono::minutes{mm} +
           std::chrono::seconds{ss};
}

class NativeTokens final : public TokenCodec {
  public:
    NativeTokens(KeySet keys, std::string realm, std::chrono::seconds delay)
        : keys_(std::move(keys)), realm_(std::move(realm)), delay_(delay) {
        check_keys(keys_, realm_, delay_);
        // The realm ends at the first colon of a token.
        if (realm_.find(':') != std::string::npos)
            throw std::invalid_argument("native token realm must not contain ':'");
    }

    std::string create(std::string_view login, system_clock::time_point now) const override {
        check_login(login);
        const auto expiry = std::chrono::floor<std::chrono::seconds>(now) + delay_;
        std::string data = realm_;
        data += ':';
        data += login;
        data += ':';
        data += format_timestamp(expiry);
        const SigningKey& key = keys_.back();
        // The course's format whatever the key: the id stays out of the token, verify tries
        // each key of the set (newest first).
        const std::string signature = to_hex(hmac_sha256(key.secret, data));
        data += ':';
        data += signature;
        return checked_size(std::move(data));
    }

    VerifiedToken check(std::string_view token, system_clock::time_point now) const override {
        if (token.size() > max_token_size) throw AuthError(invalid_token);
        // realm ':' login ':' stamp ':' signature, where only the login may hold colons.
        const auto first = token.find(':');
        const auto last = token.rfind(':');
        if (first == std::string_view::npos || last == first) throw AuthError(invalid_token);
        const auto middle = token.rfind(':', last - 1);
        if (middle == first) throw AuthError(invalid_token);
        const auto realm = token.substr(0, first);
        const auto login = token.substr(first + 1, middle - first - 1);
        const auto stamp = token.substr(middle + 1, last - middle - 1);
        auto signature = token.substr(last + 1);
        if (realm != realm_ || login.empty()) throw AuthError(invalid_token);
        // A bare signature (the course's format, issued since 0.3.0) may be any key's: each
        // is tried, newest first. "id.hex" (issued before 0.3.0 by a key with an id) names
        // its key and is accepted until it expires.
        if (const auto dot = signature.find('.'); dot != std::string_view::npos) {
            const std::string_view id = signature.substr(0, dot);
            signature.remove_prefix(dot + 1);
            const SigningKey* key = id.empty() ? nullptr : key_of(keys_, id);
            if (key == nullptr) throw AuthError(invalid_token);
            const std::string expected = to_hex(hmac_sha256(key->secret, token.substr(0, last)));
            if (!constant_time_equal(signature, expected)) throw AuthError(invalid_token);
        } else {
            bool authentic = false;
            for (auto key = keys_.rbegin(); key != keys_.rend() && !authentic; ++key)
                authentic = constant_time_equal(
                    signature, to_hex(hmac_sha256(key->secret, token.substr(0, last))));
            if (!authentic) throw AuthError(invalid_token);
        }
        // Only now, with an authentic token, does its expiry mean anything.
        const auto expiry = parse_timestamp(stamp);
        if (!expiry) throw AuthError(invalid_token);
        // now <= expiry, compared at full precision: ceil(now) > expiry iff now > expiry since
        // expiry is a whole second (and sys_seconds cannot overflow as nanoseconds would).
        if (std::chrono::ceil<std::chrono::seconds>(now) > *expiry) throw AuthError(expired_token);
        return {std::string(login), *expiry};
    }

  private:
    KeySet keys_;
    std::string realm_;
    std::chrono::seconds delay_;
};

// ---- JSON Web Tokens ------------------------------------------------------------------------

// The only header we issue: its encoding is a constant.
constexpr std::string_view jwt_header = R"({"alg":"HS256","typ":"JWT"})";

/// The member called name when it has that kind, else nullptr.
const JsonMember* find_member(const JsonObject& object, std::string_view name,
                              JsonMember::Kind kind) {
    const auto member = object.find(name);
    return member != object.end() && member->second.kind == kind ? &member->second : nullptr;
}

/// The JSON object encoded in base64url, or nullopt.
std::optional<JsonObject> decode_object(std::string_view encoded) {
    auto json = base64url_decode(encoded);
    if (!json) return std::nullopt;
    return parse_json_object(std::move(*json));
}

class JwtTokens final : public TokenCodec {
  public:
    JwtTokens(KeySet keys, std::string realm, std::chrono::seconds delay)
        : keys_(std::move(keys)), realm_(std::move(realm)), delay_(delay) {
        check_keys(keys_, realm_, delay_);
        const std::string& id = keys_.back().id;
        try {
            encoded_header_ = base64url_encode(
                id.empty() ? std::string(jwt_header)
                           : R"({"alg":"HS256","typ":"JWT","kid":)" + json_string(id) + "}");
        } catch (const std::invalid_argument&) {
            throw std::invalid_argument("token key id is not valid UTF-8");
        }
        try {
            quoted_realm_ = json_string(realm_);
        } catch (const std::invalid_argument&) {
            throw std::invalid_argument("token realm is not valid UTF-8");
        }
    }

    std::string create(std::string_view login, system_clock::time_point now) const override {
        check_login(login);
        const auto issued_at = std::chrono::floor<std::chrono::seconds>(now);
        const auto expiry = issued_at + delay_;
        // RapidJSON escapes the login; the rest of the payload is ours.
        std::string payload = R"({"sub":)";
        try {
            payload += json_string(login);
        } catch (const std::invalid_argument&) {
            throw std::invalid_argument("token login is not valid UTF-8");
        }
        payload += R"(,"iss":)" + quoted_realm_;
        payload += R"(,"iat":)" + std::to_string(issued_at.time_since_epoch().count());
        payload += R"(,"exp":)" + std::to_string(expiry.time_since_epoch().count()) + '}';
        std::string signing_input = encoded_header_ + '.' + base64url_encode(payload);
        const std::string signature =
            base64url_encode(hmac_sha256(keys_.back().secret, signing_input));
        return checked_size(signing_input + '.' + signature);
    }

    VerifiedToken check(std::string_view token, system_clock::time_point now) const override {
        using Kind = JsonMember::Kind;
        if (token.size() > max_token_size) throw AuthError(invalid_token);
        const auto dot1 = token.find('.');
        if (dot1 == std::string_view::npos) throw AuthError(invalid_token);
        const auto dot2 = token.find('.', dot1 + 1);
        if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos)
            throw AuthError(invalid_token);

        // The header says how it is signed: anything but HS256 ("none" first) is refused.
        const auto header = decode_object(token.substr(0, dot1));
        if (!header) throw AuthError(invalid_token);
        const auto* alg = find_member(*header, "alg", Kind::string);
        if (alg == nullptr || alg->text != "HS256") throw AuthError(invalid_token);
        // "crit" lists extensions we would have to understand: we understand none.
        if (header->contains("crit")) throw AuthError(invalid_token);
        // "kid" names the key; none: the key without id.
        std::string_view id;
        if (header->contains("kid")) {
            const auto* kid = find_member(*header, "kid", Kind::string);
            if (kid == nullptr || kid->text.empty()) throw AuthError(invalid_token);
            id = kid->text;
        }
        const SigningKey* key = key_of(keys_, id);
        if (key == nullptr) throw AuthError(invalid_token);

        // Comparing the encoded signatures also refuses non-canonical base64url.
        const std::string expected =
            base64url_encode(hmac_sha256(key->secret, token.substr(0, dot2)));
        if (!constant_time_equal(token.substr(dot2 + 1), expected)) throw AuthError(invalid_token);

        const auto claims = decode_object(token.substr(dot1 + 1, dot2 - dot1 - 1));
        if (!claims) throw AuthError(invalid_token);
        const auto* sub = find_member(*claims, "sub", Kind::string);
        const auto* exp = find_member(*claims, "exp", Kind::integer);
        if (sub == nullptr || sub->text.empty() || exp == nullptr) throw AuthError(invalid_token);
        if (claims->contains("iss")) {
            const auto* iss = find_member(*claims, "iss", Kind::string);
            if (iss == nullptr || iss->text != realm_) throw AuthError(invalid_token);
        }
        // Whole seconds: floor(now) >= exp iff now >= exp, and no overflow to nanoseconds.
        const auto seconds_now =
            std::chrono::floor<std::chrono::seconds>(now).time_since_epoch().count();
        if (claims->contains("nbf")) {
            const auto* nbf = find_member(*claims, "nbf", Kind::integer);
            if (nbf == nullptr || seconds_now < nbf->integer) throw AuthError(invalid_token);
        }
        if (seconds_now >= exp->integer) throw AuthError(expired_token);
        return {sub->text, std::chrono::sys_seconds{std::chrono::seconds{exp->integer}}};
    }

  private:
    KeySet keys_;
    std::string realm_;
    std::chrono::seconds delay_;
    std::string encoded_header_;
    std::string quoted_realm_;
};

}  // namespace

std::unique_ptr<TokenCodec> make_native_tokens(KeySet keys, std::string realm,
                                               std::chrono::seconds delay) {
    return std::make_unique<NativeTokens>(std::move(keys), std::move(realm), delay);
}

std::unique_ptr<TokenCodec> make_native_tokens(std::string secret, std::string realm,
                                               std::chrono::seconds delay) {
    return make_native_tokens(KeySet{{"", std::move(secret)}}, std::move(realm), delay);
}

std::unique_ptr<TokenCodec> make_jwt_tokens(KeySet keys, std::string realm,
                                            std::chrono::seconds delay) {
    return std::make_unique<JwtTokens>(std::move(keys), std::move(realm), delay);
}

std::unique_ptr<TokenCodec> make_jwt_tokens(std::string secret, std::string realm,
                                            std::chrono::seconds delay) {
    return make_jwt_tokens(KeySet{{"", std::move(secret)}}, std::move(realm), delay);
}

}  // namespace kiva::auth
