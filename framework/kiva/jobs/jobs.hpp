#pragma once
/// @file
/// Jobs: work that does not fit in a request, queued in PostgreSQL (kiva_jobs) by the
/// request's own transaction and run by `kiva --jobs` workers (worker.hpp). Declared like
/// routes, one line each, with a typed payload and who may see them:
///
///     app.jobs().job<std::vector<std::string>>("import_stuff", import_stuff);
///     app.jobs().periodic("purge_sessions", std::chrono::minutes(10), purge_sessions);
///     app.jobs().cron("stuff_census", "0 * * * *", stuff_census);   // UTC (cron.hpp)
///
/// A handler is `R(JobContext&, T payload)` (periodic and cron: `R(JobContext&)`); R (void: null) is
/// written as the job's JSON result. It runs in one transaction with the row that marks the job done: its
/// database effects commit if and only if the job is done. What it throws fails the attempt
/// (retried with backoff), a JobError{final} or a 4xx HttpError/DbError fails it for good.
/// A request enqueues with `c.enqueue("import_stuff", names, {.unique_key = ...})`: the
/// payload is checked against the declared type (400), the job exists iff the request commits.

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <rapidjson/document.h>

#include "kiva/core/json.hpp"
#include "kiva/core/log.hpp"
#include "kiva/db/database.hpp"
#include "kiva/http/params.hpp"
#include "kiva/jobs/cron.hpp"

namespace kiva::jobs {

/// How a job is enqueued (all optional).
struct Options {
    /// Not before this instant (a scheduled job); else at once.
    std::optional<std::chrono::system_clock::time_point> run_at;
    /// Higher runs first among due jobs.
    int priority = 0;
    /// Attempts before the job is failed for good; 0: the declaration's.
    int max_attempts = 0;
    /// While a job with this key is queued or running, another is refused (409).
    std::optional<std::string> unique_key;
};

/// What a job's handler gets: the database (its transaction commits with the job's
/// completion), the job's identity, the enqueuing request's login and id (in log lines and
/// in the audit rows of its writes, as kiva.login and kiva.request_id).
struct JobContext {
    db::Database& db;
    const Logger& logger;
    int64_t id;
    std::string name;
    int attempt;
    int max_attempts;
    std::optional<std::string> user;
    std::string request_id;

    /// A log line `job NAME#ID: message` carrying the enqueuing request's id.
    void log(LogLevel level, std::string_view message) const;
};

/// Thrown by a handler: the attempt fails with this message; final: no retry.
class JobError : public std::runtime_error {
  public:
    explicit JobError(const std::string& message, bool final = false)
        : std::runtime_error(message), final_(final) {}
    bool final() const { return final_; }

  private:
    bool final_;
};

/// Converts a payload's JSON to T (400 `parameter "payload" must be ...` otherwise), with
/// the parameters' converters: strings, integers, numbers, booleans, dates, Json, lists.
template <typename T>
T decode_payload(const rapidjson::Value& v) {
    if constexpr (is_param_list<T>::value) {
        if (!v.IsArray()) bad_parameter("payload", "a list");
        T out;
        for (rapidjson::SizeType i = 0; i < v.Size(); ++i)
            out.push_back(ParamConverter<typename T::value_type>::convert(ParamValue{"payload", {}, &v[i]}));
        return out;
    } else {
        return ParamConverter<T>::convert(ParamValue{"payload", {}, &v});
    }
}

/// One declared job.
struct JobDecl {
    std::string name;
    /// Checks a payload (throws HttpError 400 when it does not fit the declared type).
    std::function<void(const rapidjson::Value&)> check;
    /// Runs the job; returns its result as JSON text.
    std::function<std::string(JobContext&, const rapidjson::Value&)> run;
    /// Besides the user who enqueued it, members of this group may see it ("" : nobody else).
    std::string viewers;
    int max_attempts = 5;
    /// Periodic jobs: their period (0: not periodic).
    std::chrono::seconds every{0};
    /// Cron jobs: their schedule (UTC).
    std::optional<Cron> cron;
    /// Run by the scheduler (periodic or cron), with no payload.
    bool scheduled() const { return every.count() > 0 || cron.has_value(); }
};

/// Who may see a job (GET /jobs/<id>) besides the user who enqueued it.
struct Visibility {
    std::string group = "ADMIN";
};

class Registry {
  public:
    /// A job with a payload of type T; handler: R(JobContext&, T).
    template <typename T, typename H>
    Registry& job(std::string name, H handler, Visibility v = {}, int max_attempts = 5) {
        JobDecl d;
        d.name = std::move(name);
        d.check = [](const rapidjson::Value& p) { (void)decode_payload<T>(p); };
        d.run = [handler = std::move(handler)](JobContext& c, const rapidjson::Value& p) {
            T payload = decode_payload<T>(p);
            return result_of([&] { return handler(c, std::move(payload)); });
        };
        d.viewers = std::move(v.group);
        d.max_attempts = max_attempts;
        return add(std::move(d));
    }

