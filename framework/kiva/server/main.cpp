// The worker's main: reads the configuration, loads the framework's and the application's
// named queries, declares the API and serves until stopped. `--help` lists every option.

#include "kiva/server/main.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <exception>
#include <iostream>
#include <map>
#include <memory>
#include <string>

#include "kiva/app/openapi.hpp"
#include "kiva/app/operations.hpp"
#include "kiva/core/config.hpp"
#include "kiva/core/config_table.hpp"
#include "kiva/core/log.hpp"
#include "kiva/db/query_file.hpp"
#include "kiva/db/typed.hpp"
#include "kiva/observe/metrics.hpp"
#include "kiva/security/framework_queries.hpp"
#include "kiva/server/jobs_main.hpp"
#include "kiva/server/server.hpp"

extern char** environ;

namespace {

void usage() {
    std::cout << "usage: kiva [--config FILE] [--check] [--routes] [--openapi] [--config-table]\n"
                 "            [--jobs] [--version] [--help]\n\n"
                 "A FastCGI worker serving a JSON REST API from PostgreSQL.\n"
                 "  --config FILE   configuration file (default: $KIVA_CONFIG, else none)\n"
                 "  --check         load configuration, queries and routes, then exit\n"
                 "  --routes        print the routes and their authorization, then exit\n"
                 "  --openapi       print the OpenAPI 3.1 document of the routes, then exit\n"
                 "  --config-table  print the configuration keys as a markdown table (the docs')\n"
                 "  --jobs          run the application's jobs (jobs_threads workers), not requests\n"
                 "  --version       print kiva's version\n\n"
                 "Configuration keys (file: key = value; environment: KIVA_KEY overrides):\n"
              << kiva::config_help_table();
}

std::map<std::string, std::string> environment() {
    std::map<std::string, std::string> env;
    for (char** e = environ; *e; ++e) {
        std::string kv(*e);
        auto eq = kv.find('=');
        if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    return env;
}

}  // namespace

namespace kiva {

int main(int argc, char** argv, const Application& application) {
    std::string config_path;
    bool check_only = false, list_routes = false, print_openapi = false, jobs_mode = false;
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        if (arg == "--help" || arg == "-h") {
            usage();
            return 0;
        } else if (arg == "--version") {  // the framework's, from project() in CMakeLists.txt
            std::cout << "kiva " KIVA_VERSION "\n";
            return 0;
        } else if (arg == "--config-table") {
            std::cout << kiva::config_markdown_table();
            return 0;
        } else if (arg == "--config" && i + 1 < argc) {
            config_path = argv[++i];
        } else if (arg.rfind("--config=", 0) == 0) {
            config_path = arg.substr(9);
        } else if (arg == "--check") {
            check_only = true;
        } else if (arg == "--routes") {
            list_routes = true;
        } else if (arg == "--openapi") {
            print_openapi = true;
        } else if (arg == "--jobs") {
            jobs_mode = true;
        } else {
            std::cerr << "kiva: unknown argument " << arg << " (see --help)\n";
            return 2;
        }
    }
    if (config_path.empty())
        if (const char* from_env = std::getenv("KIVA_CONFIG")) config_path = from_env;

    kiva::Config config;
    try {
        if (!config_path.empty()) config = kiva::load_config_file(config_path);
        kiva::apply_env(config, environment());
        // The document needs no database nor secret: it is made from the route table alone.
        if (print_openapi) {
            config.test_mode = true;
            config.log_level = kiva::LogLevel::off;
        }
        else kiva::validate(config);
    } catch (const std::exception& e) {
        std::cerr << "kiva: configuration error: " << e.what() << "\n";
        return 2;
    }
    kiva::Logger log(config.log_level, config.log_name.empty() ? config.app_name : config.log_name,
                     config.log_format);
    try {
        kiva::App app(config, log);
        application.declare(app);
        // The counters exist before any fork, so that prefork children share them.
        std::unique_ptr<kiva::observe::Metrics> metrics;
        kiva::observe::operations_routes(app.routes(), config, config.metrics ? &metrics : nullptr);
        if (!config.docs_dir.empty()) app.publish_docs(kiva::resolve_path(config, config.docs_dir));
        app.check();
        if (print_openapi) {  // needs neither the queries file nor the database
            std::cout << app.openapi();
            return 0;
        }
        if (list_routes) {
            for (const auto& e : app.table().entries())
                std::printf("%-7s %-24s %s\n", e.method.c_str(), e.pattern.text().c_str(),
                            kiva::describe_authorization(e.data.authorize).c_str());
            return 0;
        }
        auto queries = kiva::db::load_queries(kiva::resolve_path(config, config.queries),
                                              application.queries, application.first_query);
        // A jobs worker counts in the instance's metrics file, where /metrics finds its counts.
        if (config.metrics && !check_only && !list_routes &&
            (!jobs_mode || !config.metrics_file.empty())) {
            try {
                metrics = kiva::observe::make_metrics(config.metrics_file, app.table(), queries,
                                                      app.jobs().names());
            } catch (const std::exception& e) {  // serving matters more than counting
                log.error(std::string(e.what()) + ": /metrics counts this process only");
                metrics = kiva::observe::make_metrics("", app.table(), queries,
                                                      app.jobs().names());
            }
        }
        app.observe(metrics.get());
        if (check_only) {
            std::cout << "kiva: configuration, " << queries.queries().size() << " queries and "
                      << app.table().entries().size() << " routes are fine\n";
            return 0;
        }
        if (jobs_mode) return kiva::run_jobs(config, app, queries, log, metrics.get());
        kiva::Server server(config, app, queries, log);
        server.observe(metrics.get());
        return server.run();
    } catch (const std::exception& e) {
        log.error(std::string("cannot start: ") + e.what());
        return 2;
    }
}

}  // namespace kiva
