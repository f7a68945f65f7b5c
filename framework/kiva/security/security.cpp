#include "kiva/security/security.hpp"

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "kiva/security/auth/crypto.hpp"
#include "kiva/http/http_error.hpp"
#include "kiva/security/auth/password.hpp"

#include <openssl/crypto.h>

namespace kiva {

namespace {

std::string read_secret(const Config& config) {
    std::string secret;
    if (!config.token_secret_file.empty()) {
        std::string path = resolve_path(config, config.token_secret_file);
        std::ifstream in(path);
        if (!in) throw std::runtime_error("cannot read token_secret_file " + path);
        std::stringstream text;
        text << in.rdbuf();
        secret = text.str();
    } else if (!config.token_secret_env.empty()) {
        const char* value = std::getenv(config.token_secret_env.c_str());
        if (!value)
            throw std::runtime_error("environment variable " + config.token_secret_env +
                                     " (token_secret_env) is not set");
        secret = value;
    }
    return secret;
}

bool valid_key_id(std::string_view id) {
    if (id.empty() || id.size() > 32) return false;
    for (unsigned char ch : id)
        if (!std::isalnum(ch) && ch != '-' && ch != '_') return false;
    return true;
}

}  // namespace

auth::KeySet parse_token_keys(std::string_view text) {
    auth::KeySet keys;
    std::istringstream lines{std::string(text)};
    std::string line;
    while (std::getline(lines, line)) {
        std::istringstream fields(line);
        std::string first, second, extra;
        fields >> first >> second >> extra;
        if (first.empty() || first[0] == '#') continue;
        if (!extra.empty())
            throw std::runtime_error("token secret line with more than a key id and a secret");
        auth::SigningKey key = second.empty() ? auth::SigningKey{"", first}
                                              : auth::SigningKey{first, second};
        if (!key.id.empty() && !valid_key_id(key.id))
            throw std::runtime_error("token key id \"" + key.id +
                                     "\": 1 to 32 letters, digits, - or _");
        for (const auto& k : keys)
            if (k.id == key.id)
                throw std::runtime_error(key.id.empty() ? "more than one token secret without id"
                                                        : "token key id \"" + key.id +
                                                              "\" appears twice");
        if (key.secret.size() < 16)
            throw std::runtime_error("the token secret is too short (at least 16 characters)");
        keys.push_back(std::move(key));
    }
    return keys;
}


Security::Security(const Config& config, const Logger& log)
    : realm_(config.realm.empty() ? config.app_name : config.realm),
      password_cost_(config.password_cost),
      argon2_(config.password_scheme == "argon2id"),
      argon2_params_{config.argon2_memory_kib, config.argon2_passes, config.argon2_lanes},
      password_min_length_(config.password_min_length),
      password_regex_text_(config.password_regex),
      token_delay_(config.token_delay),
      shared_state_(config.auth_state),
      cache_(std::make_unique<auth::PasswordCache>(config.password_cache_ttl)),
      password_cache_ttl_(config.password_cache_ttl),
      throttle_(config),
      carrier_(config) {
    if (!password_regex_text_.empty()) {
        try {
            password_regex_.emplace(password_regex_text_, std::regex::ECMAScript);
        } catch (const std::regex_error& e) {
            throw std::runtime_error("password_regex is not a valid regular expression: " +
                                     std::string(e.what()));
        }
    }
    for (const auto& name : config.auth) {
        auto scheme = parse_auth_scheme(name);
        if (!scheme) throw std::runtime_error("unknown authentication scheme " + name);
        default_schemes_.push_back(*scheme);
    }
    auth::KeySet keys = parse_token_keys(read_secret(config));
    if (keys.empty()) {
        if (!config.test_mode)
            throw std::runtime_error(
                "no token secret: set token_secret_file or token_secret_env "
                "(or test_mode = true for tests only)");
        log.warning(
            "test mode: using a random token secret, tokens are valid in this process only");
        keys.push_back({"", auth::to_hex(auth::random_bytes(32))});
    }
    // The shared cache's password hashes are keyed by the newest signing key: the same on
    // every host of the instance, and nowhere in Redis.
    std::string cache_key = auth::hmac_sha256(keys.back().secret, "kiva shared password cache");
    shared_cache_ = cache::make_shared_cache(config, realm_, cache_key, log);
    if (shared_state_ && config.revocation_cache.count() > 0)
        revocations_ = std::make_unique<RevocationCache>(config.revocation_cache,
                                                         config.revocation_channel_check);
    OPENSSL_cleanse(cache_key.data(), cache_key.size());
    if (config.token_type == "jwt")
        tokens_ = auth::make_jwt_tokens(std::move(keys), realm_, config.token_delay);
    else
        tokens_ = auth::make_native_tokens(std::move(keys), realm_, config.token_delay);
}

std::string Security::create_token(std::string_view login) const {
    return tokens_->create(login, std::chrono::system_clock::now());
}

std::string Security::verify_token(std::string_view token) const {
    return tokens_->verify(token, std::chrono::system_clock::now());
}

auth::VerifiedToken Security::check_token(std::string_view token) const {
    return tokens_->check(token, std::chrono::system_clock::now());
}

const std::string& Security::decoy_hash() const {
    std::call_once(decoy_->made,
                   [this] { decoy_->hash = hash_password(auth::to_hex(auth::random_bytes(16))); });
    return decoy_->hash;
}

std::string Security::hash_password(std::string_view password) const {
    if (argon2_) return security::argon2id_hash(password, argon2_params_);
    return auth::hash_password(password, password_cost_);
}

bool Security::verify_password(std::string_view password, std::string_view hash) const {
    if (hash.substr(0, 10) == "$argon2id$") return security::argon2id_verify(password, hash);
    return auth::verify_password(password, hash);
}

bool Security::needs_rehash(std::string_view hash) const {
    if (auto p = security::argon2id_params(hash)) {
        if (!argon2_) return true;
        return p->memory_kib < argon2_params_.memory_kib || p->passes < argon2_params_.passes ||
               p->lanes < argon2_params_.lanes;
    }
    if (argon2_) return true;
    // "$2b$NN$...": NN is the cost.
    if (hash.size() < 7 || hash[0] != '$' || hash[3] != '$') return true;
    const int cost = (hash[4] - '0') * 10 + (hash[5] - '0');
    return hash.substr(0, 4) != "$2b$" || cost < password_cost_;
}

void Security::check_new_password(std::string_view password) const {
    // Characters, not bytes: UTF-8 continuation bytes do not count.
    std::size_t characters = 0;
    for (unsigned char ch : password) characters += (ch & 0xC0) != 0x80;
    if (characters < password_min_length_)
        throw HttpError(400, "password must have at least " + std::to_string(password_min_length_) +
                                 " characters");
    if (!argon2_ && password.size() > 72)
        throw HttpError(400, "password must have at most 72 bytes (bcrypt)");
    if (argon2_ && password.size() > 1024)
        throw HttpError(400, "password must have at most 1024 bytes");
    if (password.find('\0') != std::string_view::npos)
        throw HttpError(400, "password must not contain NUL");
    if (password_regex_ &&
        !std::regex_search(std::string(password), *password_regex_))
        throw HttpError(400, "password must match " + password_regex_text_);
}

std::string Security::challenge(const std::vector<AuthScheme>& schemes) const {
    std::string out;
    auto add = [&](const char* scheme) {
        if (!out.empty()) out += ", ";
        out += scheme;
        out += " realm=\"" + realm_ + "\"";
    };
    for (auto s : schemes)
        if (s == AuthScheme::basic) add("Basic");
    for (auto s : schemes)
        if (s == AuthScheme::token) add("Bearer");
    return out;
}

}  // namespace kiva
