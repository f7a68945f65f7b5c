// The workers of `kiva --jobs`: claim, run, complete or fail (see worker.hpp). The listening
// connection is plain libpq: LISTEN needs a connection of its own that never runs a query.
#include "kiva/jobs/worker.hpp"

#include <libpq-fe.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "kiva/http/http_error.hpp"
#include "kiva/observe/metrics.hpp"
#include "kiva/security/queries.hpp"

namespace kiva::jobs {

using namespace std::chrono_literals;

Failure failure_of(std::exception_ptr e) {
    try {
        std::rethrow_exception(e);
    } catch (const JobError& err) {
        return {err.what(), err.final()};
    } catch (const HttpError& err) {
        return {std::to_string(err.status()) + ": " + err.what(),
                err.status() >= 400 && err.status() < 500};
    } catch (const db::DbError& err) {
        int status = err.http_status();
        if (status >= 400 && status < 500)  // the data says no: trying again changes nothing
            return {std::to_string(status) + ": " + err.client_message(), true};
        return {std::to_string(status) + ": " + err.what(), false};
    } catch (const std::exception& err) {
        return {std::string("internal error: ") + err.what(), false};
    } catch (...) {
        return {"internal error: unknown exception", false};
    }
}

std::chrono::milliseconds backoff(std::chrono::milliseconds base, int attempt, double random01) {
    double ms = static_cast<double>(base.count()) * std::pow(2.0, std::max(0, attempt - 1));
    ms = std::min(ms, 3600.0 * 1000.0);
    return std::chrono::milliseconds(static_cast<int64_t>(ms * (0.5 + random01 / 2)));
}

Workers::Workers(const Registry& registry, const db::QueryFile& queries, const Config& config,
                 const Logger& log)
    : registry_(registry), queries_(queries), config_(config), log_(log),
      names_(registry.names()) {
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    identity_ = std::string(host) + ":" + std::to_string(getpid());
}

Workers::~Workers() {
    stopping_ = true;
    wake_all();
    for (auto& t : threads_)
        if (t.joinable()) t.detach();  // stop() joined them, or the process is ending
}

void Workers::start() {
    {
        db::Database db(queries_, config_.database, config_.app_name, log_,
                        {config_.db_connect_timeout, config_.db_statement_timeout});
        try {
            for (const auto& row : db::FrameworkQueries(db).undeclared_jobs(names_).all())
                log_.warning(std::to_string(row.pending.value_or(0)) + " pending jobs named \"" +
                             row.name + "\", which this binary does not declare: not run");
            db.finish(true);
        } catch (const std::exception& e) {
            log_.warning(std::string("jobs: cannot check the queue's job names now: ") + e.what());
        }
    }
    log_.info("jobs: " + std::to_string(config_.jobs_threads) + " threads for " +
              std::to_string(names_.size()) + " declared jobs");
    threads_.emplace_back([this] { listen(); });
    threads_.emplace_back([this] { schedule(); });
    for (int i = 0; i < config_.jobs_threads; ++i) threads_.emplace_back([this, i] { work(i); });
}

bool Workers::stop(std::chrono::milliseconds bound) {
    stopping_ = true;
    wake_all();
    auto deadline = std::chrono::steady_clock::now() + bound;
    while (running_ > 0 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(10ms);
    if (running_ > 0) return false;
    for (auto& t : threads_) t.join();
    threads_.clear();
    return true;
}

void Workers::wake_all() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        ++generation_;
    }
    wake_.notify_all();
}

void Workers::wait(std::chrono::milliseconds wait) {
    std::unique_lock<std::mutex> lock(mutex_);
    uint64_t seen = generation_;
    wake_.wait_for(lock, wait, [&] { return stopping_ || generation_ != seen; });
}

void Workers::work(int index) {
    db::Database db(queries_, config_.database, config_.app_name, log_,
                    {config_.db_connect_timeout, config_.db_statement_timeout});
    db.observe(metrics_, config_.slow_query);
    std::string worker = identity_ + ":" + std::to_string(index);
    auto pause = config_.jobs_poll;
    while (!stopping_) {
        bool ran = false;
        try {
            ran = run_one(db, worker);
            pause = config_.jobs_poll;
        } catch (const std::exception& e) {  // the database is away: the next poll tries again
            try {
                db.finish(false);
            } catch (...) {
            }
            log_.warning("jobs: " + worker + ": " + e.what());
            wait(pause);
            pause = std::min(pause * 2, std::chrono::milliseconds(30s));
            continue;
        }
        if (!ran) wait(config_.jobs_poll);
    }
}

