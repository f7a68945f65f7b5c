#include "kiva/security/authorize.hpp"

#include <algorithm>

namespace kiva {

std::optional<AuthScheme> parse_auth_scheme(std::string_view name) {
    if (name == "basic") return AuthScheme::basic;
    if (name == "param") return AuthScheme::param;
    if (name == "token") return AuthScheme::token;
    if (name == "httpd") return AuthScheme::httpd;
    return std::nullopt;
}

Mode mode_of_method(std::string_view method) {
    if (method == "POST") return Mode::create;
    if (method == "PUT" || method == "PATCH") return Mode::update;
    if (method == "DELETE") return Mode::remove;
    return Mode::read;
}

std::string_view to_string(Mode mode) {
    switch (mode) {
        case Mode::read:
            return "read";
        case Mode::create:
            return "create";
        case Mode::update:
            return "update";
        case Mode::remove:
            return "delete";
    }
    return "?";
}

Authorize operator&(Authorize a, const Authorize& b) {
    using L = Authorize::Level;
    if (a.level_ == L::close || b.level_ == L::close)
        a.level_ = L::close;
    else
        a.level_ = std::max(a.level_, b.level_);
    a.groups_.insert(a.groups_.end(), b.groups_.begin(), b.groups_.end());
    a.objects_.insert(a.objects_.end(), b.objects_.begin(), b.objects_.end());
    if (!b.schemes_.empty()) a.schemes_ = b.schemes_;
    return a;
}

Authorize Authorize::via(std::vector<AuthScheme> schemes) const {
    Authorize a = *this;
    a.schemes_ = std::move(schemes);
    return a;
}

Authorize group(std::string name) {
    Authorize a(Authorize::Level::auth);
    a.groups_.push_back(std::move(name));
    return a;
}

Authorize permission(std::string domain, std::string param) {
    Authorize a(Authorize::Level::auth);
    a.objects_.push_back(ObjectRule{std::move(domain), std::move(param)});
    return a;
}

}  // namespace kiva
