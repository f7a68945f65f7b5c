#include "kiva/app/app.hpp"

#include <algorithm>
#include <memory>

#include "kiva/observe/metrics.hpp"
#include "kiva/app/docs.hpp"
#include "kiva/app/openapi.hpp"
#include "kiva/security/auth/auth_error.hpp"
#include "kiva/security/auth/authorization_header.hpp"
#include "kiva/security/auth/password.hpp"
#include "kiva/security/revocation.hpp"

namespace kiva {

namespace {

bool has(const std::vector<AuthScheme>& schemes, AuthScheme s) {
    return std::find(schemes.begin(), schemes.end(), s) != schemes.end();
}

/// A login echoed in an error message: bounded, so a huge header does not make a huge answer.
std::string shown(std::string_view login) {
    if (login.size() <= 100) return std::string(login);
    std::size_t cut = 100;
    while (cut > 0 && (static_cast<unsigned char>(login[cut]) & 0xC0) == 0x80)
        --cut;  // whole characters
    return std::string(login.substr(0, cut)) + "...";
}

}  // namespace

App::App(const Config& config, const Logger& log)
    : name_(config.app_name), token_type_(config.token_type), log_(log), security_(config, log),
      cors_(config) {}

std::string App::openapi(std::string server) const {
    OpenApiInfo info;
    info.title = name_;
    info.version = KIVA_VERSION;
    info.server = std::move(server);
    info.token_type = token_type_;
    info.default_schemes = security_.default_schemes();
    return openapi_document(table_, info);
}

void App::publish_docs(const std::string& docs_dir) {
    if (docs_dir.empty()) return;
    auto files = std::make_shared<const DocsFiles>(docs_dir);
    routes().get("/docs", OPEN, [](Context& c) {
        std::string mount(c.request.var("SCRIPT_NAME"));
        Response r;
        r.content_type = "text/html; charset=utf-8";
        r.body = DocsFiles::page(mount + "/docs", mount + "/openapi.json");
        return r;
    });
    routes().get(
        "/docs/<file>", OPEN,
        [files](Context&, std::string file) {
            Response r;
            if (file == "init.js") {  // the page's own script: Swagger UI on the document
                r.content_type = "application/javascript; charset=utf-8";
                r.body =
                    "window.onload = function () {\n"
                    "  var root = document.getElementById('swagger-ui');\n"
                    "  window.ui = SwaggerUIBundle({url: root.dataset.spec, dom_id: '#swagger-ui',\n"
                    "    deepLinking: true, presets: [SwaggerUIBundle.presets.apis,\n"
                    "    SwaggerUIStandalonePreset], layout: 'BaseLayout'});\n};\n";
                return r;
            }
            const DocsFiles::File* f = files->find(file);
            if (!f) throw HttpError(404, "not found");
            r.content_type = f->type;
            r.body = f->body;
            return r;
        },
        param<std::string>("file"));
}

void App::publish_openapi(std::string path) {
    routes().get(path, OPEN, [this](Context& c) {
        Response r;
        r.body = openapi(std::string(c.request.var("SCRIPT_NAME")));
        return r;
    });
}

void App::check() const {
    for (const auto& e : table_.entries()) {
        const Authorize& a = e.data.authorize;
        std::string where = e.method + " " + e.pattern.text();
        if (!a.groups().empty() && !group_check_)
            throw std::runtime_error(where + " needs a group, but no group check is registered");
        for (const auto& o : a.objects()) {
            if (!object_checks_.count(o.domain))
                throw std::runtime_error(where + " needs object permission \"" + o.domain +
                                         "\", which is not registered");
            if (std::find(e.data.params.begin(), e.data.params.end(), o.param) ==
                e.data.params.end())
                throw std::runtime_error(where + ": object permission parameter \"" + o.param +
                                         "\" is not a declared parameter of the route");
        }
        const auto& schemes = a.schemes().empty() ? security_.default_schemes() : a.schemes();
        bool passwords = has(schemes, AuthScheme::basic) || has(schemes, AuthScheme::param);
        if (!a.closed() && passwords && !password_lookup_)
            throw std::runtime_error(where +
                                     " accepts passwords, but no password lookup is registered");
    }
}

Outcome App::handle(const Request& request, db::Database& db) const {
    Outcome out = run(request, db);
    if (request.method() == "HEAD") {
        out.response.body.clear();
        out.response.stream = nullptr;  // a stream not read is drained when dropped
    }
    return out;
}

Outcome App::run(const Request& request, db::Database& db) const {
    Outcome out = route(request, db);
    cors_.decorate(request, out.response);
    return out;
}

Outcome App::route(const Request& request, db::Database& db) const {
    Outcome out;
    RouteTable::Match match;
    table_.match(request.method(), request.path(), match);
    // A CORS preflight (OPTIONS on a known path, from an allowed origin) is answered before
    // anything else: it carries no credentials and reaches no handler nor hook.
    if (!match.entry)
        if (auto preflight = cors_.preflight(request, match.allow)) {
            out.response = std::move(*preflight);
            return out;
        }
    if (match.entry) out.route = static_cast<int>(match.entry - table_.entries().data());
    Params params(request, match.captures);
    Context ctx{request, params, db, security_, name_, std::nullopt};
    try {
        std::optional<Response> early;
        for (const auto& hook : before_)
            if ((early = hook(ctx))) break;
        if (early) {
            out.response = std::move(*early);
        } else if (match.entry) {
            out.response = dispatch(ctx, match.entry->data);
        } else if (match.allow.empty()) {
            out.response = error_response(404, "not found");
        } else {
            out.response =
                error_response(405, "method " + std::string(request.method()) + " not allowed");
            out.response.header("Allow", match.allow);
        }
    } catch (...) {
        out.response = error(request, std::current_exception());
    }
    for (auto hook = after_.rbegin(); hook != after_.rend(); ++hook) {
        try {
            (*hook)(ctx, out.response);
        } catch (...) {
            out.response = error(request, std::current_exception());
        }
    }
    try {
        db.finish(out.response.status < 400);
    } catch (...) {
        out.response = error(request, std::current_exception());
    }
    out.user = std::move(ctx.user);
    return out;
}

Response App::dispatch(Context& c, const RouteData& route) const {
    const Authorize& a = route.authorize;
    if (a.closed()) throw HttpError(403, "access denied: this route is closed");
    const auto& schemes = a.schemes().empty() ? security_.default_schemes() : a.schemes();
    bool open = a.level() == Authorize::Level::open;
    c.user = authenticate(c, schemes, !open);
    if (c.user) c.db.set_login(*c.user);
    auto decision = decide_access(
        a, c.user.has_value(), [&](const std::string& g) { return group_check_(c, *c.user, g); });
    switch (decision.access) {
        case Access::allow:
            break;
        case Access::closed:
            throw HttpError(403, "access denied: this route is closed");
        case Access::unauthenticated:
            throw HttpError(401, "authentication required");
        case Access::not_in_group:
            throw HttpError(403, "not in group \"" + decision.group + "\"");
    }
    Response r = route.invoke(c, [&] {
        // Unexpected parameters are refused, as FlaskSimpleAuth does: a typo is not silently
        // ignored.
        for (const auto& name : c.params.names()) {
            bool declared =
                std::find(route.params.begin(), route.params.end(), name) != route.params.end();
            bool credentials =
                (name == "USER" || name == "PASS") && has(schemes, AuthScheme::param);
            if (!declared && !credentials)
                throw HttpError(400, "unexpected parameter \"" + shown(name) + "\"");
        }
        check_objects(c, a);
    });
    return r;
}

void App::check_objects(Context& c, const Authorize& a) const {
    for (const auto& rule : a.objects()) {
        int64_t id = c.params.get<int64_t>(rule.param);
        auto it = object_checks_.find(rule.domain);
        std::optional<bool> verdict =
            it->second(c, c.login(), id, mode_of_method(c.request.method()));
        if (!verdict) throw HttpError(404, "object not found");
        if (!*verdict)
            throw HttpError(403, "permission denied on " + rule.domain + ":" + std::to_string(id));
    }
}

std::optional<std::string> App::authenticate(Context& c, const std::vector<AuthScheme>& schemes,
                                             bool required) const {
    bool basic = has(schemes, AuthScheme::basic), token = has(schemes, AuthScheme::token),
         param = has(schemes, AuthScheme::param), httpd = has(schemes, AuthScheme::httpd);
    bool token_only = token && !basic && !param && !httpd;
    auto unauthorized = [&](const std::string& message) -> HttpError {
        std::vector<HttpError::Header> headers;
        std::string challenge = security_.challenge(schemes);
        if (!challenge.empty()) headers.emplace_back("WWW-Authenticate", challenge);
        return HttpError(401, message, std::move(headers));
    };
    std::string_view tried = "none";  // the scheme that failed, for the metrics
    try {
        if (httpd) {
            // The front end authenticated the client (Apache AuthType...): trust it.
            std::string_view remote = c.request.var("REMOTE_USER");
            if (!remote.empty()) return std::string(remote);
        }
        std::string_view header = c.request.header("Authorization");
        if (!header.empty()) {
            auth::Credentials credentials = auth::parse_authorization(header);
            tried = credentials.scheme == auth::Scheme::basic ? "basic" : "token";
            if (credentials.scheme == auth::Scheme::basic) {
                if (!basic)
                    throw auth::AuthError(token_only ? "missing token"
                                                     : "unexpected authorization scheme");
                check_password(c, "basic", credentials.login, credentials.password);
                return credentials.login;
            }
            if (!token) throw auth::AuthError("unexpected authorization scheme");
            if (!security_.carrier().bearer())
                throw auth::AuthError("unexpected authorization scheme: tokens are carried by cookie");
            auth::VerifiedToken verified = security_.check_token(credentials.token);
            auto scope = c.security_scope();
            check_not_revoked(scope, credentials.token, verified);
            return verified.login;
        }
        if (token) {
            if (std::optional<std::string> cookie = security_.carrier().from_cookie(c.request)) {
                tried = "token";
                security_.carrier().check_csrf(c.request);
                auth::VerifiedToken verified = security_.check_token(*cookie);
                auto scope = c.security_scope();
                check_not_revoked(scope, *cookie, verified);
                return verified.login;
            }
        }
        if (param) {
            if (const ParamValue* user = c.params.find("USER")) {
                tried = "param";
                std::string login = ParamConverter<std::string>::convert(*user);
                const ParamValue* pass = c.params.find("PASS");
                if (!pass) throw auth::AuthError("missing PASS parameter");
                check_password(c, "param", login, ParamConverter<std::string>::convert(*pass));
                return login;
            }
        }
    } catch (const auth::AuthError& e) {
        if (metrics_) metrics_->auth_failure(tried, observe::auth_failure_reason(e.what()));
        throw unauthorized(e.what());
    }
    if (required && metrics_) metrics_->auth_failure("none", "missing_credentials");
    if (required) throw unauthorized(token_only ? "missing token" : "missing authorization header");
    return std::nullopt;
}

void App::check_password(Context& c, std::string_view scheme, const std::string& login,
                         const std::string& password) const {
    const Throttle& throttle = security_.throttle();
    SecurityScope scope = c.security_scope();
    Throttle::State state = throttle.state(scope, login, password);
    if (state.retry_after) {
        // Refused before any bcrypt: a locked login costs the server one indexed read.
        if (metrics_) metrics_->auth_failure(scheme, "throttled");
        throw HttpError(429, "too many failed attempts, retry later",
                        {{"Retry-After", std::to_string(std::max(1, *state.retry_after))}});
    }
    bool known = state.shared ? state.known_good
                              : security_.password_cache().known_good(
                                    login, password, std::chrono::steady_clock::now(),
                                    state.credentials_generation);
    if (metrics_) metrics_->password_cache(known);
    if (known) return;
    std::optional<std::string> hash = password_lookup_(c, login);
    bool good = security_.verify_password(password, hash ? *hash : security_.decoy_hash());
    if (!hash || !good) {
        throttle.failed(scope, login, state);
        if (!hash) throw auth::AuthError("no such user: " + shown(login));
        throw auth::AuthError("invalid password for " + shown(login));
    }
    throttle.succeeded(scope, login, state);
    // Not a password change: the same password, in today's scheme and cost.
    if (password_update_ && security_.needs_rehash(*hash))
        password_update_(c, login, security_.hash_password(password));
    throttle.remember(scope, login, password, state);
}

Response App::error(const Request& request, std::exception_ptr e) const {
    std::string line = std::string(request.method()) + " " + std::string(request.path());
    try {
        std::rethrow_exception(e);
    } catch (const HttpError& err) {
        Response r = error_response(err.status(), err.what());
        for (const auto& [name, value] : err.headers()) r.header(name, value);
        return r;
    } catch (const db::DbError& err) {
        int status = err.http_status();
        if (metrics_) metrics_->db_error(err.sqlstate());
        if (status == 503) {
            if (auto held = unavailable_lines_.admit())
                log_.log(LogLevel::error,
                         line + ": " + err.what() +
                             (*held ? " (and " + std::to_string(*held) +
                                          " more database 503s since the last such line, not logged)"
                                    : ""),
                         request.id());
        } else if (status >= 500)
            log_.log(LogLevel::error, line + ": " + err.what(), request.id());
        else
            log_.log(LogLevel::debug, line + ": " + err.what(), request.id());
        return error_response(
            status, status >= 500 && status != 503 ? "internal error" : err.client_message());
    } catch (const std::exception& err) {
        log_.log(LogLevel::error, line + ": internal error: " + err.what(), request.id());
    } catch (...) {
        log_.log(LogLevel::error, line + ": internal error: unknown exception", request.id());
    }
    return error_response(500, "internal error");
}

}  // namespace kiva
