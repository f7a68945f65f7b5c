#pragma once
/// @file
/// `kiva --jobs`: the same binary runs the application's declared jobs instead of serving
/// requests (kiva/jobs/worker.hpp), until SIGTERM or SIGINT: then the jobs running finish
/// within stop_timeout, and the process exits (a job cut short is rolled back and runs again
/// once its lease has run out).

#include "kiva/app/app.hpp"
#include "kiva/core/config.hpp"
#include "kiva/core/log.hpp"
#include "kiva/db/query_file.hpp"

namespace kiva {

/// Runs the workers until a stop signal; the process's exit status. metrics: the instance's
/// shared counters (metrics_file), where the HTTP worker's /metrics reads the runs; or null.
int run_jobs(const Config& config, const App& app, const db::QueryFile& queries, const Logger& log,
             observe::Metrics* metrics = nullptr);

}  // namespace kiva
