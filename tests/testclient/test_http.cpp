// The URL mode's HTTP client without an application: answers parsed (sized, chunked, none),
// https against `openssl s_server` with its own certificate (checked, refused, or not
// checked), and a server that never answers costs the timeout, no more.
#include <boost/test/unit_test.hpp>

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <thread>

#include "kiva/testing/http_client.hpp"
#include "kiva/testing/process.hpp"

using namespace kiva::testing;
using namespace std::chrono_literals;

namespace {

/// A listening loopback socket on a free port (closed by the destructor).
struct Listener {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int port = 0;
    Listener() {
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t length = sizeof a;
        if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(fd, 4) != 0 ||
            getsockname(fd, reinterpret_cast<sockaddr*>(&a), &length) != 0)
            throw std::runtime_error("cannot listen on loopback");
        port = ntohs(a.sin_port);
    }
    ~Listener() { close(fd); }
};

/// openssl s_server -www on a free port with a fresh self-signed certificate for localhost.
struct TlsServer {
    std::filesystem::path dir;
    int port = 0;
    pid_t pid = -1;
    TlsServer() {
        std::string pattern = (std::filesystem::temp_directory_path() / "kiva-tls.XXXXXX").string();
        if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp");
        dir = pattern;
        run({{"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
              "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", (dir / "key.pem").string(),
              "-out", cert(), "-days", "1", "-subj", "/CN=localhost", "-addext",
              "subjectAltName=DNS:localhost"},
             (dir / "openssl.log").string()},
            30s);
        port = Listener().port;  // free a moment ago: s_server takes it
        pid = spawn({{"openssl", "s_server", "-accept", "127.0.0.1:" + std::to_string(port),
                      "-cert", cert(), "-key", (dir / "key.pem").string(), "-www", "-quiet"},
                     (dir / "s_server.log").string()});
    }
    ~TlsServer() {
        if (pid > 0) {
            kill(pid, SIGTERM);
            wait_for(pid, 5s);
        }
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
    }
    std::string cert() const { return (dir / "cert.pem").string(); }
    Url url() const { return parse_url("https://localhost:" + std::to_string(port)); }
    /// The first answer, once the server listens (a few seconds at most).
    HttpAnswer first_answer(const Tls& tls) const {
        for (int attempt = 0;; ++attempt) {
            try {
                return http_send(url(), {"GET", "/", {}, {}}, 5s, tls);
            } catch (const std::runtime_error& e) {
                if (attempt > 100 ||
                    std::string(e.what()).find("cannot connect") == std::string::npos)
                    throw;
                std::this_thread::sleep_for(50ms);
            }
        }
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(testclient_http)

BOOST_AUTO_TEST_CASE(answers_are_parsed) {
    auto sized =
        parse_answer("HTTP/1.1 201 Created\r\nContent-Length: 2\r\nX-A:  b \r\n\r\n{}junk");
    BOOST_TEST(sized.status == 201);
    BOOST_TEST(sized.body == "{}");
    BOOST_TEST(sized.headers.at(1).second == "b");
    auto chunked = parse_answer(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: "
        "chunked\r\n\r\n3\r\n[1,\r\na\r\n2,3,4,5,6]\r\n0\r\n\r\n");
    BOOST_TEST(chunked.body == "[1,2,3,4,5,6]");
    BOOST_TEST(parse_answer("HTTP/1.1 204 No Content\r\n\r\n").body.empty());
    BOOST_TEST(parse_answer("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", true).body.empty());
    BOOST_CHECK_THROW(parse_answer("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab"),
                      std::runtime_error);
    BOOST_CHECK_THROW(parse_answer("garbage\r\n\r\n"), std::runtime_error);
    BOOST_CHECK_THROW(parse_answer("HTTP/1.1 200 OK\r\n"), std::runtime_error);
}

BOOST_AUTO_TEST_CASE(a_silent_server_costs_the_timeout) {
    Listener silent;  // accepts connections (backlog) and never answers
    auto url = parse_url("http://127.0.0.1:" + std::to_string(silent.port));
    auto start = std::chrono::steady_clock::now();
    BOOST_CHECK_THROW(http_send(url, {"GET", "/", {}, {}}, 300ms), std::runtime_error);
    auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - start);
    BOOST_TEST(took.count() < 3000);
}

BOOST_AUTO_TEST_CASE(https_checks_the_certificate) {
    TlsServer server;
    auto answer = server.first_answer(Tls{true, server.cert()});  // its own CA: accepted
    BOOST_TEST(answer.status == 200);
    BOOST_TEST(answer.body.find("s_server") != std::string::npos);
    BOOST_CHECK_THROW(http_send(server.url(), {"GET", "/", {}, {}}, 5s, Tls{}), std::runtime_error);
    BOOST_TEST(http_send(server.url(), {"GET", "/", {}, {}}, 5s, Tls{false, ""}).status == 200);
}

BOOST_AUTO_TEST_SUITE_END()
