#include "kiva/core/config.hpp"

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

using namespace std::chrono_literals;
using kiva::Config;
using kiva::parse_config;

namespace {

/// parse_config must throw std::runtime_error whose message contains every one of the parts.
void check_error(std::string_view text, std::initializer_list<std::string_view> parts) {
    try {
        parse_config(text, "/etc/kiva/kiva.conf");
        BOOST_ERROR("no error for: " << text);
    } catch (const std::runtime_error& e) {
        std::string what = e.what();
        for (auto part : parts)
            BOOST_TEST(what.find(part) != std::string::npos,
                       "\"" << what << "\" lacks \"" << part << "\"");
    }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(config)

// ---------------------------------------------------------------- the file

BOOST_AUTO_TEST_CASE(defaults) {
    Config c;
    BOOST_TEST(c.app_name == "kiva");
    BOOST_TEST(c.threads == 4);
    BOOST_TEST(c.body_limit == 1048576u);
    BOOST_TEST((c.auth == std::vector<std::string>{"basic", "token"}));
    BOOST_TEST(c.test_mode == false);
}

BOOST_AUTO_TEST_CASE(database_timeouts) {
    Config c;
    BOOST_TEST(c.db_connect_timeout.count() == 5);
    BOOST_TEST(c.db_statement_timeout.count() == 30000);
    BOOST_TEST(parse_config("db_statement_timeout = 0\n", "f").db_statement_timeout.count() == 0);
    check_error("db_connect_timeout = 0\n", {"kiva.conf:1", "at least 1s"});
}

BOOST_AUTO_TEST_CASE(end_of_line_comments) {
    Config c =
        parse_config("threads = 8 # eight\napp_name = \"a # b\" # quoted\nrealm = x#y\n", "f.conf");
    BOOST_TEST(c.threads == 8);
    BOOST_TEST(c.app_name == "a # b");
    BOOST_TEST(c.realm == "x#y");  // no space before '#': part of the value
}

BOOST_AUTO_TEST_CASE(parses_every_option) {
    Config c = parse_config(
        "# a comment\n"
        "\n"
        "   # an indented comment\n"
        "app_name = demo\n"
        "database = \"host=/run/postgresql dbname=kiva user=kiva\"\n"
        "queries=q.sql\n"
        "db_connect_timeout = 3s\n"
        "db_statement_timeout = 250ms\n"
        "listen = unix:/run/kiva/kiva.sock\n"
        "socket_mode = 0600\n"
        "threads = 8\n"
        "processes = 2\n"
        "body_limit = 64K\n"
        "log_level = debug\n"
        "log_name = kiva-prod\n"
        "stop_timeout = 5m\n"
        "realm = Realm\n"
        "auth = basic , token,param,\n"
        "token_type = jwt\n"
        "token_delay = 1h\n"
        "token_secret_file = secret.txt\n"
        "token_secret_env = KIVA_SECRET\n"
        "password_cost = 12\n"
        "password_cache_ttl = 0\n"
        "test_mode = yes\n",
        "/etc/kiva/kiva.conf");
    BOOST_TEST(c.source == "/etc/kiva/kiva.conf");
    BOOST_TEST(c.app_name == "demo");
    BOOST_TEST(c.database == "host=/run/postgresql dbname=kiva user=kiva");
    BOOST_TEST(c.queries == "q.sql");
    BOOST_TEST(c.db_connect_timeout.count() == 3);
    BOOST_TEST(c.db_statement_timeout.count() == 250);
    BOOST_TEST(c.listen == "unix:/run/kiva/kiva.sock");
    BOOST_TEST(c.socket_mode == 0600);
    BOOST_TEST(c.threads == 8);
    BOOST_TEST(c.processes == 2);
    BOOST_TEST(c.body_limit == 65536u);
    BOOST_TEST((c.log_level == kiva::LogLevel::debug));
    BOOST_TEST(c.log_name == "kiva-prod");
    BOOST_TEST(c.stop_timeout.count() == 300);
    BOOST_TEST(c.realm == "Realm");
    BOOST_TEST((c.auth == std::vector<std::string>{"basic", "token", "param"}));
    BOOST_TEST(c.token_type == "jwt");
    BOOST_TEST(c.token_delay.count() == 3600);
    BOOST_TEST(c.token_secret_file == "secret.txt");
    BOOST_TEST(c.token_secret_env == "KIVA_SECRET");
    BOOST_TEST(c.password_cost == 12);
    BOOST_TEST(c.password_cache_ttl.count() == 0);
    BOOST_TEST(c.test_mode);
}

BOOST_AUTO_TEST_CASE(quotes_keep_spaces_and_hashes) {
    Config c = parse_config(
        "realm = \"  spaced # not a comment \"\napp_name=\"x\"\nlisten = \"\"\n", "k.conf");
    BOOST_TEST(c.realm == "  spaced # not a comment ");
    BOOST_TEST(c.app_name == "x");
    BOOST_TEST(c.listen == "");
    // A lone quote is not a quoted value.
    BOOST_TEST(parse_config("realm = \"\n", "k.conf").realm == "\"");
}

BOOST_AUTO_TEST_CASE(crlf_and_missing_final_newline) {
    Config c = parse_config("threads = 2\r\nprocesses = 3", "k.conf");
    BOOST_TEST(c.threads == 2);
    BOOST_TEST(c.processes == 3);
}

BOOST_AUTO_TEST_CASE(base_values_are_kept) {
    Config base;
    base.threads = 3;
    base.database = "dbname=base";
    Config c = parse_config("processes = 5\n", "k.conf", base);
    BOOST_TEST(c.threads == 3);
    BOOST_TEST(c.database == "dbname=base");
    BOOST_TEST(c.processes == 5);
}

BOOST_AUTO_TEST_CASE(unknown_key_names_file_and_line) {
    check_error("# comment\n\nbogus = 1\n",
                {"/etc/kiva/kiva.conf:3: ", "unknown option \"bogus\""});
    check_error("Threads = 1\n", {"kiva.conf:1: ", "unknown option"});  // keys are case-sensitive
}

BOOST_AUTO_TEST_CASE(bad_lines_and_values) {
    check_error("threads\n", {"kiva.conf:1: ", "expected key = value"});
    check_error("\n\nthreads = 0\n", {"kiva.conf:3: ", "threads"});
    check_error("threads = 257\n", {"kiva.conf:1: ", "threads"});
    check_error("threads = four\n", {"kiva.conf:1: "});
    check_error("threads = 4x\n", {"kiva.conf:1: "});
    check_error("processes = -1\n", {"kiva.conf:1: "});
    check_error("body_limit = 1.5M\n", {"kiva.conf:1: "});
    check_error("log_level = loud\n", {"kiva.conf:1: ", "log_level"});
    check_error("stop_timeout = 5 minutes\n", {"kiva.conf:1: "});
    check_error("auth = basic,kerberos\n", {"kiva.conf:1: ", "kerberos"});
    check_error("token_type = rsa\n", {"kiva.conf:1: ", "token_type"});
    check_error("token_delay = 1w\n", {"kiva.conf:1: "});
    check_error("password_cost = 3\n", {"kiva.conf:1: ", "password_cost"});
    check_error("password_cost = 32\n", {"kiva.conf:1: ", "password_cost"});
    check_error("socket_mode = 0999\n", {"kiva.conf:1: ", "socket_mode"});
    check_error("socket_mode = 01777\n", {"kiva.conf:1: ", "socket_mode"});
    check_error("test_mode = maybe\n", {"kiva.conf:1: "});
    check_error("app_name = \n", {"kiva.conf:1: ", "app_name"});
    check_error("app_name = \"\"\n", {"kiva.conf:1: ", "app_name"});
}

BOOST_AUTO_TEST_CASE(every_documented_option_is_known) {
    for (const auto& option : kiva::config_keys()) {
        BOOST_TEST_CONTEXT("option " << option.name) {
            BOOST_TEST(!option.help.empty());
            Config c;
            try {
                kiva::set_option(c, option.name, "");
            } catch (const std::invalid_argument& e) {
                // An empty value may be refused, but never as an unknown option.
                BOOST_TEST(std::string(e.what()).find("unknown option") == std::string::npos);
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(load_missing_file) {
    BOOST_CHECK_THROW(kiva::load_config_file("/nonexistent/kiva.conf"), std::runtime_error);
}

BOOST_AUTO_TEST_CASE(validate_cross_checks) {
    Config c;
    BOOST_CHECK_THROW(kiva::validate(c), std::runtime_error);  // no database
    c.database = "dbname=kiva";
    BOOST_CHECK_NO_THROW(kiva::validate(c));
    c.auth.clear();
    BOOST_CHECK_THROW(kiva::validate(c), std::runtime_error);
}

// ---------------------------------------------------------------- the environment

BOOST_AUTO_TEST_CASE(env_names) {
    BOOST_TEST(kiva::env_name("threads") == "KIVA_THREADS");
    BOOST_TEST(kiva::env_name("body_limit") == "KIVA_BODY_LIMIT");
    BOOST_TEST(kiva::env_name("token_secret_env") == "KIVA_TOKEN_SECRET_ENV");
}

BOOST_AUTO_TEST_CASE(apply_env_overrides) {
    Config c = parse_config("threads = 2\nlog_level = info\n", "k.conf");
    kiva::apply_env(c, {{"KIVA_THREADS", "16"},
                        {"KIVA_LOG_LEVEL", "off"},
                        {"KIVA_DATABASE", "dbname=x"},
                        {"KIVA_BODY_LIMIT", "2M"},
                        {"KIVA_TEST_MODE", "true"},
                        {"KIVA_UNKNOWN", "ignored"},
                        {"threads", "99"},  // not a KIVA_ name
                        {"PATH", "/bin"}});
    BOOST_TEST(c.threads == 16);
    BOOST_TEST((c.log_level == kiva::LogLevel::off));
    BOOST_TEST(c.database == "dbname=x");
    BOOST_TEST(c.body_limit == 2u * 1024 * 1024);
    BOOST_TEST(c.test_mode);
}

BOOST_AUTO_TEST_CASE(apply_env_bad_value_names_the_variable) {
    Config c;
    try {
        kiva::apply_env(c, {{"KIVA_THREADS", "lots"}});
        BOOST_ERROR("no error");
    } catch (const std::runtime_error& e) {
        BOOST_TEST(std::string(e.what()).substr(0, 14) == "KIVA_THREADS: ");
    }
    BOOST_TEST(c.threads == 4);
}

// ---------------------------------------------------------------- sizes, durations, paths

BOOST_AUTO_TEST_CASE(sizes) {
    BOOST_TEST(kiva::parse_size("0") == 0u);
    BOOST_TEST(kiva::parse_size("1048576") == 1048576u);
    BOOST_TEST(kiva::parse_size("64K") == 65536u);
    BOOST_TEST(kiva::parse_size("64k") == 65536u);
    BOOST_TEST(kiva::parse_size("1M") == 1048576u);
    BOOST_TEST(kiva::parse_size("2G") == 2ull * 1024 * 1024 * 1024);
    BOOST_TEST(kiva::parse_size(" 10 ") == 10u);
    for (const char* bad : {"", "K", "-1", "1.5M", "1T", "1 M", "M1", "0x10", "99999999999"}) {
        BOOST_TEST_CONTEXT("size \"" << bad << "\"") {
            BOOST_CHECK_THROW(kiva::parse_size(bad), std::invalid_argument);
        }
    }
}

BOOST_AUTO_TEST_CASE(durations) {
    BOOST_TEST(kiva::parse_duration("3600").count() == 3600);
    BOOST_TEST(kiva::parse_duration("90s").count() == 90);
    BOOST_TEST(kiva::parse_duration("5m").count() == 300);
    BOOST_TEST(kiva::parse_duration("1h").count() == 3600);
    BOOST_TEST(kiva::parse_duration("1d").count() == 86400);
    BOOST_TEST(kiva::parse_duration("0").count() == 0);
    BOOST_TEST((kiva::parse_duration(" 2h ") == 7200s));
    for (const char* bad : {"", "s", "5x", "5M", "5H", "1w", "-1s", "1.5h", "h1", "5 m"}) {
        BOOST_TEST_CONTEXT("duration \"" << bad << "\"") {
            BOOST_CHECK_THROW(kiva::parse_duration(bad), std::invalid_argument);
        }
    }
}

BOOST_AUTO_TEST_CASE(paths_resolve_against_the_config_file) {
    Config c;
    c.source = "/etc/kiva/kiva.conf";
    BOOST_TEST(kiva::resolve_path(c, "sql/queries.sql") == "/etc/kiva/sql/queries.sql");
    BOOST_TEST(kiva::resolve_path(c, "/abs/q.sql") == "/abs/q.sql");
    BOOST_TEST(kiva::resolve_path(c, "") == "");
    c.source = "kiva.conf";  // in the current directory
    BOOST_TEST(kiva::resolve_path(c, "q.sql") == "q.sql");
    c.source = "conf/kiva.conf";
    BOOST_TEST(kiva::resolve_path(c, "q.sql") == "conf/q.sql");
    c.source.clear();
    BOOST_TEST(kiva::resolve_path(c, "q.sql") == "q.sql");
}

BOOST_AUTO_TEST_SUITE_END()
