#include "kiva/http/request_id.hpp"

#include <cstdint>
#include <random>

namespace kiva {

bool is_safe_request_id(std::string_view text) {
    if (text.empty() || text.size() > 64) return false;
    for (char c : text) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_' || c == '.' || c == ':' || c == '+' || c == '=' || c == '@';
        if (!ok) return false;
    }
    return true;
}

std::string request_id_of(const Request& request) {
    for (std::string_view candidate :
         {request.var("HTTP_X_REQUEST_ID"), request.var("REQUEST_ID"), request.var("UNIQUE_ID")})
        if (is_safe_request_id(candidate)) return std::string(candidate);
    // Unique, not secret: a per-thread generator seeded once from the system's randomness.
    thread_local std::mt19937_64 generator{std::random_device{}()};
    static const char hex[] = "0123456789abcdef";
    std::string id(32, '0');
    for (int half = 0; half < 2; ++half) {
        std::uint64_t bits = generator();
        for (int i = 0; i < 16; ++i, bits >>= 4) id[half * 16 + i] = hex[bits & 15];
    }
    return id;
}

}  // namespace kiva
