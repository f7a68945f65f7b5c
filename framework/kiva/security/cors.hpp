#pragma once
/// @file
/// Cors: cross-origin requests from the browser front ends listed in cors_origins (exact
/// origins; empty: CORS off, no header is ever added). A preflight (OPTIONS with
/// Access-Control-Request-Method) of a known path from an allowed origin answers 204 with
/// the path's methods from the route table; every answer to an allowed origin names it in
/// Access-Control-Allow-Origin (never "*"); other origins get no CORS header. With CORS on,
/// every answer says Vary: Origin, since it depends on it. With token cookies (token_carrier
/// cookie), allowed origins also get Access-Control-Allow-Credentials (the browser sends
/// the cookie then) and may send the CSRF header.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kiva/http/request.hpp"
#include "kiva/http/response.hpp"
#include "kiva/core/config.hpp"

namespace kiva {

class Cors {
  public:
    explicit Cors(const Config& config);

    bool enabled() const { return !origins_.empty(); }
    /// The answer to a preflight, or nullopt when this is not one. allow: the path's methods
    /// ("GET, HEAD, POST"), empty for an unknown path (no answer here then: 404 follows).
    std::optional<Response> preflight(const Request& request, std::string_view allow) const;
    /// Adds the headers every answer gets (Vary, and the allowed origin's).
    void decorate(const Request& request, Response& response) const;

  private:
    bool allowed(std::string_view origin) const;

    std::vector<std::string> origins_;
    std::chrono::seconds max_age_;
    std::string allow_headers_;
    bool credentials_;
};

}  // namespace kiva
