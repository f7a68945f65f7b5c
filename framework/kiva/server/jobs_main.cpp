#include "kiva/server/jobs_main.hpp"

#include <signal.h>
#include <unistd.h>

#include "kiva/jobs/worker.hpp"

namespace kiva {

int run_jobs(const Config& config, const App& app, const db::QueryFile& queries, const Logger& log) {
    // The signals are taken by this thread alone (sigwait), before any other thread starts.
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, nullptr);
    jobs::Workers workers(app.jobs(), queries, config, log);
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
    log.info("jobs: stopped");
    return 0;
}

}  // namespace kiva
