#pragma once
/// @file
/// Context: what a handler (and an authorization callback) gets: the request, its
/// parameters, the authenticated user, the database and the security services.

#include <optional>
#include <string>

#include "framework/db/database.hpp"
#include "generated/queries.hpp"
#include "framework/http/http_error.hpp"
#include "framework/http/params.hpp"
#include "framework/http/request.hpp"
#include "framework/security/security.hpp"

namespace kiva {

struct Context {
    const Request& request;
    Params& params;
    db::Database& db;
    /// The typed queries, generated from the queries file: `c.q.get_stuff_sid(sid)`.
    db::Queries q;
    const Security& security;
    const std::string& app_name;
    /// The authenticated login, if any (OPEN routes may have none).
    std::optional<std::string> user;

    /// The authenticated login; 401 when there is none.
    const std::string& login() const {
        if (!user) throw HttpError(401, "authentication required");
        return *user;
    }
};

}  // namespace kiva
