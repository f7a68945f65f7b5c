// kiva-admin: production user management outside the HTTP API, run on the application
// server as the worker's user (its configuration, its .pgpass):
//   kiva-admin --config conf/kiva.conf create-user LOGIN [--admin] --password-file FILE|-
// The password is hashed with the worker's own password_scheme and cost (configuration file and
// KIVA_* overrides, as the worker reads them) and inserted with a parameterized statement.
// libpq directly, apart from the API's queries: one statement, in its own transaction.
//   kiva-admin --config conf/kiva.conf jobs list [--state STATE] [--limit N] | show ID | retry ID | cancel ID
// The job queue (docs/jobs.md), with the framework's typed queries.

#include "kiva/security/argon2id.hpp"
#include "kiva/security/auth/password.hpp"
#include "kiva/core/config.hpp"
#include "kiva/core/json.hpp"
#include "kiva/core/log.hpp"
#include "kiva/core/values.hpp"
#include "kiva/db/database.hpp"
#include "kiva/security/framework_queries.hpp"
#include "kiva/security/queries.hpp"

#include <libpq-fe.h>

#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unistd.h>

extern char** environ;

namespace {

void print_usage(std::ostream& out) {
    out << "usage: kiva-admin --config FILE create-user LOGIN [--admin] --password-file FILE|-\n"
           "\n"
           "Creates a user of the worker's database (the first admin of a new instance).\n"
           "The password is read from the first line of FILE, or of standard input with '-'\n"
           "(never from the command line), and hashed with the configuration's password_scheme (and cost).\n"
           "Run it as the worker's user, which has the database password (~/.pgpass).\n"
           "\n"
           "  --config FILE        the worker's configuration (conf/kiva.conf)\n"
           "  --admin              the user is in the group ADMIN\n"
           "  --password-file F    where the password is read, '-' for standard input\n"
           "  --help               print this help\n"
           "\n"
           "Exit status: 0 created, 1 refused or failed (message on standard error), 2 usage.\n"
           "\n"
           "       kiva-admin --config FILE jobs list [--state STATE] [--limit N]\n"
           "       kiva-admin --config FILE jobs show|retry|cancel ID\n"
           "\n"
           "The job queue: list the latest jobs (tab-separated: id, name, state, attempts/max,\n"
           "user, run at, last error), show one as JSON, queue a failed or cancelled one again\n"
           "(attempts anew), cancel a queued one. Exit status: 0 done, 1 no such job in that\n"
           "state or failed, 2 usage.\n";
}

struct Options {
    std::string config;
    std::string login;
    std::string password_file;
    bool admin = false;
};

std::optional<Options> parse_args(int argc, char* argv[]) {
    Options o;
    bool command = false;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) throw std::invalid_argument(std::string(arg) + " needs a value");
            return argv[++i];
        };
        if (arg == "--config") o.config = value();
        else if (arg == "--password-file") o.password_file = value();
        else if (arg == "--admin") o.admin = true;
        else if (arg == "create-user" && !command) command = true;
        else if (command && o.login.empty() && !arg.starts_with("-")) o.login = arg;
        else throw std::invalid_argument("unexpected argument " + std::string(arg));
    }
    if (!command) throw std::invalid_argument("no command (create-user)");
    if (o.config.empty()) throw std::invalid_argument("--config FILE is required");
    if (o.login.empty()) throw std::invalid_argument("create-user needs a LOGIN");
    if (o.password_file.empty())
        throw std::invalid_argument("--password-file FILE (or - for standard input) is required");
    return o;
}

