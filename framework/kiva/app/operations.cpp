#include "kiva/app/operations.hpp"

#include "kiva/observe/exposition.hpp"
#include "kiva/observe/health.hpp"
#include "kiva/observe/metrics.hpp"
#include "kiva/observe/release.hpp"
#include "kiva/security/queries.hpp"

namespace kiva::observe {

namespace {

/// The job queue's gauges (docs/jobs.md), read from kiva_jobs at each scrape: the pending
/// jobs are shared by every host, so any worker's /metrics tells the same. Nothing when the
/// database does not answer (the request's other families still do).
std::string job_families(Context& c) {
    try {
        auto rows = db::FrameworkQueries(c.db).job_queue_stats().all();
        Exposition e;
        auto gauge = [&](const char* name, const char* help, auto value) {
            e.family(name, "gauge", help);
            for (const auto& r : rows) e.sample({{"name", r.name}}, value(r));
        };
        gauge("kiva_jobs_due", "Jobs queued and due, waiting for a worker, by job name.",
              [](const auto& r) { return static_cast<double>(r.due.value_or(0)); });
        gauge("kiva_jobs_scheduled", "Jobs queued for later (run_at, a retry's backoff), by job name.",
              [](const auto& r) { return static_cast<double>(r.scheduled.value_or(0)); });
        gauge("kiva_jobs_running", "Jobs claimed by a worker (workers busy), by job name.",
              [](const auto& r) { return static_cast<double>(r.running.value_or(0)); });
        gauge("kiva_jobs_oldest_due_seconds", "Age of the oldest due job, by job name.",
              [](const auto& r) { return r.oldest_due_seconds.value_or(0.0); });
        return e.take();
    } catch (const std::exception&) {
        return {};
    }
}

}  // namespace

void operations_routes(Routes routes, const Config& config,
                       const std::unique_ptr<Metrics>* metrics) {
    routes.get("/health", OPEN, [&config](Context&) {
        bool up = database_answers(config.database, config.app_name, config.health_timeout);
        Response r = json(object{{"status", up ? "ok" : "unavailable"},
                                 {"database", up ? "ok" : "unavailable"},
                                 {"release", release()}},
                          up ? 200 : 503);
        r.header("Cache-Control", "no-store");
        return r;
    }).rate_limit("off");  // probes and scrapers: the front end says who may call them
    if (!metrics) return;
    routes.get("/metrics", OPEN, [metrics](Context& c) {
        if (!*metrics) throw HttpError(404, "not found");
        Response r;
        r.body = (*metrics)->exposition(release()) + job_families(c);
        r.content_type = "text/plain; version=0.0.4; charset=utf-8";
        r.header("Cache-Control", "no-store");
        return r;
    }).rate_limit("off");
}

}  // namespace kiva::observe
