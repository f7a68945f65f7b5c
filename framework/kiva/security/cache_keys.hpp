#pragma once
/// @file
/// Keys: the names of the shared cache's keys, all under "kiva:<realm>:" so that instances
/// (realms) sharing one Redis database never see each other's state. Logins and addresses
/// are sent as binary-safe arguments: no quoting is needed, and the kind of a key comes
/// before any value a client chose, so no value can make another kind's key.

#include <string>
#include <string_view>

namespace kiva::cache {

class Keys {
  public:
    explicit Keys(std::string_view realm) : prefix_("kiva:" + std::string(realm) + ":") {}

    /// A token's verdict ("revoked", or "ok:<run_id>"), by the token's digest.
    std::string token(std::string_view digest) const { return prefix_ + "tok:" + std::string(digest); }
    /// When a login's password last changed ("<microseconds>:<run_id>").
    std::string credentials(std::string_view login) const {
        return prefix_ + "cred:" + std::string(login);
    }
    /// A good password check (its generation), by a keyed hash of login and password.
    std::string password(std::string_view keyed_hash) const {
        return prefix_ + "pw:" + std::string(keyed_hash);
    }
    /// Consecutive failures, and the lockout, of a login or an address (kind: login, address).
    std::string failures(std::string_view kind, std::string_view key) const {
        return prefix_ + "fail:" + std::string(kind) + ":" + std::string(key);
    }
    std::string lock(std::string_view kind, std::string_view key) const {
        return prefix_ + "lock:" + std::string(kind) + ":" + std::string(key);
    }

    /// A rate limit's count in one window, by a hash of route, client and window.
    std::string rate(std::string_view hash) const { return prefix_ + "rate:" + std::string(hash); }

  private:
    std::string prefix_;
};

}  // namespace kiva::cache