std::map<std::string, std::string> environment() {
    std::map<std::string, std::string> env;
    for (char** e = environ; *e; ++e) {
        const std::string_view kv(*e);
        const auto eq = kv.find('=');
        if (eq != std::string_view::npos)
            env.emplace(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
    }
    return env;
}

/// A login as the API accepts it in practice: printable, no spaces or ':', 1 to 64 bytes
/// (':' would make it unusable with Basic authentication).
void check_login(std::string_view login) {
    if (login.size() > 64) throw std::runtime_error("the login is longer than 64 characters");
    for (const char c : login)
        if (static_cast<unsigned char>(c) <= ' ' || c == ':' || c == 0x7f)
            throw std::runtime_error("the login must not contain spaces, ':' or control characters");
}

std::string read_password(const std::string& file) {
    std::string line;
    if (file == "-") {
        std::getline(std::cin, line);
    } else {
        std::ifstream in(file);
        if (!in) throw std::runtime_error("cannot read the password file " + file);
        std::getline(in, line);
    }
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.size() < 8) throw std::runtime_error("the password has fewer than 8 characters");
    return line;
}

using Connection = std::unique_ptr<PGconn, decltype(&PQfinish)>;
using Result = std::unique_ptr<PGresult, decltype(&PQclear)>;

/// Runs one statement with text parameters; throws with the server's message on failure.
Result exec(PGconn* conn, const char* sql, std::initializer_list<const char*> params) {
    Result r(PQexecParams(conn, sql, static_cast<int>(params.size()), nullptr, params.begin(),
                          nullptr, nullptr, 0),
             &PQclear);
    const auto status = PQresultStatus(r.get());
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
        const char* state = PQresultErrorField(r.get(), PG_DIAG_SQLSTATE);
        if (state && std::string_view(state) == "23505")
            throw std::runtime_error("a user with this login already exists");
        throw std::runtime_error(PQresultErrorMessage(r.get()));
    }
    return r;
}

void create_user(const kiva::Config& config, const Options& o, const std::string& password) {
    // The worker's scheme for new hashes (password_scheme), with its parameters.
    const std::string hash =
        config.password_scheme == "argon2id"
            ? kiva::security::argon2id_hash(password, {config.argon2_memory_kib, config.argon2_passes,
                                                      config.argon2_lanes})
            : kiva::auth::hash_password(password, config.password_cost);
    Connection conn(PQconnectdb(config.database.c_str()), &PQfinish);
    if (PQstatus(conn.get()) != CONNECTION_OK)
        throw std::runtime_error("cannot connect to the database: " +
                                 std::string(PQerrorMessage(conn.get())));
    // The audit trail records who: this tool and the unix account that ran it.
    const std::string who = "kiva-admin:" + std::to_string(geteuid());
    exec(conn.get(), "BEGIN", {});
    exec(conn.get(), "SELECT set_config('kiva.login', $1, true)", {who.c_str()});
    exec(conn.get(), "INSERT INTO Utilisateur(login, pword, isAdmin) VALUES ($1, $2, $3)",
         {o.login.c_str(), hash.c_str(), o.admin ? "true" : "false"});
    exec(conn.get(), "COMMIT", {});
}

