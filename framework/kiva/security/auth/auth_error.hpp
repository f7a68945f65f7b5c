#pragma once

#include <stdexcept>

namespace kiva::auth {

/// An authentication failure whose message is safe to send to the client
/// (it becomes the 401 JSON error): e.g. "invalid token", "expired token".
/// Messages never include a password, a secret or the rejected credentials.
struct AuthError : std::runtime_error {
    using runtime_error::runtime_error;
};

}  // namespace kiva::auth
