#include "framework/security/security.hpp"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "framework/security/auth/crypto.hpp"
#include "framework/security/auth/password.hpp"

namespace kiva {

namespace {

std::string read_secret(const Config& config, const Logger& log) {
    std::string secret;
    if (!config.token_secret_file.empty()) {
        std::string path = resolve_path(config, config.token_secret_file);
        std::ifstream in(path);
        if (!in) throw std::runtime_error("cannot read token_secret_file " + path);
        std::stringstream text;
        text << in.rdbuf();
        secret = text.str();
        while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r'))
            secret.pop_back();
    } else if (!config.token_secret_env.empty()) {
        const char* value = std::getenv(config.token_secret_env.c_str());
        if (!value)
            throw std::runtime_error("environment variable " + config.token_secret_env +
                                     " (token_secret_env) is not set");
        secret = value;
    }
    if (secret.empty()) {
        if (!config.test_mode)
            throw std::runtime_error(
                "no token secret: set token_secret_file or token_secret_env "
                "(or test_mode = true for tests only)");
        log.warning(
            "test mode: using a random token secret, tokens are valid in this process only");
        return auth::to_hex(auth::random_bytes(32));
    }
    if (secret.size() < 16)
        throw std::runtime_error("the token secret is too short (at least 16 characters)");
    return secret;
}

}  // namespace

Security::Security(const Config& config, const Logger& log)
    : realm_(config.realm.empty() ? config.app_name : config.realm),
      password_cost_(config.password_cost),
      token_delay_(config.token_delay),
      shared_state_(config.auth_state),
      cache_(std::make_unique<auth::PasswordCache>(config.password_cache_ttl)),
      throttle_(config),
      decoy_hash_(auth::hash_password(auth::to_hex(auth::random_bytes(16)), password_cost_)) {
    for (const auto& name : config.auth) {
        auto scheme = parse_auth_scheme(name);
        if (!scheme) throw std::runtime_error("unknown authentication scheme " + name);
        default_schemes_.push_back(*scheme);
    }
    std::string secret = read_secret(config, log);
    if (config.token_type == "jwt")
        tokens_ = auth::make_jwt_tokens(secret, realm_, config.token_delay);
    else
        tokens_ = auth::make_native_tokens(secret, realm_, config.token_delay);
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

std::string Security::hash_password(std::string_view password) const {
    return auth::hash_password(password, password_cost_);
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
