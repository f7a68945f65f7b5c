#pragma once
/// @file
/// SecurityScope: what the security services act on for one request: the request itself,
/// its transaction, the framework's own typed queries on it and the instance's services.
/// The application floor makes one from its Context; security never sees that Context.

#include "kiva/db/database.hpp"
#include "kiva/http/request.hpp"
#include "kiva/security/queries.hpp"

namespace kiva {

class Security;

struct SecurityScope {
    const Request& request;
    db::Database& db;
    /// The framework's queries (framework/sql/queries.sql), typed at build time.
    db::FrameworkQueries q;
    const Security& security;
};

}  // namespace kiva
