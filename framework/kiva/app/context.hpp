#pragma once
/// @file
/// Context: what a handler (and an authorization callback) gets: the request, its
/// parameters, the authenticated user, the database and the security services.
/// An application's generated header (kiva-querygen --context) derives its own Context
/// from this one, adding its typed queries `c.q`; a handler may take either.

#include <optional>
#include <string>

#include "kiva/db/database.hpp"
#include "kiva/http/http_error.hpp"
#include "kiva/http/params.hpp"
#include "kiva/http/request.hpp"
#include "kiva/jobs/jobs.hpp"
#include "kiva/security/revocation.hpp"
#include "kiva/security/scope.hpp"
#include "kiva/security/security.hpp"

namespace kiva {

struct Context {
    const Request& request;
    Params& params;
    db::Database& db;
    const Security& security;
    const std::string& app_name;
    /// The authenticated login, if any (OPEN routes may have none).
    std::optional<std::string> user;
    /// The declared jobs (App::jobs()), for enqueue().
    const jobs::Registry* jobs = nullptr;

    /// Queues a declared job in this request's transaction (it exists iff the request
    /// commits); its id. 400: unknown name, payload not of the declared type; 409: its
    /// options.unique_key is pending. The job carries this request's login and id.
    template <typename T>
    int64_t enqueue(std::string_view name, const T& payload, const jobs::Options& options = {}) {
        if (!jobs) throw std::logic_error("no jobs are declared in this context");
        return jobs->enqueue(db, name, js::serialize(payload), options, user, request.id());
    }

    /// The authenticated login; 401 when there is none.
    const std::string& login() const {
        if (!user) throw HttpError(401, "authentication required");
        return *user;
    }

    /// What the security services act on for this request.
    SecurityScope security_scope() const { return {request, db, db::FrameworkQueries(db), security}; }
};

/// Revokes the request's token (Bearer or cookie) until it would have expired (POST /logout).
inline void revoke_request_token(const Context& c) {
    auto s = c.security_scope();
    revoke_request_token(s);
}

/// After a password change of login in this transaction: older tokens and cached checks of
/// the old password are refused everywhere (see kiva/security/revocation.hpp).
inline void credentials_changed(const Context& c, std::string_view login) {
    auto s = c.security_scope();
    credentials_changed(s, login);
}

}  // namespace kiva
