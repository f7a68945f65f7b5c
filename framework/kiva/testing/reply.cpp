#include "kiva/testing/reply.hpp"

#include <strings.h>

namespace kiva::testing {

std::string_view Reply::header(std::string_view name) const {
    for (const auto& [n, v] : headers)
        if (n.size() == name.size() && strncasecmp(n.data(), name.data(), n.size()) == 0) return v;
    return {};
}

std::ostream& operator<<(std::ostream& out, const Reply& reply) {
    constexpr std::size_t shown = 400;
    out << reply.status << " " << reply.body.substr(0, shown);
    if (reply.body.size() > shown) out << "...";
    return out;
}

}  // namespace kiva::testing
