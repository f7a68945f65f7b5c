// Accounts: what the framework asks of the application's users (FlaskSimpleAuth's
// get_user_pass and group_check), a token for a password (GET /login) and GET /whoami.

#include "api.hpp"

namespace @NAME@ {

using namespace kiva;

namespace {

std::optional<std::string> password_of(Context& c, std::string_view login) {
    return c.q.account_password(login);
}

bool is_in_group(Context& c, std::string_view login, std::string_view group) {
    return group == "ADMIN" && c.q.account_is_admin(login).value_or(false);
}

Response get_login(Context& c, std::string user) {
    return json(c.security.create_token(user));
}

Response get_whoami(Context&, std::string user) {
    return json(user);
}

}  // namespace

void accounts(App& app, Routes r) {
    app.password_lookup(password_of);
    app.password_update([](Context& c, std::string_view login, const std::string& hash) {
        c.q.set_account_password(hash, login);
    });
    app.group_check(is_in_group);
    r.get("/login", AUTH.via({AuthScheme::basic}), get_login, current_user());
    r.get("/whoami", AUTH, get_whoami, current_user());
}

}  // namespace @NAME@
