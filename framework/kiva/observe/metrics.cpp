#include "kiva/observe/metrics.hpp"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <ctime>

#include "kiva/observe/exposition.hpp"

namespace kiva::observe {

namespace {

constexpr std::array<std::string_view, 8> methods = {"GET",   "HEAD",   "POST",    "PUT",
                                                     "PATCH", "DELETE", "OPTIONS", "other"};
constexpr std::array<int, 21> statuses = {200, 201, 204, 301, 302, 304, 308, 400, 401, 403, 404,
                                          405, 406, 409, 413, 414, 415, 422, 429, 500, 503};
// The last status slot counts any other code, by class (2xx...5xx): 4 more.
constexpr std::size_t status_slots = statuses.size() + 4;
constexpr std::array<std::string_view, 15> sqlstate_classes = {
    "08", "22", "23", "25", "28", "40", "42", "53", "54", "55", "57", "58", "P0", "XX", "other"};
/// What the shared cache was used for (kiva/security/shared_cache.hpp).
constexpr std::array<std::string_view, 5> cache_ops = {"password", "throttle", "token",
                                                       "revocation", "ratelimit"};
/// Which counter refused a request over its rate limit (kiva/security/rate_limit).
constexpr std::array<std::string_view, 2> rate_counters = {"host", "cluster"};
constexpr std::array<std::string_view, 5> schemes = {"basic", "param", "token", "httpd", "none"};
/// kiva_db_replica_queries_total{served_by}, in the order of ReplicaRead.
constexpr std::array<std::string_view, 3> replica_servers = {"standby", "primary", "fallback"};
/// kiva_jobs_runs_total{outcome}, in the order of Metrics::JobOutcome.
constexpr std::array<std::string_view, 4> job_outcomes = {"done", "retried", "failed", "lost"};
constexpr std::array<std::string_view, 8> reasons = {
    "missing_credentials", "unknown_user", "wrong_password", "invalid_token",
    "expired_token",       "wrong_scheme", "throttled",      "malformed"};

std::size_t method_index(std::string_view m) {
    for (std::size_t i = 0; i + 1 < methods.size(); ++i)
        if (methods[i] == m) return i;
    return methods.size() - 1;
}

template <typename List>
std::size_t index_of(const List& list, std::string_view v) {
    for (std::size_t i = 0; i + 1 < list.size(); ++i)
        if (list[i] == v) return i;
    return list.size() - 1;
}

std::string status_label(std::size_t i) {
    if (i < statuses.size()) return std::to_string(statuses[i]);
    return std::to_string(i - statuses.size() + 2) + "xx";
}

std::uint64_t fnv(std::uint64_t h, std::string_view s) {
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ULL;
    return (h ^ 0xff) * 1099511628211ULL;
}

/// Per histogram: one count per bucket, the count above the last bucket, the sum in ns.
std::size_t histogram_size(const std::vector<double>& bounds = Metrics::buckets()) {
    return bounds.size() + 2;
}

}  // namespace

std::string_view auth_failure_reason(std::string_view m) {
    auto starts = [&](std::string_view p) { return m.substr(0, p.size()) == p; };
    if (starts("missing")) return "missing_credentials";
    if (starts("no such user")) return "unknown_user";
    if (starts("invalid password")) return "wrong_password";
    if (starts("invalid token")) return "invalid_token";
    if (starts("expired token")) return "expired_token";
    if (starts("unexpected authorization scheme")) return "wrong_scheme";
    return "malformed";
}

const std::vector<double>& Metrics::buckets() {
    static const std::vector<double> b = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                          0.1,    0.25,  0.5,    1,     2.5,  5,     10};
    return b;
}

const std::vector<double>& Metrics::job_buckets() {
    static const std::vector<double> b = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
                                          2.5,   5,    10,    30,   60,  300,  900, 3600};
    return b;
}

