// Users: the password and group callbacks of the framework, registration, and the
// routes that show who is authenticated (hello, admin, whoami, login, qui-suis-je).

#include <cctype>

#include "api/api.hpp"

namespace api {

using namespace kiva;

namespace {

/// Rules for a new account, shared by /register and /users-mgt (400 naming the problem).
void validate_account(Context& c, std::string_view login, std::string_view password) {
    if (login.empty() || login.size() > 64)
        throw HttpError(400, "login must have 1 to 64 characters");
    // Printable ASCII without ':': a login must fit in Basic credentials and in a token.
    for (unsigned char c : login)
        if (c <= 0x20 || c >= 0x7f || c == ':')
            throw HttpError(400, "login must be printable ASCII without spaces or colons");
    c.security.check_new_password(password);
}

/// The body of POST /users-mgt: {"u": {"login": str, "password": str, "isAdmin": bool = false}}.
struct NewUser {
    std::string login;
    std::string password;
    bool is_admin = false;

    static NewUser from_param(const ParamValue& p) {
        Json j = ParamConverter<Json>::convert(p);
        const auto& v = j.value();
        auto problem = [&](const std::string& what) -> HttpError {
            return HttpError(400, "parameter \"" + p.name + "\": " + what);
        };
        if (!v.IsObject()) throw problem("must be an object with login, password and isAdmin");
        for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it) {
            std::string_view key(it->name.GetString(), it->name.GetStringLength());
            if (key != "login" && key != "password" && key != "isAdmin")
                throw problem("unexpected field \"" + std::string(key) + "\"");
        }
        NewUser u;
        if (!v.HasMember("login") || !v["login"].IsString())
            throw problem("login must be a string");
        if (!v.HasMember("password") || !v["password"].IsString())
            throw problem("password must be a string");
        u.login.assign(v["login"].GetString(), v["login"].GetStringLength());
        u.password.assign(v["password"].GetString(), v["password"].GetStringLength());
        if (v.HasMember("isAdmin")) {
            if (!v["isAdmin"].IsBool()) throw problem("isAdmin must be a boolean");
            u.is_admin = v["isAdmin"].GetBool();
        }
        return u;
    }
};

std::optional<std::string> password_of(Context& c, std::string_view login) {
    auto user = c.q.user_perms(login);
    if (!user) return std::nullopt;
    return user->pword;
}

bool is_in_group(Context& c, std::string_view login, std::string_view group) {
    if (group != "ADMIN") return false;
    auto user = c.q.user_perms(login);
    return user && user->isadmin;
}

Response post_register(Context& c, std::string login, std::string pword) {
    validate_account(c, login, pword);
    int64_t id = c.q.add_user(login, c.security.hash_password(pword), false);
    return json(id, 201);
}

Response post_users_mgt(Context& c, NewUser u) {
    validate_account(c, u.login, u.password);
    int64_t id = c.q.add_user(u.login, c.security.hash_password(u.password), u.is_admin);
    return json(id, 201);
}

/// POST /password: the current password was just proven (Basic only).
Response post_password(Context& c, std::string user, std::string password) {
    c.security.check_new_password(password);
    c.q.set_password(c.security.hash_password(password), user);
    credentials_changed(c, user);
    return no_content();
}

/// PUT /users/<uid>/password: an admin resets someone's password.
Response put_user_password(Context& c, int64_t uid, std::string password) {
    c.security.check_new_password(password);
    auto login = c.q.set_password_uid(c.security.hash_password(password), uid);
    if (!login) throw HttpError(404, "no such user");
    credentials_changed(c, *login);
    return no_content();
}

/// POST /logout: this token is refused everywhere from now on.
Response post_logout(Context& c) {
    revoke_request_token(c);
    Response r = no_content();
    if (c.security.carrier().cookie()) r.header("Set-Cookie", c.security.carrier().clear_cookie());
    return r;
}

Response get_hello(Context&, std::string user) {
    return json("hello " + user + "!");
}
Response get_admin(Context&, std::string user) {
    return json("hello admin " + user + "!");
}
Response get_whoami(Context&, std::string user) {
    return json(user);
}
/// The token in the answer, or, with cookie=true, in an HttpOnly cookie that no script reads.
Response get_login(Context& c, std::string user, bool cookie) {
    std::string token = c.security.create_token(user);
    if (!cookie) return json(token);
    const TokenCarrier& carrier = c.security.carrier();
    if (!carrier.cookie()) throw HttpError(400, "token cookies are off (token_carrier)");
    Response r = no_content();
    r.header("Set-Cookie", carrier.set_cookie(token, c.security.token_delay().count()));
    return r;
}

}  // namespace

void users(App& app, Routes r) {
    app.password_lookup(password_of);
    app.password_update([](Context& c, std::string_view login, const std::string& hash) {
        c.q.set_password(hash, login);
    });
    app.group_check(is_in_group);

    const auto basic = AuthScheme::basic, param = AuthScheme::param, token = AuthScheme::token;
    r.post("/register", OPEN, post_register, kiva::param<std::string>("login"),
           kiva::param<std::string>("pword"));
    r.post("/users-mgt", group("ADMIN"), post_users_mgt, kiva::param<NewUser>("u"));
    r.get("/hello", AUTH, get_hello, current_user());
    r.get("/admin", group("ADMIN"), get_admin, current_user());
    r.get("/whoami", AUTH.via({basic, param, token}), get_whoami, current_user());
    r.get("/login", AUTH.via({basic}), get_login, current_user(), kiva::param<bool>("cookie", false));
    r.get("/qui-suis-je", AUTH.via({token}), get_whoami, current_user());
    r.post("/logout", AUTH.via({token}), post_logout);
    r.post("/password", AUTH.via({basic}), post_password, current_user(),
           kiva::param<std::string>("password"));
    r.put("/users/<uid:int>/password", group("ADMIN"), put_user_password,
          kiva::param<int64_t>("uid"), kiva::param<std::string>("password"));
}

}  // namespace api
