// What observability adds elsewhere: request ids, log formats, its configuration keys, and the
// release string read from the binary's ELF section.

#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "kiva/http/request_id.hpp"
#include "kiva/observe/release.hpp"
#include "kiva/core/config.hpp"
#include "kiva/core/log.hpp"

using namespace std::chrono_literals;

BOOST_AUTO_TEST_SUITE(observe_options)

BOOST_AUTO_TEST_CASE(request_id_prefers_a_safe_client_id_then_the_front_end) {
    using kiva::Request;
    Request both(Request::Env{{"HTTP_X_REQUEST_ID", "client-1:a.b"}, {"REQUEST_ID", "nginx0123"}});
    BOOST_TEST(kiva::request_id_of(both) == "client-1:a.b");
    Request unsafe(
        Request::Env{{"HTTP_X_REQUEST_ID", "a b\r\nX-Evil: 1"}, {"REQUEST_ID", "nginx0123"}});
    BOOST_TEST(kiva::request_id_of(unsafe) == "nginx0123");
    Request too_long(
        Request::Env{{"HTTP_X_REQUEST_ID", std::string(65, 'a')}, {"UNIQUE_ID", "Zapache@1"}});
    BOOST_TEST(kiva::request_id_of(too_long) == "Zapache@1");
    BOOST_TEST(kiva::is_safe_request_id(std::string(64, 'a')));
    BOOST_TEST(!kiva::is_safe_request_id(""));
    BOOST_TEST(!kiva::is_safe_request_id("caf\xc3\xa9"));
    Request none;
    std::set<std::string> made;
    for (int i = 0; i < 100; ++i) made.insert(kiva::request_id_of(none));
    BOOST_TEST(made.size() == 100u);
    BOOST_TEST(made.begin()->size() == 32u);
}

BOOST_AUTO_TEST_CASE(configuration_keys) {
    kiva::Config c = kiva::parse_config(
        "log_format = json\nlog_requests = off\nslow_request = 250ms\nslow_query = 1s\n"
        "metrics = false\nmetrics_file = /run/kiva/m\nhealth_timeout = 500\n",
        "t.conf");
    BOOST_TEST((c.log_format == kiva::LogFormat::json));
    BOOST_TEST(!c.log_requests);
    BOOST_TEST(c.slow_request.count() == 250);
    BOOST_TEST(c.slow_query.count() == 1000);
    BOOST_TEST(!c.metrics);
    BOOST_TEST(c.metrics_file == "/run/kiva/m");
    BOOST_TEST(c.health_timeout.count() == 500);
    kiva::Config d;
    BOOST_TEST(d.metrics);
    BOOST_TEST(d.log_requests);
    BOOST_CHECK_THROW(kiva::parse_config("log_format = xml\n", "t.conf"), std::runtime_error);
    BOOST_CHECK_THROW(kiva::parse_config("health_timeout = 0\n", "t.conf"), std::runtime_error);
    BOOST_CHECK_THROW(kiva::parse_config("slow_query = fast\n", "t.conf"), std::runtime_error);
}

BOOST_AUTO_TEST_CASE(json_access_line_is_one_object_without_the_query_string) {
    kiva::Logger log(kiva::LogLevel::info, "kiva", kiva::LogFormat::json);
    kiva::AccessEntry e{"rid-1", "", "GET", "/stuff/<sid:int>", "/stuff/1\"\n", 200, 1.5};
    std::string line = log.access_line(e);
    BOOST_TEST(line.front() == '{');
    BOOST_TEST(line.substr(line.size() - 2) == "}\n");
    BOOST_TEST(line.find("\"request_id\":\"rid-1\"") != std::string::npos);
    BOOST_TEST(line.find("\"login\":null") != std::string::npos);
    BOOST_TEST(line.find("\"route\":\"/stuff/<sid:int>\"") != std::string::npos);
    BOOST_TEST(line.find("\"path\":\"/stuff/1\\\"\\\\x0a\"") != std::string::npos, line);
    BOOST_TEST(line.find("\"status\":200") != std::string::npos);
    BOOST_TEST(line.find("\"duration_ms\":1.500") != std::string::npos);
    BOOST_TEST(line.find('\n') == line.size() - 1);
    kiva::Logger text(kiva::LogLevel::info, "kiva");
    kiva::AccessEntry t{"rid-2", "calvin", "GET", "", "/nope", 404, 0.25};
    std::string plain = text.access_line(t);
    BOOST_TEST(plain.find(" INFO rid=rid-2 calvin GET /nope 404 0.250ms\n") != std::string::npos,
               plain);
}

BOOST_AUTO_TEST_CASE(release_is_read_from_the_elf_section) {
    // A copy of this test binary with the section make deploy adds (objcopy, from binutils).
    std::string dir =
        std::filesystem::temp_directory_path() / ("kiva-release-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir);
    std::ofstream(dir + "/VERSION") << "abc123 2026-01-01T00:00:00Z dev@host\n";
    std::string cmd = "objcopy --add-section .kiva.release=" + dir + "/VERSION" +
                      " --set-section-flags .kiva.release=noload,readonly /proc/" +
                      std::to_string(getpid()) + "/exe " + dir + "/with-release";
    BOOST_REQUIRE(std::system(cmd.c_str()) == 0);
    BOOST_TEST(kiva::observe::read_release_section(dir + "/with-release") ==
               "abc123 2026-01-01T00:00:00Z dev@host");
    BOOST_TEST(kiva::observe::read_release_section("/proc/self/exe") == "");
    BOOST_TEST(kiva::observe::release() == "dev");
    BOOST_TEST(kiva::observe::read_release_section(dir + "/VERSION") == "");  // not ELF
    std::filesystem::remove_all(dir);
}

BOOST_AUTO_TEST_SUITE_END()
