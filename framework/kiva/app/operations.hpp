#pragma once
/// @file
/// The operations routes, OPEN and never cached:
///   GET /health   200 {"status": "ok", "database": "ok", "release": "..."}, or 503 with
///                 "database": "unavailable" when no query answers within health_timeout;
///   GET /metrics  the Prometheus text exposition of every worker process of the instance
///                 (when metrics is on). Who may reach it is the front end's decision: the
///                 shipped nginx and Apache configurations allow loopback and a monitoring
///                 network only.

#include <memory>

#include "kiva/app/routes.hpp"
#include "kiva/core/config.hpp"

namespace kiva::observe {

class Metrics;

/// Declares /health, and /metrics when metrics is given: it is read when a scrape comes, so
/// that the metrics can be made once every route, these included, is declared.
void operations_routes(Routes routes, const Config& config,
                       const std::unique_ptr<Metrics>* metrics);

}  // namespace kiva::observe
