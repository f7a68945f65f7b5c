#include "kiva/app/app.hpp"

#include <algorithm>
#include <memory>

#include "kiva/observe/metrics.hpp"
#include "kiva/app/docs.hpp"
#include "kiva/app/openapi.hpp"
#include "kiva/security/throttle.hpp"

namespace kiva {

App::App(const Config& config, const Logger& log)
    : name_(config.app_name), token_type_(config.token_type), log_(log), security_(config, log),
      cors_(config),
      http_{config.cache_control_open, config.page_limit_max, security_.carrier().cookie()},
      idempotency_(config.idempotency_ttl), rate_limiter_(config, log) {}

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
        bool passwords = accepts(schemes, AuthScheme::basic) || accepts(schemes, AuthScheme::param);
        if (!a.closed() && passwords && !authentication_.has_password_lookup())
            throw std::runtime_error(where +
                                     " accepts passwords, but no password lookup is registered");
    }
    for (const auto& d : jobs_.all())
        if (!d.viewers.empty() && !group_check_)
            throw std::runtime_error("job \"" + d.name + "\" is visible to group \"" + d.viewers +
                                     "\", but no group check is registered");
}

Outcome App::handle(const Request& request, db::Database& db) const {
    Outcome out = run(request, db);
    if (out.route >= 0) {  // ETag, Cache-Control, Vary; 304 (kiva/app/caching.hpp)
        const auto& e = table_.entries()[static_cast<std::size_t>(out.route)];
        add_validators(request, e.data.http, e.data.authorize.level() != Authorize::Level::open,
                       http_, out.response);
    }
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
    Context ctx{request, params, db, security_, name_, std::nullopt, &jobs_};
    out.response = respond(ctx, match);  // hooks, 404/405, or the route's pipeline
    run_after_hooks(ctx, out.response);
    end_transaction(ctx, out.response);  // commit if status < 400, else rollback
    out.user = std::move(ctx.user);
    return out;
}

Response App::respond(Context& c, const RouteTable::Match& match) const {
    try {
        std::optional<Response> early;
        for (const auto& hook : before_)
            if ((early = hook(c))) break;
        if (early) return std::move(*early);
        if (match.entry) return dispatch(c, *match.entry);
        if (match.allow.empty()) return error_response(404, "not found");
        Response r =
            error_response(405, "method " + std::string(c.request.method()) + " not allowed");
        r.header("Allow", match.allow);
        return r;
    } catch (...) {
        return error(c.request, std::current_exception());
    }
}

void App::run_after_hooks(Context& c, Response& response) const {
    for (auto hook = after_.rbegin(); hook != after_.rend(); ++hook) {
        try {
            (*hook)(c, response);
        } catch (...) {
            response = error(c.request, std::current_exception());
        }
    }
}

void App::end_transaction(Context& c, Response& response) const {
    try {
        c.db.finish(response.status < 400);
    } catch (...) {
        response = error(c.request, std::current_exception());
    }
}

// A matched route, in FlaskSimpleAuth's order, so that an anonymous client learns nothing
// about parameters or objects it may not see. The handler's parameters are converted (400)
// inside invoke, before the gate; the commit decision is route()'s.
Response App::dispatch(Context& c, const RouteTable::Entry& entry) const {
    const RouteData& route = entry.data;
    const Authorize& a = route.authorize;
    if (a.closed()) throw HttpError(403, "access denied: this route is closed");
    const auto& schemes = a.schemes().empty() ? security_.default_schemes() : a.schemes();
    bool open = a.level() == Authorize::Level::open;
    c.user = authentication_.authenticate(c, schemes, !open);  // 401, 429
    if (c.user) c.db.set_login(*c.user);                       // for the audit triggers
    check_groups(c, a);                                        // 401, 403
    const bool limited = route.rate_limit ? route.rate_limit->has_value()
                                          : rate_limiter_.default_policy().has_value();
    const std::string client =
        limited || c.request.method() == "POST" ? client_of(c) : std::string();
    std::vector<std::pair<std::string, std::string>> fields;
    rate_limit(entry, client, fields);  // 429
    Response r;
    try {
        r = idempotency_.run(c, client, [&] {  // 400, 409, 422, or the recorded answer
            return route.invoke(c, [&] {
                check_parameters(c, route, schemes);        // 400
                check_objects(c, a);                        // 404, 403
                check_preconditions(c, route.http, http_);  // 400 (limit), 412 (If-Match)
            });                                             // then the handler
        });
    } catch (...) {
        r = error(c.request, std::current_exception());
    }
    for (auto& [name, value] : fields) r.header(std::move(name), std::move(value));
    return r;
}

std::string App::client_of(const Context& c) const {
    if (c.user) return "login:" + *c.user;
    return "address:" + client_address(c.request.var("REMOTE_ADDR"),
                                       c.request.header("X-Forwarded-For"),
                                       rate_limiter_.trusted_proxies());
}

void App::rate_limit(const RouteTable::Entry& entry, const std::string& client,
                     std::vector<std::pair<std::string, std::string>>& fields) const {
    const std::optional<RateSpec>& spec =
        entry.data.rate_limit ? *entry.data.rate_limit : rate_limiter_.default_policy();
    if (!spec) return;
    std::string route = entry.method;
    route += ' ';
    route += entry.pattern.text();
    auto d = rate_limiter_.hit(*spec, route, client, security_.shared_cache());
    fields.emplace_back("RateLimit-Policy", rate_limit_policy_field("default", *spec));
    fields.emplace_back("RateLimit", rate_limit_field("default", d.remaining, d.reset));
    if (!d.allowed) {
        if (metrics_) metrics_->rate_limited(static_cast<int>(&entry - table_.entries().data()),
                                             d.counted_by);
        auto headers = fields;
        headers.emplace_back("Retry-After", std::to_string(d.reset));
        fields.clear();
        throw HttpError(429, "too many requests: at most " + std::to_string(spec->limit) +
                                 " per " + std::to_string(spec->seconds) + " s, retry in " +
                                 std::to_string(d.reset) + " s",
                        std::move(headers));
    }
}

void App::check_groups(Context& c, const Authorize& a) const {
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
}

void App::check_parameters(Context& c, const RouteData& route,
                           const std::vector<AuthScheme>& schemes) const {
    // Unexpected parameters are refused, as FlaskSimpleAuth does: a typo is not silently
    // ignored.
    for (const auto& name : c.params.names()) {
        bool declared =
            std::find(route.params.begin(), route.params.end(), name) != route.params.end();
        bool credentials =
            (name == "USER" || name == "PASS") && accepts(schemes, AuthScheme::param);
        if (!declared && !credentials)
            throw HttpError(400, "unexpected parameter \"" + shown(name) + "\"");
    }
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
