// One resource and the routes that say who is calling: each route on one line.
#include "items.hpp"

#include "generated/queries.hpp"

namespace items {

namespace {

Response get_items(Context& c) {
    return json(c.q.get_items());
}

Response get_item(Context& c, int64_t iid) {
    auto item = c.q.get_item(iid);
    if (!item) throw HttpError(404, "no such item");
    return json(*item);
}

Response post_item(Context& c, std::string user, std::string name) {
    int64_t iid = c.q.add_item(name, user);
    return json(object{{"iid", iid}}, 201).header("Location", "/items/" + std::to_string(iid));
}

Response get_whoami(Context&, std::string user) {
    return json(user);
}

/// The token in the answer, or with cookie=true in a cookie (as the course demo's /login).
Response get_login(Context& c, std::string user, bool cookie) {
    std::string token = c.security.create_token(user);
    if (!cookie) return json(token);
    const TokenCarrier& carrier = c.security.carrier();
    if (!carrier.cookie()) throw HttpError(400, "token cookies are off (token_carrier)");
    return no_content().header("Set-Cookie",
                               carrier.set_cookie(token, c.security.token_delay().count()));
}

}  // namespace

void declare(App& app) {
    app.password_lookup([](Context& c, std::string_view login) -> std::optional<std::string> {
        auto hash = c.q.password_of(login);
        if (!hash) return std::nullopt;
        return *hash;
    });
    app.group_check([](Context& c, std::string_view login, std::string_view group) {
        return group == "ADMIN" && c.q.is_admin(login).value_or(false);
    });
    auto r = app.routes();
    const auto basic = AuthScheme::basic, token = AuthScheme::token;
    r.get("/version", OPEN, [](Context&) { return json("items 1"); });
    r.get("/items", OPEN, get_items).returns_list<ItemRow>();
    r.get("/items/<iid:int>", AUTH, get_item, param<int64_t>("iid"));
    r.post("/items", AUTH, post_item, current_user(), param<std::string>("name"));
    r.get("/whoami", AUTH.via({basic, token}), get_whoami, current_user());
    r.get("/admin", group("ADMIN"), get_whoami, current_user());
    r.get("/login", AUTH.via({basic}), get_login, current_user(), param<bool>("cookie", false));
}

}  // namespace items
