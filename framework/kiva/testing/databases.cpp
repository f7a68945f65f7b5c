#include "kiva/testing/databases.hpp"

#include <libpq-fe.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <random>
#include <stdexcept>

#include "kiva/testing/process.hpp"

namespace kiva::testing {

namespace {

using namespace std::chrono_literals;
using Connection = std::unique_ptr<PGconn, void (*)(PGconn*)>;

Connection connect(const std::string& conninfo) {
    Connection c(PQconnectdb((conninfo + " connect_timeout=10").c_str()), PQfinish);
    if (PQstatus(c.get()) != CONNECTION_OK)
        throw std::runtime_error("cannot connect to the test database server: " +
                                 std::string(PQerrorMessage(c.get())));
    return c;
}

std::string run_sql(PGconn* c, const std::string& sql) {
    std::unique_ptr<PGresult, void (*)(PGresult*)> r(PQexec(c, sql.c_str()), PQclear);
    auto status = PQresultStatus(r.get());
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK)
        throw std::runtime_error(sql + ": " + PQerrorMessage(c));
    return status == PGRES_TUPLES_OK && PQntuples(r.get()) > 0 ? PQgetvalue(r.get(), 0, 0) : "";
}

/// A database name no other test run on the same server uses.
std::string fresh_name(const char* prefix) {
    std::random_device random;
    char name[64];
    std::snprintf(name, sizeof name, "%s_%08x%08x", prefix, random(), random());
    return name;
}

}  // namespace

void execute(const std::string& conninfo, const std::string& sql) {
    run_sql(connect(conninfo).get(), sql);
}

SchemaTemplate::SchemaTemplate(const Postgres& server, const std::vector<std::string>& files)
    : server_(server), name_(fresh_name("kiva_test_template")) {
    std::string role;
    {
        auto c = connect(server_.conninfo());
        role = run_sql(c.get(), "SELECT current_user");
        run_sql(c.get(), "CREATE DATABASE " + name_);
    }
    try {
        auto log = std::filesystem::temp_directory_path() / (name_ + ".log");
        Command psql{{"psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-v", "owner=" + role, "-v",
                      "runtime=" + role, "-d", server_.conninfo(name_)},
                     log.string()};
        for (const auto& f : files) {
            if (!std::filesystem::exists(f))
                throw std::runtime_error("schema file " + f + " not found");
            psql.argv.insert(psql.argv.end(), {"-f", f});
        }
        try {
            run(psql, 120s);
        } catch (const std::runtime_error& e) {
            std::filesystem::remove(log);
            throw std::runtime_error(std::string("the schema does not load: ") + e.what());
        }
        std::filesystem::remove(log);
    } catch (...) {
        execute(server_.conninfo(), "DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
        throw;
    }
}

SchemaTemplate::~SchemaTemplate() {
    try {
        execute(server_.conninfo(), "DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
    } catch (const std::exception& e) {
        std::fprintf(stderr, "kiva::testing: %s\n", e.what());
    }
}

ClonedDatabase::ClonedDatabase(const Postgres& server, const SchemaTemplate& schema)
    : server_(server), name_(fresh_name("kiva_test")) {
    execute(server_.conninfo(), "CREATE DATABASE " + name_ + " TEMPLATE " + schema.name());
}

ClonedDatabase::~ClonedDatabase() {
    try {
        execute(server_.conninfo(), "DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
    } catch (const std::exception& e) {
        std::fprintf(stderr, "kiva::testing: %s\n", e.what());
    }
}

}  // namespace kiva::testing