Metrics::Metrics(const std::string& path, const std::vector<RouteLabel>& routes,
                 const std::vector<std::string>& queries, std::size_t slots,
                 const std::vector<std::string>& jobs)
    : queries_(queries), jobs_(jobs) {
    for (const auto& r : routes) {
        auto it = std::find(patterns_.begin(), patterns_.end(), r.pattern);
        route_pattern_.push_back(static_cast<std::size_t>(it - patterns_.begin()));
        if (it == patterns_.end()) patterns_.push_back(r.pattern);
    }
    patterns_.push_back("unmatched");
    for (std::size_t i = 0; i < queries_.size(); ++i) query_index_[queries_[i]] = i;
    for (std::size_t i = 0; i < jobs_.size(); ++i) job_index_[jobs_[i]] = i;

    std::size_t h = histogram_size();
    requests_ = 0;
    durations_ = requests_ + patterns_.size() * methods.size() * status_slots;
    query_durations_ = durations_ + patterns_.size() * methods.size() * h;
    db_errors_ = query_durations_ + queries_.size() * h;
    reconnects_ = db_errors_ + sqlstate_classes.size();
    switches_ = reconnects_ + 1;
    replica_reads_ = switches_ + 1;
    auth_ = replica_reads_ + replica_servers.size();
    password_cache_ = auth_ + schemes.size() * reasons.size();
    cache_errors_ = password_cache_ + 2;
    cache_fallbacks_ = cache_errors_ + cache_ops.size();
    cache_state_ = cache_fallbacks_ + cache_ops.size();
    busy_ = cache_state_ + 1;
    started_ = busy_ + 1;
    lost_ = started_ + 1;
    rate_limited_ = lost_ + 1;
    job_runs_ = rate_limited_ + patterns_.size() * rate_counters.size();
    job_durations_ = job_runs_ + jobs_.size() * job_outcomes.size();
    job_busy_ = job_durations_ + jobs_.size() * histogram_size(job_buckets());
    jobs_worker_ = job_busy_ + 1;
    jobs_purged_ = jobs_worker_ + 1;
    values_ = jobs_purged_ + 1;

    // Processes of the same release agree on the layout; another release gets a new file.
    std::uint64_t layout = 1469598103934665603ULL;
    for (const auto& p : patterns_) layout = fnv(layout, p);
    for (const auto& q : queries_) layout = fnv(layout, q);
    for (const auto& j : jobs_) layout = fnv(layout, j);
    layout = fnv(layout, std::to_string(values_));
    slots_ = std::make_unique<SlotFile>(path, layout, values_, slots);
}

SlotFile::Claim Metrics::start_process(bool jobs_worker) {
    SlotFile::Claim claim = slots_->claim();
    std::uint64_t* v = slots_->current();
    if (!claim.shared) {  // what a dead owner left is not busy, nor its view of the cache
        SlotFile::set(v, busy_, 0);
        SlotFile::set(v, job_busy_, 0);
        SlotFile::set(v, cache_state_, 0);
        SlotFile::set(v, jobs_worker_, jobs_worker ? 1 : 0);
    }
    if (claim.stale) SlotFile::add(v, lost_, 1);
    SlotFile::set(v, started_, static_cast<std::uint64_t>(std::time(nullptr)));
    return claim;
}

void Metrics::stop_process() {
    slots_->release();
}

std::size_t Metrics::status_index(int status) const {
    for (std::size_t i = 0; i < statuses.size(); ++i)
        if (statuses[i] == status) return i;
    int klass = std::clamp(status / 100, 2, 5);
    return statuses.size() + static_cast<std::size_t>(klass - 2);
}

void Metrics::observe(std::size_t at, std::chrono::nanoseconds took,
                      const std::vector<double>& b) {
    double seconds = std::chrono::duration<double>(took).count();
    std::size_t bucket = static_cast<std::size_t>(std::lower_bound(b.begin(), b.end(), seconds) -
                                                  b.begin());  // le: upper bound included
    std::uint64_t* v = slots_->current();
    SlotFile::add(v, at + bucket, 1);
    SlotFile::add(v, at + b.size() + 1,
                  static_cast<std::uint64_t>(std::max<long long>(took.count(), 0)));
}

void Metrics::request(int route, std::string_view method, int status,
                      std::chrono::nanoseconds took) {
    std::size_t p = route >= 0 && static_cast<std::size_t>(route) < route_pattern_.size()
                        ? route_pattern_[static_cast<std::size_t>(route)]
                        : patterns_.size() - 1;
    std::size_t m = method_index(method);
    SlotFile::add(slots_->current(),
                  requests_ + (p * methods.size() + m) * status_slots + status_index(status), 1);
    observe(durations_ + (p * methods.size() + m) * histogram_size(), took);
}

