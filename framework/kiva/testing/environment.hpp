#pragma once
/// @file
/// What a test module shares: in process, the App (declared once, checked), the queries and
/// a PostgreSQL holding a template of the schema; at a URL, only where it is. It reads:
///
///   KIVA_TEST_URL       http[s]://host[:port]/mount: send real HTTP requests there instead
///   KIVA_TEST_DATABASE  a libpq conninfo of a server whose role may create databases
///                       (else a throwaway cluster is started, and removed at the end)
///   KIVA_TEST_TIMEOUT   seconds a request may take at a URL (10)
///   KIVA_TEST_CA        a CA file for https:// (besides the system's); KIVA_TEST_INSECURE=1
///                       accepts any certificate
///   KIVA_SQL_DIR        the framework's SQL (its create.sql is loaded before the schema)

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "kiva/app/app.hpp"
#include "kiva/core/config.hpp"
#include "kiva/core/log.hpp"
#include "kiva/db/query_file.hpp"
#include "kiva/db/typed.hpp"
#include "kiva/testing/client.hpp"
#include "kiva/testing/databases.hpp"
#include "kiva/testing/http_client.hpp"
#include "kiva/testing/postgres.hpp"

namespace kiva::testing {

/// The application under test, as its main gives it to kiva::main, plus its schema.
struct Setup {
    /// Declares its routes and callbacks.
    std::function<void(App&)> declare;
    /// Its typed queries (`Queries::compiled()`, `Queries::first`) and its queries file.
    std::span<const db::CompiledQuery> queries;
    std::size_t first_query = 0;
    std::string queries_file;
    /// Its schema (create.sql or migrations, then test data), loaded after the framework's.
    std::vector<std::string> schema;
    /// The framework's SQL directory (its create.sql); KIVA_SQL_DIR wins.
    std::string framework_sql;
    /// Changes to the test configuration (already: test_mode, password_cost 4, log errors).
    std::function<void(Config&)> configure;
    /// Passwords, default scheme, login route: see ClientOptions.
    ClientOptions client;
};

class Environment {
  public:
    /// Starts what the mode needs; throws std::runtime_error when it cannot.
    explicit Environment(Setup setup);
    ~Environment();
    Environment(const Environment&) = delete;
    Environment& operator=(const Environment&) = delete;

    /// true in process, false at a URL.
    bool in_process() const { return !url_; }
    /// A client for one test case: in process, on a fresh copy of the schema.
    Client client() const;
    /// In process: the App (nullptr at a URL).
    const App* app() const { return app_.get(); }

  private:
    Setup setup_;
    std::optional<Url> url_;
    Tls tls_;
    std::chrono::milliseconds timeout_{10000};
    // In process only, in the order they are made (and unmade in reverse).
    Config config_;
    std::unique_ptr<Logger> log_;
    std::unique_ptr<App> app_;
    std::optional<db::QueryFile> queries_;
    std::unique_ptr<Postgres> server_;
    std::unique_ptr<SchemaTemplate> schema_;
};

}  // namespace kiva::testing