/// kiva-admin --config FILE jobs ...: the job queue through the framework's typed queries.
int jobs_command(int argc, char* argv[]) {
    std::string config_path, command, state;
    std::optional<int64_t> id;
    int64_t limit = 50;
    try {
        for (int i = 1; i < argc; ++i) {
            const std::string_view arg = argv[i];
            auto value = [&]() -> std::string {
                if (i + 1 >= argc) throw std::invalid_argument(std::string(arg) + " needs a value");
                return argv[++i];
            };
            auto number = [](const std::string& text) {
                std::size_t used = 0;
                int64_t n = std::stoll(text, &used);
                if (used != text.size() || n < 1) throw std::invalid_argument("not a positive number: " + text);
                return n;
            };
            if (arg == "--config") config_path = value();
            else if (arg == "--state") state = value();
            else if (arg == "--limit") limit = number(value());
            else if (arg == "jobs" && command.empty()) command = "jobs";
            else if (command == "jobs" && (arg == "list" || arg == "show" || arg == "retry" || arg == "cancel"))
                command = arg;
            else if (!command.empty() && command != "jobs" && command != "list" && !id) id = number(std::string(arg));
            else throw std::invalid_argument("unexpected argument " + std::string(arg));
        }
        if (config_path.empty()) throw std::invalid_argument("--config FILE is required");
        if (command == "jobs") throw std::invalid_argument("jobs needs list, show, retry or cancel");
        if (command != "list" && !id) throw std::invalid_argument("jobs " + command + " needs an ID");
    } catch (const std::exception& e) {
        std::cerr << "kiva-admin: " << e.what() << "\n";
        print_usage(std::cerr);
        return 2;
    }
    try {
        kiva::Config config = kiva::load_config_file(config_path);
        kiva::apply_env(config, environment());
        kiva::validate(config);
        kiva::Logger log(kiva::LogLevel::warning, "kiva-admin");
        const kiva::db::QueryFile queries = kiva::db::framework_queries();
        kiva::db::Database db(queries, config.database, "kiva-admin", log,
                              {config.db_connect_timeout, config.db_statement_timeout});
        db.set_login("kiva-admin:" + std::to_string(geteuid()));
        kiva::db::FrameworkQueries q(db);
        if (command == "list") {
            std::optional<std::string> only;
            if (!state.empty()) only = state;
            for (const auto& j : q.list_jobs(only, limit).all())
                std::cout << j.id << "\t" << j.name << "\t" << j.state << "\t" << j.attempts << "/"
                          << j.max_attempts << "\t" << j.enqueued_by.value_or("-") << "\t"
                          << j.run_at.value_or("-") << "\t" << j.last_error.value_or("") << "\n";
        } else if (command == "show") {
            auto j = q.get_job(*id);
            if (!j) throw std::runtime_error("no job " + std::to_string(*id));
            std::string payload = j->payload.value_or("null"), result = j->result.value_or("null");
            std::cout << kiva::js::serialize(kiva::js::object{
                             {"id", j->id}, {"name", j->name}, {"state", j->state},
                             {"attempts", j->attempts}, {"max_attempts", j->max_attempts},
                             {"priority", j->priority}, {"payload", kiva::js::Raw{payload}},
                             {"result", kiva::js::Raw{result}}, {"error", j->last_error},
                             {"user", j->enqueued_by}, {"request_id", j->request_id},
                             {"unique_key", j->unique_key}, {"created_at", j->created_at},
                             {"run_at", j->run_at}, {"finished_at", j->finished_at}})
                      << "\n";
        } else {
            int64_t n = command == "retry" ? q.retry_job(*id) : q.cancel_job(*id);
            db.finish(true);
            if (n == 0)
                throw std::runtime_error("no job " + std::to_string(*id) +
                                         (command == "retry" ? " that is failed or cancelled"
                                                             : " that is queued"));
            std::cout << "kiva-admin: job " << *id << (command == "retry" ? " queued again" : " cancelled")
                      << "\n";
        }
        db.finish(true);
    } catch (const std::exception& e) {
        std::cerr << "kiva-admin: " << e.what() << "\n";
        return 1;
    }
    return 0;
}

}  // namespace

int main(int argc, char* argv[]) {
    for (int i = 1; i < argc; ++i)
        if (std::string_view(argv[i]) == "--help" || std::string_view(argv[i]) == "-h") {
            print_usage(std::cout);
            return 0;
        }
    for (int i = 1; i < argc; ++i)
        if (std::string_view(argv[i]) == "jobs") return jobs_command(argc, argv);
    std::optional<Options> options;
    try {
        options = parse_args(argc, argv);
    } catch (const std::invalid_argument& e) {
        std::cerr << "kiva-admin: " << e.what() << "\n";
        print_usage(std::cerr);
        return 2;
    }
    try {
        kiva::Config config = kiva::load_config_file(options->config);
        kiva::apply_env(config, environment());
        kiva::validate(config);
        check_login(options->login);
        create_user(config, *options, read_password(options->password_file));
    } catch (const std::exception& e) {
        std::cerr << "kiva-admin: " << e.what() << "\n";
        return 1;
    }
    std::cout << "kiva-admin: created " << (options->admin ? "admin " : "user ") << options->login
              << "\n";
    return 0;
}
