// The compute blueprint: routes without database, mounted under /cmp by register_api.

#include "api/api.hpp"

namespace api {

using namespace kiva;

namespace {

Response get_add(Context&, int64_t i, int64_t j) {
    int64_t sum;
    if (__builtin_add_overflow(i, j, &sum))
        throw HttpError(400, "i + j is out of the 64-bit range");
    return json(sum);
}

Response get_hash(Context& c, std::string apass) {
    // bcrypt reads at most 72 bytes and no NUL: refuse what it would silently cut.
    if (apass.size() > 72) throw HttpError(400, "parameter \"apass\" must have at most 72 bytes");
    if (apass.find('\0') != std::string::npos)
        throw HttpError(400, "parameter \"apass\" must not contain NUL");
    return json(c.security.hash_password(apass));
}

/// The parameter types a route can declare, echoed: a uuid path segment, a date, an optional
/// date and time, a list of integers (repeated fields or a JSON array).
Response get_echo(Context&, Uuid id, Date day, std::optional<DateTime> at,
                  std::vector<int64_t> n) {
    return json(object{{"id", id}, {"day", day}, {"at", at}, {"n", n}});
}

}  // namespace

void compute(Routes r) {
    r.get("/add", AUTH, get_add, param<int64_t>("i"), param<int64_t>("j"));
    r.get("/hash", AUTH, get_hash, param<std::string>("apass"));
    r.get("/echo/<id:uuid>", OPEN, get_echo, param<Uuid>("id"), param<Date>("day"),
          maybe<DateTime>("at"), param<std::vector<int64_t>>("n", {}));
}

}  // namespace api
