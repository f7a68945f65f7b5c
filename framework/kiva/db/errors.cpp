#include "kiva/db/errors.hpp"

namespace kiva::db {

int http_status_for_sqlstate(std::string_view s) {
    if (s.size() != 5) return 500;
    if (s == "23505") return 409;  // unique_violation: the thing exists already
    auto cls = s.substr(0, 2);
    if (cls == "23") return 400;                   // integrity: foreign key, check, not null...
    if (cls == "22") return 400;                   // data: bad number, too long, out of range...
    if (cls == "08") return 503;                   // connection exception
    if (s == "25006") return 503;  // read-only: the server is a standby now (a failover)
    if (cls == "57") return 503;                   // operator intervention: shutdown, cancel
    if (cls == "53") return 503;                   // insufficient resources: too many connections
    if (s == "40001" || s == "40P01") return 503;  // serialization failure, deadlock: retry
    return 500;
}

}  // namespace kiva::db
