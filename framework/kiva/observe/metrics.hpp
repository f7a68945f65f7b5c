#pragma once
/// @file
/// Metrics: the counters of an instance, kept in per-process slots shared by all its worker
/// processes (see slots.hpp), and their Prometheus text exposition, summed over every slot.
///
/// Every label takes its values from a list fixed at start: the declared route patterns
/// (never a raw path; "unmatched" for the rest), the named queries, known methods, statuses,
/// SQLSTATE classes, schemes and reasons. Cardinality is bounded, and the layout of the
/// counters is the same in every process of a release.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "kiva/observe/slots.hpp"

namespace kiva {
class Logger;
}

namespace kiva::observe {

/// One declared route: its method and pattern, in the route table's order.
struct RouteLabel {
    std::string method;
    std::string pattern;
};

/// Why an authentication failed, for kiva_auth_failures_total{reason}: from the message.
std::string_view auth_failure_reason(std::string_view message);

/// What ran a query marked `-- kiva: replica`, for kiva_db_replica_queries_total{served_by}.
enum class ReplicaRead { standby, primary, fallback };

class Metrics {
  public:
    /// path: the instance's shared file ("" for memory shared with forked children only).
    /// jobs: the declared job names (kiva_jobs_runs_total and its histogram).
    Metrics(const std::string& path, const std::vector<RouteLabel>& routes,
            const std::vector<std::string>& queries, std::size_t slots = 64,
            const std::vector<std::string>& jobs = {});

    /// In each serving process, after any fork: claims its slot; false when it had to share.
    /// jobs_worker: a `kiva --jobs` process (counted apart from the HTTP worker processes).
    SlotFile::Claim start_process(bool jobs_worker = false);
    /// Before a serving process exits: gives its slot back.
    void stop_process();

    /// route: the index in the route table, or -1 when no route matched.
    void request(int route, std::string_view method, int status, std::chrono::nanoseconds took);
    void query(std::string_view name, std::chrono::nanoseconds took);
    void db_error(std::string_view sqlstate);
    void db_reconnect();
    /// A connection opened again reached another server than before (a failover).
    void db_switch();
    void db_replica(ReplicaRead served_by);
    /// scheme: basic, param, token, httpd or none (no credentials at all).
    void auth_failure(std::string_view scheme, std::string_view reason);
    void password_cache(bool hit);
    /// A use of the shared cache (op: password, throttle, token, revocation, ratelimit); outcome 0: it
    /// answered, 1: it failed, 2: skipped while backing off after a failure.
    void cache(std::string_view op, int outcome);
    /// A request refused over its rate limit (route: its index in the route table), by the
    /// counter that refused it: "host" or "cluster".
    void rate_limited(int route, std::string_view counted_by);
    /// A request thread starts (+1) or ends (-1) a request.
    void busy(int delta);
    /// What a jobs worker's run of a declared job came to.
    enum class JobOutcome { done, retried, failed, lost };
    void job_run(std::string_view name, JobOutcome outcome, std::chrono::nanoseconds took);
    /// A jobs worker thread starts (+1) or ends (-1) running a job.
    void job_busy(int delta);
    /// Finished jobs deleted by a jobs worker's purge (jobs_keep).
    void jobs_purged(std::uint64_t n);

    /// Everything, in the Prometheus text format (version 0.0.4), summed over every process.
    std::string exposition(std::string_view release) const;

    static const std::vector<double>& buckets();
    /// The jobs' run duration buckets: up to an hour.
    static const std::vector<double>& job_buckets();

  private:
    std::size_t status_index(int status) const;
    void observe(std::size_t at, std::chrono::nanoseconds took,
                 const std::vector<double>& bounds = buckets());

    std::vector<std::string> patterns_;       // distinct, + "unmatched" last
    std::vector<std::size_t> route_pattern_;  // route index -> pattern index
    std::vector<std::string> queries_;
    std::unordered_map<std::string_view, std::size_t> query_index_;
    std::vector<std::string> jobs_;
    std::unordered_map<std::string_view, std::size_t> job_index_;
    // Offsets of each family in a slot.
    std::size_t requests_, durations_, query_durations_, db_errors_, reconnects_, switches_, replica_reads_, auth_,
        password_cache_, cache_errors_, cache_fallbacks_, cache_state_, busy_, started_, lost_,
        rate_limited_, job_runs_, job_durations_, job_busy_, jobs_worker_, jobs_purged_, values_;
    std::unique_ptr<SlotFile> slots_;
};

/// The metrics of every route of table (all declared), every named query and every declared
/// job, in the file at path (see Metrics).
template <typename Table, typename Queries>
std::unique_ptr<Metrics> make_metrics(const std::string& path, const Table& table,
                                      const Queries& queries,
                                      const std::vector<std::string>& jobs = {}) {
    std::vector<RouteLabel> routes;
    for (const auto& e : table.entries()) routes.push_back({e.method, e.pattern.text()});
    std::vector<std::string> names;
    for (const auto& q : queries.queries()) names.push_back(q.name);
    return std::make_unique<Metrics>(path, routes, names, 64, jobs);
}

}  // namespace kiva::observe
