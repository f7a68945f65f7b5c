#pragma once
/// @file
/// The URL mode: requests go over HTTP(S) to a running service (KIVA_TEST_URL), as
/// FlaskTester's external mode. Nothing is isolated there: the tests see what others wrote.

#include <chrono>

#include "kiva/testing/http_client.hpp"
#include "kiva/testing/transport.hpp"

namespace kiva::testing {

class Remote : public Transport {
  public:
    Remote(Url url, Tls tls, std::chrono::milliseconds timeout)
        : url_(std::move(url)), tls_(std::move(tls)), timeout_(timeout) {}

    Reply send(const Outgoing& request) override;
    std::optional<std::string> token_for(std::string_view) override { return std::nullopt; }
    std::optional<std::string> cookie_for(std::string_view) override { return std::nullopt; }

  private:
    Url url_;
    Tls tls_;
    std::chrono::milliseconds timeout_;
};

}  // namespace kiva::testing
