#pragma once
/// @file
/// Workers: what `kiva --jobs` runs. N threads (jobs_threads), each with its own connection,
/// claim due jobs with `FOR UPDATE SKIP LOCKED` under a lease (jobs_lease) and run each in a
/// transaction that also marks it done. They wake on NOTIFY kiva_jobs (one listening
/// connection) or every jobs_poll at the latest. A failed attempt is retried after an
/// exponential backoff with jitter (jobs_retry_base, doubled each attempt, at most an hour),
/// then the job is failed with its last error. A killed worker's job is claimable again once
/// its lease has run out: its transaction died with its connection, so nothing of it stayed.
/// A scheduler thread enqueues each periodic job once per period, and each cron job once per
/// instant, ahead, to run at it (kiva_job_periods), and purges finished jobs older than
/// jobs_keep at start and every minute.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "kiva/core/config.hpp"
#include "kiva/core/log.hpp"
#include "kiva/db/database.hpp"
#include "kiva/jobs/jobs.hpp"

namespace kiva::observe {
class Metrics;
}

namespace kiva::jobs {

/// What one attempt's failure means: retried (after delay) or failed for good.
struct Failure {
    std::string message;
    bool final = false;
};

/// The failure an exception thrown by a job's handler stands for (4xx: final).
Failure failure_of(std::exception_ptr e);

/// The backoff before attempt + 1: base * 2^(attempt-1), at most an hour, times a random
/// factor in [0.5, 1) (jitter: retries of many jobs failed together spread out).
std::chrono::milliseconds backoff(std::chrono::milliseconds base, int attempt, double random01);

class Workers {
  public:
    /// What kiva_job_periods records for a periodic job at `now` (seconds since the epoch):
    /// its period's number (now / period); for a cron job, its next instant after now (seconds
    /// since the epoch), which the scheduler enqueues ahead to run at that instant.
    static int64_t period_of(const JobDecl& d, int64_t now);

    Workers(const Registry& registry, const db::QueryFile& queries, const Config& config,
            const Logger& log);
    ~Workers();
    Workers(const Workers&) = delete;
    Workers& operator=(const Workers&) = delete;

    void observe(observe::Metrics* metrics) { metrics_ = metrics; }

    /// Reports pending jobs of names not declared (never run), then starts the threads.
    void start();
    /// Asks every thread to stop after its current job and waits for them at most `bound`;
    /// false when some job was still running then (its transaction dies with the process).
    bool stop(std::chrono::milliseconds bound);

  private:
    void work(int index);
    /// Claims and runs one job; false when none was due.
    bool run_one(db::Database& db, const std::string& worker);
    void listen();
    /// The scheduler thread: periodic jobs' periods, and the purge every purge_every.
    void schedule();
    /// Deletes finished jobs older than jobs_keep, in bounded batches (a transaction each),
    /// and the periods of periodic jobs as old.
    void purge(db::Database& db, const std::vector<const JobDecl*>& periodic);
    static constexpr std::chrono::minutes purge_every{1};
    /// Waits until woken (NOTIFY, a cron instant), stopping, or `wait` has passed.
    void wait(std::chrono::milliseconds wait);
    void wake_all();

    const Registry& registry_;
    const db::QueryFile& queries_;
    const Config& config_;
    const Logger& log_;
    observe::Metrics* metrics_ = nullptr;
    std::vector<std::string> names_;
    std::string identity_;  ///< host:pid
    std::atomic<bool> stopping_{false};
    std::atomic<int> running_{0};
    std::mutex mutex_;
    std::condition_variable wake_;
    uint64_t generation_ = 0;
    std::vector<std::thread> threads_;
};

}  // namespace kiva::jobs
