#pragma once
/// @file
/// App: the application object (Flask + FlaskSimpleAuth's role). It holds the routes and
/// the application's security callbacks, and runs one request through the pipeline:
///
///   route (404/405) -> authentication (401) -> groups (403) -> parameters (400)
///   -> object permissions (404, then 403) -> handler -> commit if status < 400, else rollback
///
/// It knows nothing of FastCGI: the server hands it a Request and a Database. Authentication
/// (schemes, passwords, tokens) is its own class (authentication.hpp).

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kiva/app/authentication.hpp"
#include "kiva/app/context.hpp"
#include "kiva/app/handler_context.hpp"
#include "kiva/http/response.hpp"
#include "kiva/app/pagination.hpp"
#include "kiva/app/routes.hpp"
#include "kiva/core/config.hpp"
#include "kiva/core/log.hpp"
#include "kiva/core/repeat_limit.hpp"
#include "kiva/jobs/jobs.hpp"
#include "kiva/app/idempotency.hpp"
#include "kiva/security/cors.hpp"
#include "kiva/security/rate_limit.hpp"
#include "kiva/security/security.hpp"

namespace kiva {

namespace observe {
class Metrics;
}

/// Whether login belongs to group.
using GroupCheck = std::function<bool(Context&, std::string_view login, std::string_view group)>;
/// May login act on object id in mode? true: yes, false: 403, nullopt: no such object (404).
using ObjectCheck =
    std::function<std::optional<bool>(Context&, std::string_view login, int64_t id, Mode mode)>;

/// Runs before every request, after routing and before authentication (a maintenance switch,
/// a request id): a Response answers at once, nullopt goes on; an HttpError thrown is answered.
using BeforeRequest = std::function<std::optional<Response>(Context&)>;
/// Runs after every request, on its response, errors included, before the transaction ends
/// (extra headers, extra audit in the same transaction): it may change the response.
using AfterRequest = std::function<void(Context&, Response&)>;

/// What happened to one request, for the access log.
struct Outcome {
    Response response;
    std::optional<std::string> user;
    /// The route that matched, as its index in table().entries(); -1 when none did.
    int route = -1;
};

class App {
  public:
    App(const Config& config, const Logger& log);
    App(const App&) = delete;
    App& operator=(const App&) = delete;

    const std::string& name() const { return name_; }
    const Security& security() const { return security_; }
    const Logger& log() const { return log_; }

    /// The root group of routes; `routes().group("/cmp")` for a prefixed group.
    Routes routes() { return Routes(table_, ""); }
    /// The declared jobs (kiva/jobs/jobs.hpp): `app.jobs().job<T>("name", handler)`.
    jobs::Registry& jobs() { return jobs_; }
    const jobs::Registry& jobs() const { return jobs_; }
    /// Serves GET path/<id> (jobs.cpp): a job's state, to the user who enqueued it and to its
    /// declaration's group (others: 404).
    void publish_jobs(std::string path = "/jobs");

    // The callbacks (FlaskSimpleAuth's get_user_pass, group_check, object_perms) take the
    // framework's Context or the application's (with its typed queries).
    template <typename F>
    void password_lookup(F f) {
        authentication_.password_lookup(
            adapt<std::optional<std::string>, std::string_view>(std::move(f)));
    }
    template <typename F>
    void password_update(F f) {
        authentication_.password_update(
            adapt<void, std::string_view, const std::string&>(std::move(f)));
    }
    template <typename F>
    void group_check(F f) {
        group_check_ = adapt<bool, std::string_view, std::string_view>(std::move(f));
    }
    template <typename F>
    void object_check(std::string domain, F f) {
        object_checks_[std::move(domain)] =
            adapt<std::optional<bool>, std::string_view, int64_t, Mode>(std::move(f));
    }
    /// Where authentication failures and password cache results are counted (optional).
    void observe(observe::Metrics* metrics) {
        metrics_ = metrics;
        security_.observe(metrics);
        authentication_.observe(metrics);
    }