void Metrics::rate_limited(int route, std::string_view counted_by) {
    std::size_t p = route >= 0 && static_cast<std::size_t>(route) < route_pattern_.size()
                        ? route_pattern_[static_cast<std::size_t>(route)]
                        : patterns_.size() - 1;
    SlotFile::add(slots_->current(),
                  rate_limited_ + p * rate_counters.size() +
                      std::min(index_of(rate_counters, counted_by), rate_counters.size() - 1),
                  1);
}

void Metrics::query(std::string_view name, std::chrono::nanoseconds took) {
    auto it = query_index_.find(name);
    if (it != query_index_.end()) observe(query_durations_ + it->second * histogram_size(), took);
}

void Metrics::db_error(std::string_view sqlstate) {
    SlotFile::add(slots_->current(), db_errors_ + index_of(sqlstate_classes, sqlstate.substr(0, 2)),
                  1);
}

void Metrics::db_reconnect() {
    SlotFile::add(slots_->current(), reconnects_, 1);
}

void Metrics::db_switch() {
    SlotFile::add(slots_->current(), switches_, 1);
}

void Metrics::db_replica(ReplicaRead served_by) {
    SlotFile::add(slots_->current(), replica_reads_ + static_cast<std::size_t>(served_by), 1);
}

void Metrics::auth_failure(std::string_view scheme, std::string_view reason) {
    SlotFile::add(slots_->current(),
                  auth_ + index_of(schemes, scheme) * reasons.size() + index_of(reasons, reason),
                  1);
}

void Metrics::password_cache(bool hit) {
    SlotFile::add(slots_->current(), password_cache_ + (hit ? 0 : 1), 1);
}

void Metrics::cache(std::string_view op, int outcome) {
    std::uint64_t* v = slots_->current();
    std::size_t i = std::min(index_of(cache_ops, op), cache_ops.size() - 1);
    if (outcome == 1) SlotFile::add(v, cache_errors_ + i, 1);
    if (outcome != 0) SlotFile::add(v, cache_fallbacks_ + i, 1);
    if (outcome != 2) SlotFile::set(v, cache_state_, outcome == 0 ? 1 : 2);
}

void Metrics::busy(int delta) {
    SlotFile::add(slots_->current(), busy_,
                  static_cast<std::uint64_t>(static_cast<std::int64_t>(delta)));
}

void Metrics::job_run(std::string_view name, JobOutcome outcome, std::chrono::nanoseconds took) {
    auto it = job_index_.find(name);
    if (it == job_index_.end()) return;
    SlotFile::add(slots_->current(),
                  job_runs_ + it->second * job_outcomes.size() + static_cast<std::size_t>(outcome),
                  1);
    observe(job_durations_ + it->second * histogram_size(job_buckets()), took, job_buckets());
}

void Metrics::job_busy(int delta) {
    SlotFile::add(slots_->current(), job_busy_,
                  static_cast<std::uint64_t>(static_cast<std::int64_t>(delta)));
}

void Metrics::jobs_purged(std::uint64_t n) {
    SlotFile::add(slots_->current(), jobs_purged_, n);
}