bool Workers::run_one(db::Database& db, const std::string& worker) {
    db::FrameworkQueries q(db);
    db.set_request_id("");
    // The claim (attempts + 1) commits on its own, in its round trip (claim_job says why its
    // commit need not wait for the disk).
    auto job = q.claim_job(worker, static_cast<int64_t>(config_.jobs_lease.count()), names_);
    if (!job) return false;
    auto began = std::chrono::steady_clock::now();
    using Outcome = observe::Metrics::JobOutcome;
    auto count = [&](Outcome o) {
        if (metrics_) metrics_->job_run(job->name, o, std::chrono::steady_clock::now() - began);
    };
    const JobDecl* decl = registry_.find(job->name);  // claimed by name: always declared
    JobContext c{db, log_, job->id, job->name, job->attempts, job->max_attempts,
                 job->enqueued_by, job->request_id.value_or("")};
    if (job->attempts > job->max_attempts) {  // leases ran out that many times: a crash loop
        q.fail_job(true, 0, "lease expired after the last attempt (the worker died?)", job->id,
                   job->attempts);
        db.finish(true);
        c.log(LogLevel::error, "failed: lease expired after its last attempt");
        count(Outcome::failed);
        return true;
    }
    ++running_;
    if (metrics_) metrics_->job_busy(1);
    std::string outcome;
    try {
        // BEGIN and the row's lock in one round trip; lock_job also sets the audit context of
        // its writes (the enqueuing request's login and id).
        if (!q.lock_job(job->id, job->attempts)) {  // reclaimed meanwhile: not ours any more
            db.finish(false);
            outcome = "lost";
        } else {
            db.set_request_id(c.request_id);  // the slow queries' log lines
            rapidjson::Document payload;
            payload.Parse(job->payload.value_or("null").c_str());
            std::string result = decl->run(c, payload);
            if (q.complete_job(result, job->id, job->attempts) != 1)
                throw std::runtime_error("the job's row changed under it");
            db.finish(true);  // its effects and its completion, together
            outcome = "done";
            c.log(LogLevel::info, "done (attempt " + std::to_string(job->attempts) + ")");
        }
    } catch (...) {
        Failure f = failure_of(std::current_exception());
        try {
            db.finish(false);
        } catch (...) {
        }
        static thread_local std::mt19937 random{std::random_device{}()};
        double r = std::uniform_real_distribution<double>(0.0, 1.0)(random);
        auto delay = f.final ? std::chrono::milliseconds(0)
                             : backoff(config_.jobs_retry_base, job->attempts, r);
        try {
            db.set_request_id(c.request_id);
            auto state = q.fail_job(f.final, static_cast<int64_t>(delay.count()), f.message,
                                    job->id, job->attempts);
            db.finish(true);
            outcome = state.value_or("lost") == "failed" ? "failed" : "retried";
            c.log(outcome == "failed" ? LogLevel::error : LogLevel::warning,
                  "attempt " + std::to_string(job->attempts) + " of " +
                      std::to_string(job->max_attempts) + " failed: " + f.message +
                      (outcome == "retried"
                           ? " (retried in " + std::to_string(delay.count()) + " ms)"
                           : ""));
        } catch (const std::exception& e) {  // the lease will make it claimable again
            outcome = "error";
            c.log(LogLevel::error, "failed: " + f.message + "; and could not record it: " + e.what());
            try {
                db.finish(false);
            } catch (...) {
            }
        }
    }
    if (metrics_) {
        metrics_->job_busy(-1);
        count(outcome == "done"      ? Outcome::done
              : outcome == "retried" ? Outcome::retried
              : outcome == "failed"  ? Outcome::failed
                                     : Outcome::lost);
    }
    --running_;
    return true;
}

