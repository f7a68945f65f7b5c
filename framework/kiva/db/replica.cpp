// The replica policy (db_replica): which query runs on the standby's connection, the
// fallback to the primary with a growing pause when the replica fails, and whether the
// server reached is a standby (a promoted one is reopened: see drop_if_closed).
// on_replica itself is in database_detail.hpp (a template, used by two files).
#include "kiva/db/database.hpp"

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>

#include "kiva/db/database_detail.hpp"
#include "kiva/observe/metrics.hpp"

namespace kiva::db {

void Database::use_replica(std::string conninfo) {
    replica_ = std::make_unique<Database>(queries_, std::move(conninfo), app_name_, log_, timeouts_);
    replica_->replica_of_ = this;
    replica_->observe(metrics_, slow_query_);
}

bool Database::standby() const {
    // PostgreSQL 14 and later report in_hot_standby, and report it again after a promotion
    // (with the answer to the connection's next statement).
    const char* standby = conn_ ? PQparameterStatus(conn_, "in_hot_standby") : nullptr;
    return standby && std::string_view(standby) == "on";
}

bool Database::to_replica(const Query& query) {
    if (!replica_ || !query.replica || in_transaction_ || lost_) return false;
    if (std::chrono::steady_clock::now() >= replica_retry_at_) return true;
    if (metrics_) metrics_->db_replica(observe::ReplicaRead::fallback);
    return false;
}

void Database::replica_answered() {
    replica_pause_ = std::chrono::milliseconds(0);
    if (metrics_)
        metrics_->db_replica(replica_->standby() ? observe::ReplicaRead::standby
                                                 : observe::ReplicaRead::primary);
}

bool Database::replica_failed(const DbError& e) {
    // Bad data (400) or a conflict (409) would be the same on the primary.
    int status = e.http_status();
    if (status == 400 || status == 409) return false;
    replica_->lost_ = false;  // the replica runs no transaction: the next query may try again
    using namespace std::chrono_literals;
    replica_pause_ = std::min<std::chrono::milliseconds>(replica_pause_.count() ? 2 * replica_pause_ : 1000ms, 30000ms);
    replica_retry_at_ = std::chrono::steady_clock::now() + replica_pause_;
    log_.warning("replica database failed (" + std::string(e.what()) +
                 "): its queries run on the primary for " +
                 std::to_string(replica_pause_.count() / 1000) + " s");
    if (metrics_) metrics_->db_replica(observe::ReplicaRead::fallback);
    return true;
}

}  // namespace kiva::db
