#pragma once
/// @file
/// The PostgreSQL server the in-process tests run against: the one KIVA_TEST_DATABASE names
/// (a libpq conninfo whose role may create databases: nothing is started), or a throwaway
/// cluster started here as framework/tools/querygen.sh does (initdb as the postgres account
/// in a fresh directory under /var/tmp, a unix socket there only, so no port can clash),
/// stopped and removed by the destructor.

#include <sys/types.h>
#include <optional>
#include <string>
#include <string_view>

namespace kiva::testing {

class Postgres {
  public:
    /// conninfo: a server to use as it is; nullopt: start a throwaway cluster (throws
    /// std::runtime_error when it cannot, with initdb's or postgres's last log lines).
    explicit Postgres(std::optional<std::string> conninfo);
    ~Postgres();
    Postgres(const Postgres&) = delete;
    Postgres& operator=(const Postgres&) = delete;

    /// A conninfo to database `dbname` on this server (the given conninfo with its dbname
    /// replaced; "" keeps the given one, or "postgres" for a throwaway cluster).
    std::string conninfo(std::string_view dbname = {}) const;
    /// Where the throwaway cluster lives ("" for a given server): its logs are there.
    const std::string& directory() const { return dir_; }

  private:
    void start();
    void stop();

    std::string given_;
    std::string dir_;
    pid_t pid_ = -1;
};

}  // namespace kiva::testing
