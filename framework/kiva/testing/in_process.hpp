#pragma once
/// @file
/// The in-process mode: each request is a plain Request run through App::handle, as the
/// server would, against this test case's own copy of the schema (ClonedDatabase).

#include <cstdint>
#include <memory>

#include "kiva/app/app.hpp"
#include "kiva/db/database.hpp"
#include "kiva/testing/databases.hpp"
#include "kiva/testing/transport.hpp"

namespace kiva::testing {

class InProcess : public Transport {
  public:
    /// Connects a Database to a fresh copy of schema (throws std::runtime_error when the
    /// copy or the connection fails).
    InProcess(const App& app, const db::QueryFile& queries, const Postgres& server,
              const SchemaTemplate& schema, const Logger& log);

    Reply send(const Outgoing& request) override;
    std::optional<std::string> token_for(std::string_view login) override;
    std::optional<std::string> cookie_for(std::string_view login) override;
    std::string csrf_header() const override;

  private:
    const App& app_;
    ClonedDatabase database_;
    db::Database db_;
    int64_t sent_ = 0;
};

/// The CGI environment the front end would give for this request (HTTP_* for headers).
std::vector<std::pair<std::string, std::string>> cgi_environment(const Outgoing& request);

}  // namespace kiva::testing
