#include "kiva/security/cors.hpp"

#include <algorithm>

namespace kiva {

Cors::Cors(const Config& config)
    : origins_(config.cors_origins),
      max_age_(config.cors_max_age),
      allow_headers_("Authorization, Content-Type, X-Request-ID, If-Match, If-None-Match"),
      credentials_(std::find(config.token_carrier.begin(), config.token_carrier.end(), "cookie") !=
                   config.token_carrier.end()) {
    if (credentials_) allow_headers_ += ", " + config.csrf_header;
}

bool Cors::allowed(std::string_view origin) const {
    return !origin.empty() && std::find(origins_.begin(), origins_.end(), origin) != origins_.end();
}

std::optional<Response> Cors::preflight(const Request& request, std::string_view allow) const {
    if (!enabled() || request.method() != "OPTIONS" ||
        request.header("Access-Control-Request-Method").empty() || allow.empty())
        return std::nullopt;
    if (!allowed(request.header("Origin")))
        return error_response(403, "origin not allowed");
    Response r = no_content();
    r.header("Access-Control-Allow-Methods", std::string(allow));
    r.header("Access-Control-Allow-Headers", allow_headers_);
    r.header("Access-Control-Max-Age", std::to_string(max_age_.count()));
    return r;
}

void Cors::decorate(const Request& request, Response& response) const {
    if (!enabled()) return;
    response.header("Vary", "Origin");
    std::string_view origin = request.header("Origin");
    if (!allowed(origin)) return;
    response.header("Access-Control-Allow-Origin", std::string(origin));
    if (credentials_) response.header("Access-Control-Allow-Credentials", "true");
    if (response.status != 204 || request.method() != "OPTIONS")
        response.header("Access-Control-Expose-Headers", "X-Request-ID, Retry-After, WWW-Authenticate, ETag, Link");
}

}  // namespace kiva
