#pragma once
/// @file
/// Where the test client's requests go: through App::handle in this process (InProcess), or
/// over HTTP to a running service (Remote). The Client is the same above both.

#include <optional>
#include <string>
#include <string_view>

#include "kiva/testing/reply.hpp"

namespace kiva::testing {

class Transport {
  public:
    virtual ~Transport() = default;
    /// Sends one request; throws std::runtime_error when it cannot (never for an HTTP error).
    virtual Reply send(const Outgoing& request) = 0;
    /// A token for login made without asking the application (in process: the App's own
    /// security signs it), or nullopt: the client then calls the application's login route.
    virtual std::optional<std::string> token_for(std::string_view login) = 0;
    /// The same for the Cookie header value ("name=value") carrying such a token.
    virtual std::optional<std::string> cookie_for(std::string_view login) = 0;
    /// The header that must come with a token cookie on unsafe methods ("" for the client's
    /// configured one).
    virtual std::string csrf_header() const { return {}; }
};

}  // namespace kiva::testing
