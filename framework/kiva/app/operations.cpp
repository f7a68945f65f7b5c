#include "kiva/app/operations.hpp"

#include "kiva/observe/health.hpp"
#include "kiva/observe/metrics.hpp"
#include "kiva/observe/release.hpp"

namespace kiva::observe {

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
    routes.get("/metrics", OPEN, [metrics](Context&) {
        if (!*metrics) throw HttpError(404, "not found");
        Response r;
        r.body = (*metrics)->exposition(release());
        r.content_type = "text/plain; version=0.0.4; charset=utf-8";
        r.header("Cache-Control", "no-store");
        return r;
    }).rate_limit("off");
}

}  // namespace kiva::observe
