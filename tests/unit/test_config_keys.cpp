// The declaration of the configuration keys (kiva/core/config_keys.cpp): names unique, defaults
// that read back as themselves, the exact messages of bad values, help that renders in
// markdown, and docs/configuration.md's table equal to the one the declaration makes.

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>

#include "kiva/core/config.hpp"
#include "kiva/core/config_table.hpp"

namespace {

/// The message parse_config gives for one line, without "file:line: ".
std::string error_of(const std::string& line) {
    try {
        kiva::parse_config(line + "\n", "k.conf");
    } catch (const std::runtime_error& e) {
        std::string what = e.what();
        return what.substr(what.find(": ") + 2);
    }
    return "(no error)";
}

/// Text outside `code` spans.
std::string outside_code(std::string_view text) {
    std::string out;
    bool code = false;
    for (char c : text) {
        if (c == '`')
            code = !code;
        else if (!code)
            out.push_back(c);
    }
    return out;
}

std::string docs_file() {
    auto path =
        std::filesystem::path(__FILE__).parent_path() / ".." / ".." / "docs" / "configuration.md";
    std::ifstream in(path);
    BOOST_REQUIRE_MESSAGE(in, "cannot read " << path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(config_keys)

BOOST_AUTO_TEST_CASE(names_are_unique_and_found) {
    std::set<std::string_view> names;
    for (const auto& k : kiva::config_keys()) {
        BOOST_TEST_CONTEXT("key " << k.name) {
            BOOST_TEST(names.insert(k.name).second, "declared twice");
            BOOST_TEST(k.name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") ==
                       std::string_view::npos);
            BOOST_TEST(kiva::find_config_key(k.name) == &k);
        }
    }
    BOOST_TEST(names.size() > 50u);
    BOOST_TEST(kiva::find_config_key("bogus") == nullptr);
    BOOST_TEST(kiva::find_config_key("source") == nullptr);  // a member, not a key
}

BOOST_AUTO_TEST_CASE(defaults_read_back_as_themselves) {
    // What the tables show as a default is a value the parser accepts, and means the default.
    const kiva::Config defaults;
    for (const auto& k : kiva::config_keys()) {
        BOOST_TEST_CONTEXT("key " << k.name) {
            std::string text = k.show(defaults);
            kiva::Config c = kiva::parse_config(std::string(k.name) + " = " + text + "\n", "k");
            BOOST_TEST(k.show(c) == text);
            kiva::Config other;
            other.app_name = "changed";
            k.reset(other);
            BOOST_TEST(k.show(other) == text);
        }
    }
}

BOOST_AUTO_TEST_CASE(defaults_as_shown) {
    auto shown = [](std::string_view name) {
        return kiva::default_value(*kiva::find_config_key(name));
    };
    BOOST_TEST(shown("body_limit") == "1M");
    BOOST_TEST(shown("db_statement_timeout") == "30s");
    BOOST_TEST(shown("slow_query") == "200ms");
    BOOST_TEST(shown("token_delay") == "1h");
    BOOST_TEST(shown("auth_lockout_max") == "15m");
    BOOST_TEST(shown("socket_mode") == "0660");
    BOOST_TEST(shown("argon2_memory") == "19M");
    BOOST_TEST(shown("auth") == "basic,token");
    BOOST_TEST(shown("log_level") == "info");
    BOOST_TEST(shown("test_mode") == "off");
    BOOST_TEST(shown("realm") == "");
    BOOST_TEST(kiva::empty_means(*kiva::find_config_key("realm")) == "app_name");
    BOOST_TEST(kiva::empty_means(*kiva::find_config_key("password_regex")) == "none");
    kiva::Config c;
    BOOST_TEST(c.argon2_memory_kib == 19456u);
    BOOST_TEST(c.socket_mode == 0660);
    BOOST_TEST(c.cache_timeout.count() == 50);
    BOOST_TEST((c.token_carrier == std::vector<std::string>{"bearer"}));
    BOOST_TEST(c.csrf_header == "X-Requested-With");
}

BOOST_AUTO_TEST_CASE(messages_of_bad_values) {
    BOOST_TEST(error_of("threads = 0") == "threads must be an integer from 1 to 256");
    BOOST_TEST(error_of("db_connect_timeout = 0") == "db_connect_timeout must be at least 1s");
    BOOST_TEST(error_of("health_timeout = 0") == "health_timeout must not be 0");
    BOOST_TEST(error_of("auth_lockout_delay = 0") == "auth_lockout_delay must not be 0");
    BOOST_TEST(error_of("cache_timeout = 6s") == "cache_timeout must be from 1ms to 5s");
    BOOST_TEST(error_of("argon2_memory = 4K") == "argon2_memory must be from 8K to 4G");
    BOOST_TEST(error_of("socket_mode = 8") == "socket_mode must be octal, e.g. 0660");
    BOOST_TEST(error_of("log_level = loud") ==
               "log_level must be debug, info, warning, error or off");
    BOOST_TEST(error_of("log_format = xml") == "log_format must be text or json");
    BOOST_TEST(error_of("token_type = rsa") == "token_type must be native or jwt");
    BOOST_TEST(error_of("password_scheme = md5") == "password_scheme must be bcrypt or argon2id");
    BOOST_TEST(error_of("auth = basic,kerberos") ==
               "unknown authentication scheme \"kerberos\" (basic, param, token, httpd)");
    BOOST_TEST(error_of("token_carrier = ,") == "token_carrier must list bearer, cookie or both");
    BOOST_TEST(error_of("token_carrier = header") ==
               "token_carrier lists bearer and/or cookie, not \"header\"");
    BOOST_TEST(error_of("cors_origins = *") ==
               "cors_origins lists exact origins such as https://app.example.com, not \"*\"");
    BOOST_TEST(error_of("csrf_header = X_Y") ==
               "csrf_header must be a header name (letters, digits, -)");
    BOOST_TEST(error_of("app_name = \"\"") == "app_name must not be empty");
    BOOST_TEST(error_of("test_mode = maybe") == "expected a boolean (true/false)");
    BOOST_TEST(error_of("token_delay = 1w") == "a duration ends with s, m, h or d");
    BOOST_TEST(error_of("cache = http://x") != "(no error)");  // the Redis URL's own message
}

BOOST_AUTO_TEST_CASE(values_kept_as_before) {
    kiva::Config c = kiva::parse_config(
        "log_level = warn\nargon2_memory = 64M\ncache_password_file = \" /run/p \"\n"
        "cache = \" redis://127.0.0.1:6379/0 \"\ncors_origins = https://a.example, http://b:3000\n"
        "socket_mode = 600\n",
        "k.conf");
    BOOST_TEST((c.log_level == kiva::LogLevel::warning));  // an alias
    BOOST_TEST(c.argon2_memory_kib == 65536u);
    BOOST_TEST(c.cache_password_file == "/run/p");  // trimmed inside quotes too
    BOOST_TEST(c.cache == "redis://127.0.0.1:6379/0");
    BOOST_TEST(c.cors_origins.size() == 2u);
    BOOST_TEST(c.socket_mode == 0600);
}

BOOST_AUTO_TEST_CASE(help_renders_in_markdown_and_a_terminal) {
    for (const auto& k : kiva::config_keys()) {
        BOOST_TEST_CONTEXT("key " << k.name) {
            std::string help(k.help);
            BOOST_TEST(!help.empty());
            BOOST_TEST(help.find('|') == std::string::npos);   // a table cell
            BOOST_TEST(help.find('\n') == std::string::npos);  // one line
            BOOST_TEST(std::count(help.begin(), help.end(), '`') % 2 == 0);
            std::string prose = outside_code(help) + outside_code(k.if_empty);
            BOOST_TEST(prose.find_first_of("<>*[]|") == std::string::npos, prose);
            BOOST_TEST(help.back() != '.');
            BOOST_TEST(k.see_title.empty() == k.see_page.empty());
        }
    }
    std::string help = kiva::config_help_table();
    BOOST_TEST(help.find('`') == std::string::npos);
    BOOST_TEST(std::count(help.begin(), help.end(), '\n') ==
               static_cast<long>(kiva::config_keys().size()));
    BOOST_TEST(help.find("\n  threads ") != std::string::npos);
    BOOST_TEST(help.find(" KIVA_THREADS ") != std::string::npos);
    BOOST_TEST(help.find("(4)\n") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(docs_table_is_the_generated_one) {
    // docs/configuration.md holds `kiva --config-table` between these two lines: regenerate it
    // with build/kiva --config-table when a key changes.
    const std::string begin = "<!-- generated by kiva --config-table: do not edit -->\n";
    const std::string end = "<!-- end of kiva --config-table -->\n";
    std::string docs = docs_file();
    auto from = docs.find(begin), to = docs.find(end);
    BOOST_REQUIRE(from != std::string::npos);
    BOOST_REQUIRE(to != std::string::npos);
    BOOST_TEST(docs.substr(from + begin.size(), to - from - begin.size()) ==
               kiva::config_markdown_table());
}

BOOST_AUTO_TEST_SUITE_END()
