#pragma once
/// @file
/// Authorize: what a route requires, declared with the route (FlaskSimpleAuth's authorize=).
///
///     OPEN                       anyone; credentials are still checked when sent
///     AUTH                       any authenticated user
///     group("ADMIN")             an authenticated member of the group
///     permission("owned", "oid") the object permission callback says yes for parameter oid
///     (nothing declared)         CLOSE: 403 for everyone
///
/// Conditions combine with `&` and must all hold; `.via(...)` overrides the schemes.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kiva {

enum class AuthScheme { basic, param, token, httpd };
std::optional<AuthScheme> parse_auth_scheme(std::string_view name);

/// What a request does to an object, from its method, for object permission callbacks.
enum class Mode { read, create, update, remove };
Mode mode_of_method(std::string_view method);
std::string_view to_string(Mode mode);

struct ObjectRule {
    std::string domain;  ///< the name the permission callback is registered under
    std::string param;   ///< the (integer) parameter holding the object id
};

class Authorize {
  public:
    enum class Level { undeclared, open, auth, close };

    Authorize() = default;
    explicit Authorize(Level level) : level_(level) {}

    Level level() const { return level_; }
    const std::vector<std::string>& groups() const { return groups_; }
    const std::vector<ObjectRule>& objects() const { return objects_; }
    /// Schemes accepted by this route; empty: the configured default.
    const std::vector<AuthScheme>& schemes() const { return schemes_; }
    /// True when the route is closed (declared CLOSE, or declared nothing).
    bool closed() const { return level_ == Level::undeclared || level_ == Level::close; }

    /// Both conditions (CLOSE wins; a group or object implies AUTH).
    friend Authorize operator&(Authorize a, const Authorize& b);
    /// The same conditions with other authentication schemes: `AUTH.via({AuthScheme::token})`.
    Authorize via(std::vector<AuthScheme> schemes) const;

    friend Authorize group(std::string name);
    friend Authorize permission(std::string domain, std::string param);

  private:
    Level level_ = Level::undeclared;
    std::vector<std::string> groups_;
    std::vector<ObjectRule> objects_;
    std::vector<AuthScheme> schemes_;
};

inline const Authorize OPEN{Authorize::Level::open};
inline const Authorize AUTH{Authorize::Level::auth};
inline const Authorize CLOSE{Authorize::Level::close};
/// Members of a group, as the application's group callback says.
Authorize group(std::string name);
/// The object permission callback `domain` decides for the object whose id is parameter `param`.
Authorize permission(std::string domain, std::string param);

/// The first authorization step as a pure decision (after authentication, before parameters).
enum class Access { allow, unauthenticated, closed, not_in_group };
struct AccessDecision {
    Access access;
    std::string group;  ///< the group that failed, for not_in_group
};
template <typename InGroup>
AccessDecision decide_access(const Authorize& a, bool authenticated, InGroup&& in_group) {
    if (a.closed()) return {Access::closed, {}};
    if (a.level() == Authorize::Level::open) return {Access::allow, {}};
    if (!authenticated) return {Access::unauthenticated, {}};
    for (const auto& g : a.groups())
        if (!in_group(g)) return {Access::not_in_group, g};
    return {Access::allow, {}};
}

}  // namespace kiva
