#pragma once
/// @file
/// The OpenAPI 3.1 document of a route table (`kiva --openapi`, GET /openapi.json): every
/// route and method, typed path parameters, query or body parameters with type, required and
/// default, the security schemes and what each operation accepts, its authorization (as
/// x-kiva-authorization and in the description), the error answers with the {"error"}
/// schema, and the success schemas declared with Routes::returns.

#include <string>
#include <vector>

#include "kiva/app/routes.hpp"

namespace kiva {

struct OpenApiInfo {
    std::string title = "kiva";
    std::string version = "0.1.0";
    std::string server = "/";          ///< where the API is mounted ("/api")
    std::string token_type = "native";  ///< bearer format: native or jwt
    std::vector<AuthScheme> default_schemes;
};

std::string openapi_document(const RouteTable& table, const OpenApiInfo& info);

/// The route's authorization as text: OPEN, AUTH, CLOSED, "AUTH group:ADMIN object:owned(oid)".
std::string describe_authorization(const Authorize& a);

}  // namespace kiva
