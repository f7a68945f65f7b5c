// kiva-admin: production user management outside the HTTP API, run on the application
// server as the worker's user (its configuration, its .pgpass):
//   kiva-admin --config conf/kiva.conf create-user LOGIN [--admin] --password-file FILE|-
// The password is hashed with the worker's own password_scheme and cost (configuration file and
// KIVA_* overrides, as the worker reads them) and inserted with a parameterized statement.
// libpq directly, apart from the API's queries: one statement, in its own transaction.

#include "kiva/security/argon2id.hpp"
#include "kiva/security/auth/password.hpp"
#include "kiva/core/config.hpp"

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
           "Exit status: 0 created, 1 refused or failed (message on standard error), 2 usage.\n";
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

}  // namespace

int main(int argc, char* argv[]) {
    for (int i = 1; i < argc; ++i)
        if (std::string_view(argv[i]) == "--help" || std::string_view(argv[i]) == "-h") {
            print_usage(std::cout);
            return 0;
        }
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
