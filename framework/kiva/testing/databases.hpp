#pragma once
/// @file
/// Test isolation by database: the schema is loaded once per test module into a template
/// database, and every test case gets its own copy (CREATE DATABASE ... TEMPLATE), dropped
/// when the case ends. App::handle commits what a request did (status < 400), so a test sees
/// its own writes across requests, exactly as a client of the real service would, and the
/// next test case starts from the schema again. A copy takes tens of milliseconds.

#include <string>
#include <vector>

#include "kiva/testing/postgres.hpp"

namespace kiva::testing {

/// Runs one SQL statement on the database of conninfo; throws std::runtime_error.
void execute(const std::string& conninfo, const std::string& sql);

/// A database holding the schema: every file, in order, run by psql (ON_ERROR_STOP) with the
/// variables owner and runtime set to the connecting role (the migrations' convention).
class SchemaTemplate {
  public:
    SchemaTemplate(const Postgres& server, const std::vector<std::string>& files);
    ~SchemaTemplate();
    SchemaTemplate(const SchemaTemplate&) = delete;
    SchemaTemplate& operator=(const SchemaTemplate&) = delete;

    const std::string& name() const { return name_; }

  private:
    const Postgres& server_;
    std::string name_;
};

/// One test case's copy of the template, dropped by the destructor.
class ClonedDatabase {
  public:
    ClonedDatabase(const Postgres& server, const SchemaTemplate& schema);
    ~ClonedDatabase();
    ClonedDatabase(const ClonedDatabase&) = delete;
    ClonedDatabase& operator=(const ClonedDatabase&) = delete;

    /// Where the application's Database connects.
    std::string conninfo() const { return server_.conninfo(name_); }

  private:
    const Postgres& server_;
    std::string name_;
};

}  // namespace kiva::testing
