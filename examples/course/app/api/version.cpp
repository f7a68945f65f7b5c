// GET /version: is the service up, who am I, and does the database answer?

#include "api/api.hpp"

namespace api {

using namespace kiva;

static Response get_version(Context& c) {
    return json(object{{"app", c.app_name}, {"user", c.user}, {"now", c.q.now()}});
}

void version(Routes r) {
    r.get("/version", OPEN, get_version);
}

}  // namespace api
