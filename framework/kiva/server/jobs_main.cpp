#include "kiva/server/jobs_main.hpp"

#include <signal.h>
#include <unistd.h>

#include "kiva/jobs/worker.hpp"
#include "kiva/observe/metrics.hpp"

namespace kiva {

int run_jobs(const Config& config, const App& app, const db::QueryFile& queries, const Logger& log,
             observe::Metrics* metrics) {
    // The signals are taken by this thread alone (sigwait), before any other thread starts.
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, nullptr);
    if (metrics && metrics->start_process(true).shared)
        log.warning("every metrics slot is taken by a running process: sharing the last one");
    jobs::Workers workers(app.jobs(), queries, config, log);
    workers.observe(metrics);
    workers.start();
    int sig = 0;
    while (sigwait(&stop, &sig) != 0) {
    }
    log.info(std::string("jobs: ") + (sig == SIGTERM ? "SIGTERM" : "SIGINT") +
             ": finishing the jobs running (at most " + std::to_string(config.stop_timeout.count()) +
             " s)");
    if (!workers.stop(config.stop_timeout)) {
        log.warning("jobs: jobs still running after stop_timeout: they are rolled back and run "
                    "again after their lease");
        _exit(1);  // their threads hold connections: ending the process ends their transactions
    }
    if (metrics) metrics->stop_process();
    log.info("jobs: stopped");
    return 0;
}

}  // namespace kiva