void Workers::listen() {
    // As the workers' own connections (db/connection.cpp): the configured string expanded as
    // dbname, its keys winning; keepalives notice a server that vanished within about 20 s.
    std::string timeout = std::to_string(std::max<long long>(config_.db_connect_timeout.count(), 1));
    const char* keys[] = {"connect_timeout", "keepalives_idle", "keepalives_interval",
                          "keepalives_count", "dbname", "fallback_application_name", nullptr};
    const char* values[] = {timeout.c_str(), "10", "3", "3", config_.database.c_str(),
                            config_.app_name.c_str(), nullptr};
    PGconn* conn = nullptr;
    while (!stopping_) {
        if (!conn || PQstatus(conn) != CONNECTION_OK) {
            if (conn) PQfinish(conn);
            conn = PQconnectdbParams(keys, values, 1);
            PGresult* r = PQstatus(conn) == CONNECTION_OK ? PQexec(conn, "LISTEN kiva_jobs") : nullptr;
            bool ok = r && PQresultStatus(r) == PGRES_COMMAND_OK;
            if (r) PQclear(r);
            if (!ok) {
                PQfinish(conn);
                conn = nullptr;
                for (int i = 0; i < 10 && !stopping_; ++i) std::this_thread::sleep_for(100ms);
                continue;
            }
            wake_all();  // what was enqueued while nobody listened
        }
        pollfd p{PQsocket(conn), POLLIN, 0};
        int n = ::poll(&p, 1, 200);  // stopping_ is looked at five times a second
        if (n <= 0) continue;
        if (!PQconsumeInput(conn)) {
            PQfinish(conn);
            conn = nullptr;
            continue;
        }
        bool notified = false;
        while (PGnotify* note = PQnotifies(conn)) {
            notified = true;
            PQfreemem(note);
        }
        if (notified) wake_all();
    }
    if (conn) PQfinish(conn);
}

void Workers::purge(db::Database& db, const std::vector<const JobDecl*>& periodic) {
    constexpr int64_t batch = 1000;     // rows a transaction deletes
    constexpr int max_batches = 100;    // a round; the next one comes after purge_every
    int64_t keep = static_cast<int64_t>(config_.jobs_keep.count());
    int64_t purged = 0;
    int batches = 0;
    try {
        db::FrameworkQueries q(db);
        db.set_request_id("");
        while (batches < max_batches && !stopping_) {
            int64_t n = static_cast<int64_t>(q.purge_jobs(keep, batch));
            db.finish(true);
            ++batches;
            purged += n;
            if (n < batch) break;
        }
        auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
        for (const auto* d : periodic) {
            q.purge_job_periods(d->name, d->cron ? now - keep : (now - keep) / d->every.count());
            db.finish(true);
        }
    } catch (const std::exception& e) {
        try {
            db.finish(false);
        } catch (...) {
        }
        log_.warning(std::string("jobs: cannot purge finished jobs now: ") + e.what());
    }
    if (metrics_ && purged > 0) metrics_->jobs_purged(static_cast<std::uint64_t>(purged));
    if (purged > 0)
        log_.info("jobs: purged " + std::to_string(purged) + " finished jobs older than " +
                  std::to_string(keep) + " s (jobs_keep) in " + std::to_string(batches) +
                  " batches");
}

int64_t Workers::period_of(const JobDecl& d, int64_t now) {
    if (d.cron)  // the next instant, enqueued ahead to run at it
        return d.cron->next_after(std::chrono::sys_seconds(std::chrono::seconds(now)))
            .time_since_epoch()
            .count();
    return now / d.every.count();
}

void Workers::schedule() {
    std::vector<const JobDecl*> periodic;
    for (const auto& d : registry_.all())
        if (d.scheduled()) periodic.push_back(&d);
    bool purging = config_.jobs_keep.count() > 0;
    if (periodic.empty() && !purging) return;
    db::Database db(queries_, config_.database, config_.app_name, log_,
                    {config_.db_connect_timeout, config_.db_statement_timeout});
    std::vector<int64_t> done(periodic.size(), -1);  // the last period (instant) scheduled here
    auto next_purge = std::chrono::steady_clock::now();  // at start, then every purge_every
    while (!stopping_) {
        if (purging && std::chrono::steady_clock::now() >= next_purge) {
            purge(db, periodic);
            next_purge = std::chrono::steady_clock::now() + purge_every;
        }
        auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
        bool instant_came = false;
        for (std::size_t i = 0; i < periodic.size(); ++i) {
            const JobDecl& d = *periodic[i];
            int64_t period = period_of(d, now);
            if (period == done[i]) continue;
            std::optional<double> run_at;
            if (d.cron) {
                run_at = static_cast<double>(period);
                instant_came = instant_came || done[i] >= 0;  // the one scheduled before is due
            }
            try {
                db::FrameworkQueries(db).schedule_periodic_job(d.name, period, d.max_attempts,
                                                               run_at);
                db.finish(true);
                done[i] = period;
            } catch (const std::exception& e) {
                try {
                    db.finish(false);
                } catch (...) {
                }
                log_.warning("jobs: cannot schedule " + d.name + ": " + e.what());
            }
        }
        if (instant_came) wake_all();  // a cron job is due now: no need to wait for a poll
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait_for(lock, 1s, [&] { return stopping_.load(); });
    }
}

}  // namespace kiva::jobs
