#pragma once
/// @file
/// HttpError: end a request early with a status and a client-safe message.

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace kiva {

/// Thrown by the framework or a handler to answer `{"error": message}` with `status`.
/// The message is sent to the client: never put secrets or internal details in it.
class HttpError : public std::runtime_error {
  public:
    using Header = std::pair<std::string, std::string>;

    HttpError(int status, const std::string& message, std::vector<Header> headers = {})
        : std::runtime_error(message), status_(status), headers_(std::move(headers)) {}

    int status() const noexcept { return status_; }
    const std::vector<Header>& headers() const noexcept { return headers_; }

  private:
    int status_;
    std::vector<Header> headers_;
};

}  // namespace kiva