std::string Metrics::exposition(std::string_view release) const {
    // The sums of every slot ever used; gauges only from the slots of running processes.
    std::vector<std::uint64_t> total(values_, 0);
    std::int64_t busy = 0, jobs_busy = 0;
    std::uint64_t processes = 0, jobs_processes = 0, newest_start = 0, cache_seen = 0, cache_down = 0;
    for (std::size_t s = 0; s < slots_->slots(); ++s) {
        if (!slots_->used(s)) continue;
        const std::uint64_t* v = slots_->slot_values(s);
        for (std::size_t i = 0; i < values_; ++i) total[i] += SlotFile::get(v, i);
        if (!slots_->live(s)) continue;
        if (SlotFile::get(v, jobs_worker_) != 0) {  // a `kiva --jobs` process
            ++jobs_processes;
            jobs_busy += static_cast<std::int64_t>(SlotFile::get(v, job_busy_));
            continue;
        }
        ++processes;
        cache_seen += SlotFile::get(v, cache_state_) != 0;
        cache_down += SlotFile::get(v, cache_state_) == 2;
        busy += static_cast<std::int64_t>(SlotFile::get(v, busy_));
        newest_start = std::max(newest_start, SlotFile::get(v, started_));
    }
    Exposition out;
    const std::size_t h = histogram_size();
    auto histogram = [&](std::size_t at, const Labels& labels,
                         const std::vector<double>& bounds = buckets()) {
        std::uint64_t count = 0;
        for (std::size_t b = 0; b <= bounds.size(); ++b) count += total[at + b];
        if (count == 0) return;
        std::uint64_t cumulative = 0;
        for (std::size_t b = 0; b < bounds.size(); ++b) {
            cumulative += total[at + b];
            out.bucket(labels, bounds[b], cumulative);
        }
        out.bucket(labels, -1, count);
        out.sum_count(labels, static_cast<double>(total[at + bounds.size() + 1]) / 1e9, count);
    };

    out.family(
        "kiva_http_requests_total", "counter",
        "HTTP requests answered by the worker, by declared route pattern, method and status.");
    for (std::size_t p = 0; p < patterns_.size(); ++p)
        for (std::size_t m = 0; m < methods.size(); ++m)
            for (std::size_t s = 0; s < status_slots; ++s)
                if (auto n = total[requests_ + (p * methods.size() + m) * status_slots + s])
                    out.sample({{"route", patterns_[p]},
                                {"method", std::string(methods[m])},
                                {"status", status_label(s)}},
                               static_cast<double>(n));
    out.family("kiva_http_request_duration_seconds", "histogram",
               "Time from the request's arrival in the worker to its last log line, by route "
               "pattern and method.");
    for (std::size_t p = 0; p < patterns_.size(); ++p)
        for (std::size_t m = 0; m < methods.size(); ++m)
            histogram(durations_ + (p * methods.size() + m) * h,
                      {{"route", patterns_[p]}, {"method", std::string(methods[m])}});
    out.family("kiva_db_query_duration_seconds", "histogram",
               "Time of each named query's round trip to PostgreSQL, by query name.");
    for (std::size_t q = 0; q < queries_.size(); ++q)
        histogram(query_durations_ + q * h, {{"query", queries_[q]}});
    out.family(
        "kiva_db_errors_total", "counter",
        "Failed statements, by SQLSTATE class (08 connection, 23 integrity, 40 rollback...).");
    for (std::size_t c = 0; c < sqlstate_classes.size(); ++c)
        out.sample({{"sqlstate_class", std::string(sqlstate_classes[c])}},
                   static_cast<double>(total[db_errors_ + c]));
    out.family("kiva_db_reconnects_total", "counter",
               "Database connections opened again after one was lost or could not be made.");
    out.sample({}, static_cast<double>(total[reconnects_]));
    out.family("kiva_db_server_switches_total", "counter",
               "Database connections opened again on another server than before (a failover "
               "to a new primary: one per connection).");
    out.sample({}, static_cast<double>(total[switches_]));
    out.family("kiva_db_replica_queries_total", "counter",
               "Queries marked replica (db_replica), by what ran them: a standby, the replica "
               "connection's server that was no standby, or the primary connection (fallback).");
    for (std::size_t r = 0; r < replica_servers.size(); ++r)
        out.sample({{"served_by", std::string(replica_servers[r])}},
                   static_cast<double>(total[replica_reads_ + r]));
    out.family("kiva_auth_failures_total", "counter",
               "Authentications refused (401), by scheme and reason.");
    for (std::size_t s = 0; s < schemes.size(); ++s)
        for (std::size_t r = 0; r < reasons.size(); ++r)
            if (auto n = total[auth_ + s * reasons.size() + r])
                out.sample(
                    {{"scheme", std::string(schemes[s])}, {"reason", std::string(reasons[r])}},
                    static_cast<double>(n));
    out.family("kiva_password_cache_total", "counter",
               "Password checks answered by the cache of good checks (hit) or by bcrypt (miss).");
    out.sample({{"result", "hit"}}, static_cast<double>(total[password_cache_]));
    out.sample({{"result", "miss"}}, static_cast<double>(total[password_cache_ + 1]));
    out.family("kiva_cache_errors_total", "counter",
               "Shared cache (Redis) operations that failed (connection, timeout, error reply), "
               "by what they were for.");
    for (std::size_t i = 0; i < cache_ops.size(); ++i)
        out.sample({{"op", std::string(cache_ops[i])}},
                   static_cast<double>(total[cache_errors_ + i]));
    out.family("kiva_cache_fallbacks_total", "counter",
               "Uses of the shared cache answered without it (PostgreSQL, the password check) "
               "because Redis failed or was backed off after a failure.");
    for (std::size_t i = 0; i < cache_ops.size(); ++i)
        out.sample({{"op", std::string(cache_ops[i])}},
                   static_cast<double>(total[cache_fallbacks_ + i]));
    out.family("kiva_cache_up", "gauge",
               "1 when the last shared cache operation of every running worker process that used "
               "it succeeded, 0 when one failed; absent without a cache in use.");
    if (cache_seen) out.sample({}, cache_down ? 0 : 1);
    out.family("kiva_threads_busy", "gauge",
               "Request threads serving a request now, in every worker process.");
    out.sample({}, static_cast<double>(std::max<std::int64_t>(busy, 0)));
    out.family("kiva_worker_processes", "gauge",
               "Worker processes running (holding a metrics slot).");
    out.sample({}, static_cast<double>(processes));
    out.family("kiva_worker_lost_total", "counter",
               "Worker processes that ended without giving their slot back (killed or crashed).");
    out.sample({}, static_cast<double>(total[lost_]));
    out.family("kiva_rate_limited_total", "counter",
               "Requests refused with 429 over a rate limit, by route and by the counter that "
               "refused them (host: this host's, cluster: the shared cache's).");
    for (std::size_t p = 0; p < patterns_.size(); ++p)
        for (std::size_t r = 0; r < rate_counters.size(); ++r)
            if (auto n = total[rate_limited_ + p * rate_counters.size() + r])
                out.sample({{"route", patterns_[p]}, {"counted_by", std::string(rate_counters[r])}},
                           static_cast<double>(n));
    out.family("kiva_process_start_time_seconds", "gauge",
               "Start time of the most recently started running worker process, in seconds since "
               "the epoch.");
    out.sample({}, static_cast<double>(newest_start));
    if (!jobs_.empty()) {
        out.family("kiva_jobs_runs_total", "counter",
                   "Job attempts run by the jobs workers (kiva --jobs), by job name and outcome: "
                   "done, retried (failed, queued again), failed (for good), lost (reclaimed "
                   "meanwhile, or its failure could not be recorded).");
        for (std::size_t j = 0; j < jobs_.size(); ++j)
            for (std::size_t o = 0; o < job_outcomes.size(); ++o)
                if (auto n = total[job_runs_ + j * job_outcomes.size() + o])
                    out.sample({{"name", jobs_[j]}, {"outcome", std::string(job_outcomes[o])}},
                               static_cast<double>(n));
        out.family("kiva_jobs_run_duration_seconds", "histogram",
                   "Time of each job attempt in a jobs worker, from its claim to its outcome "
                   "recorded, by job name.");
        for (std::size_t j = 0; j < jobs_.size(); ++j)
            histogram(job_durations_ + j * histogram_size(job_buckets()), {{"name", jobs_[j]}},
                      job_buckets());
        out.family("kiva_jobs_workers_busy", "gauge",
                   "Jobs worker threads running a job now, in every running jobs worker process "
                   "of the instance.");
        out.sample({}, static_cast<double>(std::max<std::int64_t>(jobs_busy, 0)));
        out.family("kiva_jobs_worker_processes", "gauge",
                   "Jobs worker processes (kiva --jobs) running and sharing this instance's "
                   "metrics file.");
        out.sample({}, static_cast<double>(jobs_processes));
        out.family("kiva_jobs_purged_total", "counter",
                   "Finished jobs deleted by the jobs workers' purge (older than jobs_keep).");
        out.sample({}, static_cast<double>(total[jobs_purged_]));
    }
    out.family("kiva_build_info", "gauge", "The release the worker binary carries (always 1).");
    out.sample({{"release", std::string(release)}}, 1);
    return out.take();
}

}  // namespace kiva::observe
