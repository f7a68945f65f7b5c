#include "kiva/testing/environment.hpp"

#include <cstdlib>
#include <stdexcept>

#include "kiva/security/framework_queries.hpp"
#include "kiva/testing/in_process.hpp"
#include "kiva/testing/remote.hpp"

namespace kiva::testing {

namespace {

std::optional<std::string> variable(const char* name) {
    const char* value = std::getenv(name);
    if (!value || !*value) return std::nullopt;
    return std::string(value);
}

}  // namespace

Environment::Environment(Setup setup) : setup_(std::move(setup)) {
    if (auto url = variable("KIVA_TEST_URL")) {
        url_ = parse_url(*url);
        tls_.ca_file = variable("KIVA_TEST_CA").value_or("");
        tls_.verify = variable("KIVA_TEST_INSECURE").value_or("0") != "1";
        if (auto seconds = variable("KIVA_TEST_TIMEOUT"))
            timeout_ = std::chrono::milliseconds(static_cast<long>(std::stod(*seconds) * 1000));
        return;
    }
    config_.test_mode = true;  // a random token secret, no secret file needed
    config_.password_cost = 4;
    config_.log_level = LogLevel::error;  // a 500's cause is shown
    config_.app_name = "kiva-testing";
    config_.queries = setup_.queries_file;
    if (setup_.configure) setup_.configure(config_);
    log_ = std::make_unique<Logger>(config_.log_level, config_.app_name);
    app_ = std::make_unique<App>(config_, *log_);
    setup_.declare(*app_);
    app_->check();
    queries_.emplace(db::load_queries(setup_.queries_file, setup_.queries, setup_.first_query));
    std::string framework_sql = variable("KIVA_SQL_DIR").value_or(setup_.framework_sql);
    std::vector<std::string> files;
    if (!framework_sql.empty()) files.push_back(framework_sql + "/create.sql");
    files.insert(files.end(), setup_.schema.begin(), setup_.schema.end());
    server_ = std::make_unique<Postgres>(variable("KIVA_TEST_DATABASE"));
    schema_ = std::make_unique<SchemaTemplate>(*server_, files);
}

Environment::~Environment() = default;

Client Environment::client() const {
    if (url_) return Client(std::make_unique<Remote>(*url_, tls_, timeout_), setup_.client);
    return Client(std::make_unique<InProcess>(*app_, *queries_, *server_, *schema_, *log_),
                  setup_.client);
}

}  // namespace kiva::testing
