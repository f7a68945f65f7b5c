// Owned objects: each belongs to a user; object permissions let owners (and only them)
// see an object, and users see their own list.

#include "api/api.hpp"

namespace api {

using namespace kiva;

namespace {

/// Is login the owner of object oid? nullopt: no such object.
std::optional<bool> owns_object(Context& c, std::string_view login, int64_t oid, Mode) {
    auto res = c.q.can_access_owned(login, oid);
    if (!res) return std::nullopt;
    return res->owned.value_or(false);
}

/// Is login user uid? nullopt: no such user.
std::optional<bool> is_user(Context& c, std::string_view login, int64_t uid, Mode) {
    auto res = c.q.can_access_user(login, uid);
    if (!res) return std::nullopt;
    return res->self.value_or(false);
}

Response get_owned(Context& c) {
    return json(c.q.get_owned());
}

Response get_object_oid(Context& c, int64_t oid) {
    auto res = c.q.get_object_oid(oid);
    if (!res) throw HttpError(404, "object not found");
    return json(*res);
}

Response get_owned_uid(Context& c, int64_t uid) {
    return json(c.q.get_owned_uid(uid));
}

}  // namespace

void owned(App& app, Routes r) {
    app.object_check("owned", owns_object);
    app.object_check("user", is_user);

    r.get("/owned", group("ADMIN"), get_owned).returns_list<OwnedRow>();
    r.get("/object", group("ADMIN"), get_owned).returns_list<OwnedRow>();
    r.get("/object/<oid:int>", permission("owned", "oid"), get_object_oid, param<int64_t>("oid"))
        .returns<GetObjectOidRow>();
    r.get("/owned/<uid:int>", permission("user", "uid"), get_owned_uid, param<int64_t>("uid"))
        .returns_list<OwnedRow>();
}

}  // namespace api
