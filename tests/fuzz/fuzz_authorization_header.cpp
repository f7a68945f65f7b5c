// libFuzzer target: parse_authorization on arbitrary bytes must return well-formed
// credentials or throw AuthError, nothing else.

#include "kiva/security/auth/auth_error.hpp"
#include "kiva/security/auth/authorization_header.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace kiva::auth;
    const std::string_view header(reinterpret_cast<const char*>(data), size);
    try {
        const Credentials credentials = parse_authorization(header);
        const bool well_formed =
            credentials.scheme == Scheme::basic
                ? !credentials.login.empty() && !credentials.password.empty() &&
                      credentials.token.empty() && credentials.login.find(':') == std::string::npos
                : !credentials.token.empty() && credentials.login.empty() &&
                      credentials.password.empty();
        if (!well_formed) std::abort();
    } catch (const AuthError&) {
        // the only acceptable failure; any other exception escapes and is reported
    }
    return 0;
}
