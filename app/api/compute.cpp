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

}  // namespace

void compute(Routes r) {
    r.get("/add", AUTH, get_add, param<int64_t>("i"), param<int64_t>("j"));
    r.get("/hash", AUTH, get_hash, param<std::string>("apass"));
}

}  // namespace api