    /// A job run once per period across every host (periods are aligned on the epoch: every
    /// minute starts at :00); handler: R(JobContext&).
    template <typename H>
    Registry& periodic(std::string name, std::chrono::seconds every, H handler,
                       Visibility v = {}, int max_attempts = 1) {
        if (every.count() <= 0) throw std::logic_error("periodic job: the period must be positive");
        JobDecl d = scheduled_decl(std::move(name), std::move(handler), std::move(v), max_attempts);
        d.every = every;
        return add(std::move(d));
    }

    /// A job run at each instant of a cron schedule (cron.hpp: `"0 * * * *"`, every hour at
    /// :00, UTC), once per instant across every host; handler: R(JobContext&). A bad expression
    /// throws std::logic_error naming the job and the field (at start, as any declaration).
    template <typename H>
    Registry& cron(std::string name, std::string_view schedule, H handler, Visibility v = {},
                   int max_attempts = 1) {
        JobDecl d = scheduled_decl(std::move(name), std::move(handler), std::move(v), max_attempts);
        try {
            d.cron = Cron::parse(schedule);
        } catch (const std::invalid_argument& e) {
            std::string message = "job \"";  // piece by piece: GCC 12's -O3 -Wrestrict
            message += d.name;
            message += "\": cron \"";
            message += schedule;
            message += "\": ";
            message += e.what();
            throw std::logic_error(message);
        }
        return add(std::move(d));
    }

    const JobDecl* find(std::string_view name) const;
    const std::vector<JobDecl>& all() const { return decls_; }
    /// Every declared name (what a worker claims).
    std::vector<std::string> names() const;

    /// Inserts the job in db's current transaction; its id. Throws HttpError: 400 for an
    /// unknown name or a payload that does not fit, 409 when options.unique_key is pending.
    int64_t enqueue(db::Database& db, std::string_view name, std::string_view payload_json,
                    const Options& options, const std::optional<std::string>& user,
                    std::string_view request_id) const;

  private:
    Registry& add(JobDecl d);
    /// A periodic or cron job's declaration, but its schedule.
    template <typename H>
    static JobDecl scheduled_decl(std::string name, H handler, Visibility v, int max_attempts) {
        JobDecl d;
        d.name = std::move(name);
        d.check = [](const rapidjson::Value& p) {
            if (!p.IsNull()) bad_parameter("payload", "null (a periodic job has none)");
        };
        d.run = [handler = std::move(handler)](JobContext& c, const rapidjson::Value&) {
            return result_of([&] { return handler(c); });
        };
        d.viewers = std::move(v.group);
        d.max_attempts = max_attempts;
        return d;
    }
    /// f()'s value as JSON text ("null" for void).
    template <typename F>
    static std::string result_of(F&& f) {
        using R = decltype(f());
        if constexpr (std::is_void_v<R>) {
            f();
            return "null";
        } else {
            return js::serialize(f());
        }
    }
    std::vector<JobDecl> decls_;
};

}  // namespace kiva::jobs