    /// Hooks, as Flask's: before_request hooks run in the order they were registered, the
    /// first one that answers ends the chain (the handler does not run); after_request hooks
    /// run in the reverse order, on every response (a before hook's, a handler's, an error,
    /// a 404 or 405). An exception in an after hook becomes the error response the next
    /// hooks see. The commit decision (status < 400) is taken after them.
    void before_request(BeforeRequest f) { before_.push_back(std::move(f)); }
    void after_request(AfterRequest f) { after_.push_back(std::move(f)); }

    /// Checks that every route's authorization can be decided (its groups, object domains and
    /// schemes have what they need). Throws std::runtime_error listing the problem.
    void check() const;

    /// Runs one request through the pipeline, ending its transaction. Never throws.
    Outcome handle(const Request& request, db::Database& db) const;

    const RouteTable& table() const { return table_; }

    /// The OpenAPI 3.1 document of the routes; server: where the API is mounted.
    std::string openapi(std::string server = "/") const;
    /// Serves openapi() at path (OPEN), with the mount point the front end gives (SCRIPT_NAME).
    void publish_openapi(std::string path = "/openapi.json");
    /// Serves Swagger UI at /docs from docs_dir (swagger-ui-dist), showing /openapi.json;
    /// nothing when docs_dir is empty. Throws std::runtime_error when a file is missing.
    void publish_docs(const std::string& docs_dir);

  private:
    template <typename R, typename... A, typename F>
    static std::function<R(Context&, A...)> adapt(F f) {
        return [f = std::move(f)](Context& c, A... a) mutable -> R {
            return with_context(f, c, std::forward<A>(a)...);
        };
    }

    Outcome run(const Request& request, db::Database& db) const;
    Outcome route(const Request& request, db::Database& db) const;
    /// The before_request hooks, then the matched route's pipeline (dispatch) or 404/405;
    /// whatever is thrown is answered by error().
    Response respond(Context& c, const RouteTable::Match& match) const;
    /// The after_request hooks, in reverse order; one that throws leaves its error response.
    void run_after_hooks(Context& c, Response& response) const;
    /// Commit if status < 400, else rollback; a failed commit becomes the response.
    void end_transaction(Context& c, Response& response) const;
    Response dispatch(Context& c, const RouteTable::Entry& entry) const;
    /// Counts the request under the route's rate limit (its own, else rate_limit), if any:
    /// the RateLimit fields go to `fields`; over the limit, throws HttpError 429 with them.
    void rate_limit(const RouteTable::Entry& entry, const std::string& client,
                    std::vector<std::pair<std::string, std::string>>& fields) const;
    /// Who a rate limit and an idempotency key belong to: the login, else the address.
    std::string client_of(const Context& c) const;
    /// 401 without a login where one is needed, 403 outside the route's group.
    void check_groups(Context& c, const Authorize& a) const;
    /// 400 for a parameter the route does not declare (a typo is not silently ignored).
    void check_parameters(Context& c, const RouteData& route,
                          const std::vector<AuthScheme>& schemes) const;
    void check_objects(Context& c, const Authorize& a) const;
    Response error(const Request& request, std::exception_ptr e) const;

    std::string name_;
    std::string token_type_;
    const Logger& log_;
    Security security_;
    Authentication authentication_{security_};  ///< after security_, which it uses
    Cors cors_;
    HttpSettings http_;  ///< caching, conditions and pages (kiva/app/caching.hpp)
    Idempotency idempotency_;
    RateLimiter rate_limiter_;
    RouteTable table_;
    jobs::Registry jobs_;
    GroupCheck group_check_;
    std::map<std::string, ObjectCheck, std::less<>> object_checks_;
    observe::Metrics* metrics_ = nullptr;
    std::vector<BeforeRequest> before_;
    std::vector<AfterRequest> after_;
    /// 503s from the database: one error line a second in this process (an outage).
    mutable RepeatLimit unavailable_lines_{std::chrono::seconds(1)};
};

}  // namespace kiva
