// Owned objects: each belongs to a user; object permissions let owners (and only them)
// see an object, and users see their own list.

#include "api/api.hpp"

namespace api {

using namespace kiva;

namespace {

/// Is login the owner of object oid? nullopt: no such object.
std::optional<bool> owns_object(Context& c, std::string_view login, int64_t oid, Mode) {
    auto res = c.db.row("can_access_owned", {{"login", login}, {"oid", oid}});
    if (!res) return std::nullopt;
    return res->get<bool>("owned");
}

/// Is login user uid? nullopt: no such user.
std::optional<bool> is_user(Context& c, std::string_view login, int64_t uid, Mode) {
    auto res = c.db.row("can_access_user", {{"login", login}, {"uid", uid}});
    if (!res) return std::nullopt;
    return res->get<bool>("self");
}

Response get_owned(Context& c) {
    return json(c.db.stream("get_owned"));
}

Response get_object_oid(Context& c, int64_t oid) {
    auto res = c.db.row("get_object_oid", {{"oid", oid}});
    if (!res) throw HttpError(404, "object not found");
    return json(*res);
}

Response get_owned_uid(Context& c, int64_t uid) {
    return json(c.db.stream("get_owned_uid", {{"uid", uid}}));
}

}  // namespace

void owned(App& app, Routes r) {
    app.object_check("owned", owns_object);
    app.object_check("user", is_user);

    r.get("/owned", group("ADMIN"), get_owned);
    r.get("/object", group("ADMIN"), get_owned);
    r.get("/object/<oid:int>", permission("owned", "oid"), get_object_oid, param<int64_t>("oid"));
    r.get("/owned/<uid:int>", permission("user", "uid"), get_owned_uid, param<int64_t>("uid"));
}

}  // namespace api
